"""What a model sees: heatmaps over the crop, SimCC's 1-D distributions, person boxes."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from posekit.core.io import check_rgb_image
from posekit.viz.skeleton import Color

BOX_COLOR: Color = (255, 255, 0)  # yellow


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, as the SimCC codec reads its outputs."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def simcc_to_heatmap(simcc_x: np.ndarray, simcc_y: np.ndarray) -> np.ndarray:
    """One keypoint's SimCC outputs as a 2-D map: softmax(y) (Hy,) x softmax(x) (Wx,), (Hy, Wx)."""
    if simcc_x.ndim != 1 or simcc_y.ndim != 1:
        raise ValueError(
            f"simcc_x and simcc_y must be 1-D (bins,), got {simcc_x.shape} and {simcc_y.shape}"
        )
    return np.outer(softmax(simcc_y.astype(np.float64)), softmax(simcc_x.astype(np.float64)))


def heatmap_overlay(
    image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.5, colormap: int = cv2.COLORMAP_JET
) -> np.ndarray:
    """Blend a heatmap (h, w), stretched over the image, onto an (H, W, 3) uint8 RGB image.

    The heatmap is scaled to [0, 1] by its own minimum and maximum, coloured with an OpenCV
    colour map and mixed in with weight ``alpha``. Returns a new (H, W, 3) uint8 image.
    """
    check_rgb_image(image)
    heatmap = np.asarray(heatmap, dtype=np.float32)
    if heatmap.ndim != 2:
        raise ValueError(f"heatmap must be (h, w), got shape {heatmap.shape}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    height, width = image.shape[:2]
    resized = cv2.resize(heatmap, (width, height), interpolation=cv2.INTER_LINEAR)
    low, high = float(resized.min()), float(resized.max())
    normalised = (resized - low) / (high - low) if high > low else np.zeros_like(resized)
    colours = cv2.applyColorMap(np.round(normalised * 255).astype(np.uint8), colormap)
    colours = cv2.cvtColor(colours, cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(image, 1.0 - alpha, colours, alpha, 0.0)


def simcc_distribution_plot(
    simcc_x: np.ndarray,
    simcc_y: np.ndarray,
    split_ratio: float,
    keypoint: Sequence[float] | None = None,
    title: str = "",
    size: tuple[int, int] = (640, 320),
    dpi: int = 100,
) -> np.ndarray:
    """Plot one keypoint's SimCC distributions over the crop's x and y pixel coordinates.

    Args:
        simcc_x: (Wx,) x logits; simcc_y: (Hy,) y logits (bins of 1 / split_ratio pixel).
        split_ratio: bins per pixel k.
        keypoint: the decoded (x, y) in crop pixels, marked by a vertical line on each axis.
        title: figure title (e.g. the keypoint name).
        size: (width, height) of the returned image in pixels.

    Returns:
        (height, width, 3) uint8 RGB image.
    """
    if split_ratio <= 0:
        raise ValueError(f"split_ratio must be positive, got {split_ratio}")
    width, height = size
    # a bare Figure on an Agg canvas: no pyplot state, the caller's backend is left alone
    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(figure)
    axes = figure.subplots(1, 2)
    for axis, logits, label, index in ((axes[0], simcc_x, "x", 0), (axes[1], simcc_y, "y", 1)):
        logits = np.asarray(logits, dtype=np.float64)
        if logits.ndim != 1:
            raise ValueError(f"simcc_{label} must be 1-D (bins,), got shape {logits.shape}")
        pixels = np.arange(logits.shape[0]) / split_ratio
        axis.plot(pixels, softmax(logits), color="tab:blue", linewidth=1.2)
        if keypoint is not None:
            axis.axvline(float(keypoint[index]), color="tab:red", linewidth=1.0)
        axis.set_xlabel(f"{label} (crop pixels)")
        axis.set_ylabel("probability")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())  # (height, width, 4)
    return np.ascontiguousarray(rgba[:height, :width, :3])


def draw_boxes(
    image: np.ndarray, boxes: np.ndarray, color: Color = BOX_COLOR, thickness: int = 1
) -> np.ndarray:
    """Draw boxes (M, 4) xywh on a copy of an (H, W, 3) uint8 RGB image."""
    check_rgb_image(image)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    canvas = np.ascontiguousarray(image).copy()
    for x, y, w, h in boxes:
        top_left = (int(round(x)), int(round(y)))
        bottom_right = (int(round(x + w)), int(round(y + h)))
        cv2.rectangle(canvas, top_left, bottom_right, tuple(int(c) for c in color), thickness)
    return canvas
