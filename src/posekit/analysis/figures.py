"""Matplotlib figures of an analysis: error distributions, worst cases, head outputs, comparisons.

Every function returns a new :class:`matplotlib.figure.Figure` (not registered with pyplot, so
nothing is shown twice or kept alive): the last expression of a notebook cell displays it,
``fig.savefig(path)`` writes it.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

import cv2
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from posekit.analysis.keypoint_stats import normalised_errors, sample_oks
from posekit.analysis.predict import Predictions, SampleOutputs
from posekit.codecs import Codec, MSRAHeatmapCodec, SimCCCodec
from posekit.core.io import read_rgb_image
from posekit.core.spec import KeypointSpec
from posekit.viz import draw_skeleton
from posekit.viz.overlays import softmax

TRUTH_COLOR = (255, 255, 255)
MAIN_METRIC = re.compile(r"^val/(PCK@[0-9.]+|AP|PCKh(@[0-9.]+)?)$")


def plot_error_distribution(errors: pd.DataFrame) -> Figure:
    """Box plot of the normalised error per keypoint, from :func:`error_distribution`."""
    names = list(errors["keypoint"].cat.categories)
    groups = [errors.loc[errors["keypoint"] == name, "error"].to_numpy() for name in names]
    figure = Figure(figsize=(7, 0.3 * len(names) + 1.2), layout="constrained")
    ax = figure.add_subplot()
    ax.boxplot(groups, orientation="horizontal", tick_labels=names, showfliers=True)
    ax.invert_yaxis()  # first keypoint on top
    ax.set_xlabel("error / max(box w, box h)")
    ax.set_title("normalised error per keypoint")
    return figure


def person_crop(
    image: np.ndarray, box: np.ndarray, padding: float
) -> tuple[np.ndarray, np.ndarray]:
    """The padded box (xywh) cut out of ``image`` (H, W, 3), clipped to the image; returns the
    crop and its top-left corner (2,) in image pixels."""
    x, y, w, h = (float(v) for v in box)
    cx, cy = x + w / 2, y + h / 2
    x0 = int(max(0, math.floor(cx - w * padding / 2)))
    y0 = int(max(0, math.floor(cy - h * padding / 2)))
    x1 = int(min(image.shape[1], math.ceil(cx + w * padding / 2)))
    y1 = int(min(image.shape[0], math.ceil(cy + h * padding / 2)))
    if x1 <= x0 or y1 <= y0:
        size = f"{image.shape[1]}x{image.shape[0]}"
        raise ValueError(f"box {list(box)} lies outside the {size} image")
    return image[y0:y1, x0:x1], np.array([x0, y0], dtype=np.float64)


def draw_case(
    predictions: Predictions, sample: int, spec: KeypointSpec, padding: float = 1.25,
    height: int = 256,
) -> np.ndarray:
    """The person of ``sample`` cut from its original image and scaled to ``height`` pixels,
    with the truth (white) and the prediction (coloured by side, every keypoint) drawn on it."""
    row = predictions.position(sample)
    image = read_rgb_image(predictions.image_paths[row], f"sample {sample}")
    crop, corner = person_crop(image, predictions.boxes[row], padding)
    zoom = height / crop.shape[0]
    crop = cv2.resize(crop, (max(1, round(crop.shape[1] * zoom)), height))
    truth = predictions.gt_keypoints[row]  # (K, 3)
    crop = draw_skeleton(
        crop, (truth[:, :2] - corner) * zoom, truth[:, 2], spec.skeleton,
        color=TRUTH_COLOR, score_threshold=0.5,
    )
    return draw_skeleton(
        crop, (predictions.keypoints[row] - corner) * zoom, None, spec.skeleton, names=spec.names
    )


def plot_worst_cases(
    predictions: Predictions, samples: Sequence[int], spec: KeypointSpec, ncols: int = 4,
    padding: float = 1.25,
) -> Figure:
    """The given samples (e.g. from :func:`worst_cases`) on their original image crops: truth
    in white, prediction coloured by side; titled with the sample's OKS and mean error."""
    if not samples:
        raise ValueError("no samples to draw")
    oks = sample_oks(predictions, spec.sigmas)  # (N,)
    errors, counts = normalised_errors(predictions)  # (N, K)
    nrows = math.ceil(len(samples) / ncols)
    figure = Figure(figsize=(2.6 * min(ncols, len(samples)), 3.6 * nrows), layout="constrained")
    axes = figure.subplots(nrows, min(ncols, len(samples)), squeeze=False).ravel()
    for ax, sample in zip(axes, samples):
        row = predictions.position(sample)
        mean_error = errors[row][counts[row]].mean() if counts[row].any() else float("nan")
        ax.imshow(draw_case(predictions, sample, spec, padding))
        ax.set_title(f"#{sample}  OKS {oks[row]:.2f}\nerror {mean_error:.3f}", fontsize=9)
    for ax in axes:
        ax.axis("off")
    return figure


def _chosen(spec: KeypointSpec, keypoints: Sequence[int | str] | None) -> list[int]:
    if keypoints is None:
        return list(range(spec.num_keypoints))
    return [spec.names.index(k) if isinstance(k, str) else int(k) for k in keypoints]


