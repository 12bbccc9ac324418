"""Per-keypoint statistics and figures of the analysis package, on hand-made predictions."""

import math

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from posekit.analysis import (
    Predictions,
    SampleOutputs,
    error_distribution,
    keypoint_similarity,
    pck_curve,
    per_keypoint_table,
    plot_comparison,
    plot_error_distribution,
    plot_heatmaps,
    plot_simcc,
    plot_worst_cases,
    sample_oks,
    worst_cases,
)
from posekit.analysis.figures import draw_case
from posekit.codecs import MSRAHeatmapCodec, SimCCCodec
from posekit.core.spec import KeypointSpec
from posekit.metrics import PCKMetric
from posekit.viz.overlays import softmax

SPEC = KeypointSpec(
    name="toy", names=("nose", "left_hand", "right_hand"), flip_pairs=((1, 2),),
    skeleton=((0, 1), (0, 2)), sigmas=(0.025, 0.05, 0.1),
)


def toy_predictions(image_path: str = "unused.jpg") -> Predictions:
    """Sample 0: box 100x50, area 400, errors 3 and 8 px, the right hand unlabelled.
    Sample 1: box 200x100, no area (the box's is used), errors 0, 20 and 40 px.
    Sample 2: nothing labelled."""
    gt = np.array([
        [[10, 10, 2], [20, 20, 2], [30, 30, 0]],
        [[50, 50, 2], [60, 60, 1], [70, 70, 2]],
        [[5, 5, 0], [6, 6, 0], [7, 7, 0]],
    ], dtype=np.float32)
    pred = gt[..., :2].copy()
    pred[0, 0, 1] += 3
    pred[0, 1, 1] += 8
    pred[1, 1, 0] += 20
    pred[1, 2, 0] -= 40
    return Predictions(
        keypoints=pred, scores=np.ones((3, 3), np.float32), gt_keypoints=gt,
        boxes=np.array([[0, 0, 100, 50], [0, 0, 200, 100], [0, 0, 10, 10]], np.float32),
        box_scores=np.ones(3, np.float32), areas=np.array([400, 0, 100], np.float32),
        sample_idx=np.arange(3), image_ids=np.arange(3), image_paths=[image_path] * 3,
    )


def test_per_keypoint_table_counts_pck_oks_and_errors():
    table = per_keypoint_table(toy_predictions(), SPEC, alphas=(0.05, 0.1))
    assert list(table.index) == ["nose", "left_hand", "right_hand", "all"]
    assert list(table["labelled"]) == [2, 2, 1, 5]
    assert list(table["PCK@0.05"]) == [1.0, 0.0, 0.0, 0.4]
    assert list(table["PCK@0.1"]) == [1.0, 1.0, 0.0, 0.8]
    assert table.loc["right_hand", "mean error"] == pytest.approx(0.2)
    assert table.loc["left_hand", "median error"] == pytest.approx(0.09)
    nose_oks = (math.exp(-9 / (2 * 400 * 0.05**2)) + 1.0) / 2  # k = 2 sigma, s^2 = area
    assert table.loc["nose", "OKS"] == pytest.approx(nose_oks)


def test_the_pooled_row_is_the_pck_metric():
    predictions = toy_predictions()
    metric = PCKMetric(thresholds=(0.05, 0.1))
    metric.update(
        torch.from_numpy(predictions.keypoints), torch.from_numpy(predictions.scores),
        {"sample_idx": torch.arange(3), "gt_keypoints": torch.from_numpy(predictions.gt_keypoints),
         "bbox": torch.from_numpy(predictions.boxes)},
    )
    expected = metric.compute()
    table = per_keypoint_table(predictions, SPEC, alphas=(0.05, 0.1))
    assert table.loc["all", "PCK@0.05"] == pytest.approx(float(expected["PCK@0.05"]))
    assert table.loc["all", "PCK@0.1"] == pytest.approx(float(expected["PCK@0.1"]))
    assert list(pck_curve(predictions, [0.05, 0.1])) == pytest.approx([0.4, 0.8])


def test_oks_uses_the_box_area_where_the_area_is_unknown():
    similarity = keypoint_similarity(toy_predictions(), SPEC.sigmas)
    assert similarity[1, 2] == pytest.approx(math.exp(-1600 / (2 * 20000 * 0.2**2)))
    assert np.isnan(similarity[0, 2]) and np.isnan(similarity[2]).all()
    oks = sample_oks(toy_predictions(), SPEC.sigmas)
    # sample 1: errors 0, 20, 40 px, s^2 = 200 x 100, k = 2 sigma = 0.05, 0.1, 0.2
    assert oks[1] == pytest.approx((1 + 2 * math.exp(-1)) / 3) and np.isnan(oks[2])


def test_error_distribution_has_one_row_per_labelled_keypoint():
    errors = error_distribution(toy_predictions(), SPEC)
    assert list(errors.columns) == ["sample", "keypoint", "error"]
    assert list(errors["sample"]) == [0, 0, 1, 1, 1]
    assert list(errors["keypoint"].cat.categories) == list(SPEC.names)
    assert errors["error"].to_numpy() == pytest.approx([0.03, 0.08, 0.0, 0.1, 0.2])


