"""Metrics never print a number they did not compute (absent, never 0), refuse NaN, and offer
mmpose's PCK convention under its own name."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

# pytest puts tests/metrics on sys.path; coco_file is a fixture
from test_metrics import (  # noqa: F401
    COCO_SIGMAS,
    coco_file,
    gt_predictions,
    make_meta,
    mpii_case,
    pck_case,
    values,
)

from posekit.metrics import CocoKeypointAP, MMPosePCK, MPIIPCKh, PCKMetric


def quiet_compute(metric: torch.nn.Module) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchmetrics warns about compute before update
        return values(metric.compute())


def test_pck_without_labelled_keypoints_is_absent() -> None:
    """Detected boxes carry no ground truth: PCK is absent, not 0.0."""
    pred, scores, meta = pck_case()
    meta["gt_keypoints"][..., 2] = 0
    for metric in (PCKMetric(), MMPosePCK()):
        metric.update(pred, scores, meta)
        assert quiet_compute(metric) == {}
        assert quiet_compute(type(metric)()) == {}


def test_mmpose_pck_is_a_per_keypoint_mean_with_a_strict_threshold() -> None:
    pred, scores, meta = pck_case()  # errors: kp0 0.045, 0.0; kp1 0.095; kp2 0.305, 0.155
    metric = MMPosePCK(thresholds=[0.1, 0.2])
    metric.update(pred, scores, meta)
    result = values(metric.compute())
    assert set(result) == {"PCK-mmpose@0.1", "PCK-mmpose@0.2"}
    assert result["PCK-mmpose@0.1"] == pytest.approx((1 + 1 + 0) / 3)  # pooled: 3 / 5
    assert result["PCK-mmpose@0.2"] == pytest.approx((1 + 1 + 0.5) / 3)  # pooled: 4 / 5
    # an error exactly at the threshold: a hit for posekit's PCK, a miss for mmpose's (strict <)
    gt = torch.tensor([[[10.0, 10.0, 2.0]]])
    pred_on = torch.tensor([[[10.0, 15.0]]])  # 5 px / max(50, 20) = 0.1 exactly
    meta = make_meta([0], gt, torch.tensor([[0.0, 0.0, 50.0, 20.0]]))
    pooled, strict = PCKMetric(thresholds=[0.1]), MMPosePCK(thresholds=[0.1])
    for metric in (pooled, strict):
        metric.update(pred_on, torch.ones(1, 1), meta)
    assert values(pooled.compute())["PCK@0.1"] == 1.0
    assert values(strict.compute())["PCK-mmpose@0.1"] == 0.0


def test_pckh_without_predictions_is_absent(tmp_path: Path) -> None:
    mat, _, _ = mpii_case(tmp_path)
    assert quiet_compute(MPIIPCKh(str(mat))) == {}


def test_nan_prediction_stops_evaluation(coco_file: Path) -> None:  # noqa: F811
    annotations = __import__("json").loads(coco_file.read_text())["annotations"]
    pred, scores, meta = gt_predictions(annotations)
    pred[1, 4, 0] = float("nan")
    for metric in (CocoKeypointAP(str(coco_file), COCO_SIGMAS), PCKMetric()):
        with pytest.raises(FloatingPointError, match=r"non-finite.*sample_idx 1.*keypoint 4"):
            metric.update(pred, scores, meta)
    scores[0, 0] = float("inf")
    with pytest.raises(FloatingPointError, match="non-finite"):
        PCKMetric().update(pred.nan_to_num(), scores, meta)


def test_results_with_nan_or_strings_are_refused(coco_file: Path) -> None:  # noqa: F811
    metric = CocoKeypointAP(str(coco_file), COCO_SIGMAS)
    good = {"image_id": 10, "category_id": 1, "keypoints": [1.0, 2.0, 1.0] * 17, "score": 1.0}
    nan = {**good, "keypoints": [float("nan")] * 51}
    text = {**good, "keypoints": ["1"] + good["keypoints"][1:]}
    for bad in (nan, text, {**good, "score": float("inf")}):
        with pytest.raises(ValueError, match=r"preds.json: result \[1\].*finite"):
            metric.evaluate_results([good, bad], source="preds.json")
    assert np.isfinite(metric.evaluate_results([good], source="preds.json")["AP"])


def test_coco_summaries_pycocotools_cannot_compute_are_absent(coco_file: Path) -> None:
    """Without medium-sized people pycocotools gives APm and ARm -1 ("undefined"): absent."""
    import json

    from test_metrics import coco_eval_directly

    dataset = json.loads(coco_file.read_text())
    dataset["annotations"] = [a for a in dataset["annotations"] if a["id"] != 2]  # the medium one
    coco_file.write_text(json.dumps(dataset))
    pred, scores, meta = gt_predictions(dataset["annotations"])
    metric = CocoKeypointAP(str(coco_file), COCO_SIGMAS)
    metric.update(pred, scores, meta)
    result = values(metric.compute())
    oracle = coco_eval_directly(coco_file, metric.results())  # AP, AP50, AP75, APm, APl, AR, ...
    assert oracle[3] == -1.0 and oracle[8] == -1.0
    assert set(result) == {"AP", "AP50", "AP75", "APl", "AR", "AR50", "AR75", "ARl"}
    assert result["AP"] == pytest.approx(oracle[0])