def plot_simcc(
    sample: SampleOutputs, codec: SimCCCodec, spec: KeypointSpec,
    keypoints: Sequence[int | str] | None = None, per_row: int = 2,
) -> Figure:
    """Softmax of ``simcc_x`` and ``simcc_y`` over the bins for each chosen keypoint (default
    all), the true bin (coordinate x split ratio) as a green line where labelled and the
    predicted one as a dashed red line; ``per_row`` keypoints (x and y axes each) per row."""
    chosen = _chosen(spec, keypoints)
    nrows = math.ceil(len(chosen) / per_row)
    figure = Figure(figsize=(3.2 * 2 * per_row, 1.7 * nrows), layout="constrained")
    axes = figure.subplots(nrows, 2 * per_row, squeeze=False).reshape(-1, 2)
    for (ax_x, ax_y), k in zip(axes, chosen):
        for ax, key, axis in ((ax_x, "simcc_x", 0), (ax_y, "simcc_y", 1)):
            ax.plot(softmax(sample.outputs[key][k]), color="tab:blue", linewidth=1)
            if sample.visible[k] > 0:
                ax.axvline(sample.keypoints[k, axis] * codec.split_ratio, color="tab:green")
            ax.axvline(sample.predicted[k, axis] * codec.split_ratio, color="tab:red", ls="--")
            ax.set_title(f"{spec.names[k]} {'xy'[axis]}", fontsize=8)
            ax.tick_params(labelsize=6)
    for ax in axes[len(chosen):].ravel():
        ax.axis("off")
    figure.suptitle("SimCC softmax over bins: truth green, prediction dashed red", fontsize=9)
    return figure


def plot_heatmaps(
    sample: SampleOutputs, codec: MSRAHeatmapCodec, spec: KeypointSpec,
    keypoints: Sequence[int | str] | None = None, ncols: int = 6,
) -> Figure:
    """Each chosen keypoint's heatmap over the network's input crop, the truth as a green cross
    where labelled, the prediction as a red dot. Heatmap pixel i is drawn centred on input pixel
    ``i x stride``, the codec's convention (``viz.overlays.heatmap_overlay`` stretches the map
    edge to edge instead, which puts it (stride - 1) / 2 input pixels off)."""
    chosen = _chosen(spec, keypoints)
    nrows = math.ceil(len(chosen) / ncols)
    height, width = sample.image.shape[:2]
    sx, sy = codec.stride
    figure = Figure(figsize=(1.9 * ncols, 2.4 * nrows), layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, k in zip(axes, chosen):
        heatmap = sample.outputs["heatmaps"][k]  # (h, w)
        h, w = heatmap.shape
        ax.imshow(sample.image, extent=(-0.5, width - 0.5, height - 0.5, -0.5))
        ax.imshow(
            heatmap, cmap="jet", alpha=0.5, interpolation="bilinear",
            extent=(-0.5 * sx, (w - 0.5) * sx, (h - 0.5) * sy, -0.5 * sy),
        )
        if sample.visible[k] > 0:
            ax.plot(*sample.keypoints[k], "+", color="lime", markersize=10, mew=2)
        ax.plot(*sample.predicted[k], "o", color="red", markersize=4)
        ax.set_xlim(-0.5, width - 0.5)
        ax.set_ylim(height - 0.5, -0.5)
        ax.set_title(spec.names[k], fontsize=8)
    for ax in axes:
        ax.axis("off")
    return figure


def plot_head_outputs(
    sample: SampleOutputs, codec: Codec, spec: KeypointSpec,
    keypoints: Sequence[int | str] | None = None,
) -> Figure:
    """:func:`plot_simcc` or :func:`plot_heatmaps`, whichever the codec's outputs are."""
    if isinstance(codec, SimCCCodec):
        return plot_simcc(sample, codec, spec, keypoints)
    if isinstance(codec, MSRAHeatmapCodec):
        return plot_heatmaps(sample, codec, spec, keypoints)
    raise TypeError(f"no plot for the outputs {codec.output_keys} of {type(codec).__name__}")


def main_metrics(table: pd.DataFrame) -> list[str]:
    """The comparison's headline metrics: PCK@alpha, AP, PCKh, in table order."""
    numeric = pd.api.types.is_numeric_dtype
    return [c for c in table.columns if MAIN_METRIC.match(c) and numeric(table[c])]


def plot_comparison(table: pd.DataFrame, curves: pd.DataFrame | None = None) -> Figure:
    """Bars of the main metrics per run, and PCK against alpha: the ``curves`` (alpha rows, run
    columns) where given, else the PCK@alpha columns of ``table`` (rows = runs)."""
    metrics = main_metrics(table)
    if not metrics:
        raise ValueError(f"no PCK, AP or PCKh metric among the columns {list(table.columns)}")
    figure = Figure(figsize=(12, 4), layout="constrained")
    bars, lines = figure.subplots(1, 2, width_ratios=(3, 2))
    _metric_bars(bars, table, metrics)
    if curves is None:
        pck = [c for c in metrics if c.startswith("val/PCK@")]
        alphas = [float(c.split("@")[1]) for c in pck]
        curves = pd.DataFrame(table[pck].to_numpy().T, index=alphas, columns=table.index)
    for run in curves.columns:
        lines.plot(curves.index, curves[run], marker="." if len(curves) < 10 else None, label=run)
    lines.set_xlabel("alpha (error / max(box w, box h))")
    lines.set_ylabel("PCK")
    lines.set_ylim(0, 1)
    lines.set_title("PCK against alpha")
    lines.legend(fontsize=8)
    return figure


def _metric_bars(ax: Axes, table: pd.DataFrame, metrics: list[str]) -> None:
    width = 0.8 / len(table)
    positions = np.arange(len(metrics))
    for i, run in enumerate(table.index):
        values = table.loc[run, metrics].to_numpy(dtype=float)
        ax.bar(positions + (i - (len(table) - 1) / 2) * width, values, width, label=str(run))
    ax.set_xticks(positions, [m.removeprefix("val/") for m in metrics])
    ax.set_ylim(0, 1)
    ax.set_title("main metrics")
    ax.legend(fontsize=8)