def test_worst_cases_rank_by_oks_or_error_and_skip_unlabelled_samples():
    predictions = toy_predictions()
    assert worst_cases(predictions, SPEC, n=5, by="error") == [1, 0]
    # OKS is scale-aware: sample 0's 3 and 8 px on a small person (area 400) weigh more
    assert worst_cases(predictions, SPEC, n=5, by="oks") == [0, 1]
    assert worst_cases(predictions, SPEC, n=1, by="error") == [1]
    with pytest.raises(ValueError, match="'oks' or 'error'"):
        worst_cases(predictions, SPEC, by="pck")


def test_worst_cases_are_drawn_on_the_original_image(tmp_path):
    path = tmp_path / "frame.png"
    cv2.imwrite(str(path), np.full((300, 400, 3), 80, np.uint8))
    predictions = toy_predictions(str(path))
    crop = draw_case(predictions, 1, SPEC, padding=1.0, height=100)  # box 200x100 at the corner
    assert crop.shape == (100, 200, 3)
    assert tuple(crop[60, 60]) == (255, 255, 255)  # the true left hand, white
    assert tuple(crop[70, 30]) != (80, 80, 80)  # the predicted right hand, coloured
    figure = plot_worst_cases(predictions, [1, 0], SPEC)
    assert [ax.get_title().split()[0] for ax in figure.axes] == ["#1", "#0"]


def test_simcc_plot_shows_each_softmax_with_truth_and_prediction():
    codec = SimCCCodec(input_size=(10, 15), split_ratio=2.0)
    rng = np.random.default_rng(0)
    sample = SampleOutputs(
        image=np.zeros((15, 10, 3), np.uint8),
        keypoints=np.array([[1.0, 2.0], [3.0, 4.5], [5.0, 6.0]]), visible=np.array([1.0, 1.0, 0.0]),
        predicted=np.array([[1.5, 2.0], [3.5, 5.0], [4.0, 6.0]]),
        outputs={"simcc_x": rng.normal(size=(3, 20)), "simcc_y": rng.normal(size=(3, 30))},
    )
    figure = plot_simcc(sample, codec, SPEC, keypoints=["left_hand", 2], per_row=2)
    x_axis, y_axis, unlabelled_x = figure.axes[0], figure.axes[1], figure.axes[2]
    curve, truth, predicted = x_axis.lines
    assert curve.get_ydata() == pytest.approx(softmax(sample.outputs["simcc_x"][1]))
    assert truth.get_xdata()[0] == pytest.approx(6.0) and predicted.get_xdata()[0] == 7.0
    assert y_axis.lines[1].get_xdata()[0] == pytest.approx(9.0)
    assert len(unlabelled_x.lines) == 2  # no truth line for an unlabelled keypoint
    assert x_axis.get_title() == "left_hand x"


def test_heatmap_plot_places_the_map_on_the_codec_grid():
    codec = MSRAHeatmapCodec(input_size=(16, 32), heatmap_size=(4, 8))
    sample = SampleOutputs(
        image=np.zeros((32, 16, 3), np.uint8), keypoints=np.array([[4.0, 8.0]] * 3),
        visible=np.ones(3), predicted=np.array([[8.0, 12.0]] * 3),
        outputs={"heatmaps": np.random.default_rng(0).random((3, 8, 4))},
    )
    figure = plot_heatmaps(sample, codec, SPEC, ncols=2)
    assert len(figure.axes) == 4 and figure.axes[0].get_title() == "nose"
    image, heatmap = figure.axes[0].get_images()
    assert heatmap.get_extent() == pytest.approx([-2.0, 14.0, 30.0, -2.0])  # pixel i at 4 i
    assert figure.axes[0].lines[1].get_xydata().tolist() == [[8.0, 12.0]]


def test_comparison_and_error_figures():
    table = pd.DataFrame(
        {"model": ["simcc", "heatmap"], "val/AP": [0.5, 0.25], "val/PCK@0.05": [0.4, 0.3],
         "val/PCK@0.2": [0.9, 0.8], "val/loss": [1.0, 2.0]},
        index=pd.Index(["a", "b"], name="run"),
    )
    figure = plot_comparison(table)
    bars, lines = figure.axes
    assert [t.get_text() for t in bars.get_xticklabels()] == ["AP", "PCK@0.05", "PCK@0.2"]
    assert [p.get_height() for p in bars.patches] == pytest.approx([0.5, 0.4, 0.9, 0.25, 0.3, 0.8])
    assert lines.lines[1].get_xydata().ravel() == pytest.approx([0.05, 0.3, 0.2, 0.8])
    with pytest.raises(ValueError, match="no PCK, AP or PCKh"):
        plot_comparison(table[["model", "val/loss"]])
    errors = plot_error_distribution(error_distribution(toy_predictions(), SPEC))
    assert [t.get_text() for t in errors.axes[0].get_yticklabels()] == list(SPEC.names)
