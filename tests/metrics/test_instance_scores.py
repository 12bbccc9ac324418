"""Instance scores rank people under detection boxes, and the reference protocols' rescoring and
OKS-NMS areas, against hand computations and pycocotools on hand-built results."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math

import numpy as np
import pytest
import torch
import yaml
from helpers import REPO
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from posekit.codecs import SimCCCodec
from posekit.metrics import CocoKeypointAP

SAMPLE_VAL = REPO / "data" / "sample" / "annotations" / "val.json"
SIGMAS = yaml.safe_load((REPO / "conf" / "keypoints" / "coco.yaml").read_text())["sigmas"]
INPUT = (48, 64)  # (W, H); k = 2: 96 x bins, 128 y bins
LABEL_SIGMA = (4.9, 5.66)  # posekit's default SimCC labels (conf/model/codec/simcc.yaml)


def gaussian_peak(sigma: float) -> float:
    """The peak of a normalised Gaussian over integer bins, summed by hand."""
    j = np.arange(-200, 201)
    return 1.0 / np.exp(-(j**2) / (2 * sigma**2)).sum()


def simcc_outputs(rng: np.random.Generator, n: int, k: int) -> dict[str, torch.Tensor]:
    """Log-labels (a trained model's logits) of people of varied confidence: each person's
    Gaussian is widened by a factor in [1, 3], so its softmax peaks fall from the labels' peak."""
    out = {}
    for key, bins, sigma in (("simcc_x", 96, LABEL_SIGMA[0]), ("simcc_y", 128, LABEL_SIGMA[1])):
        centre = rng.uniform(20, bins - 20, size=(n, k, 1))
        widen = rng.uniform(1.0, 3.0, size=(n, 1, 1))
        grid = np.arange(bins)
        out[key] = torch.from_numpy(-((grid - centre) ** 2) / (2 * (sigma * widen) ** 2))
    return out


def test_relative_simcc_scores_read_as_heatmap_peaks():
    codec = SimCCCodec(INPUT, sigma=LABEL_SIGMA)
    assert codec.label_peak == pytest.approx(tuple(gaussian_peak(s) for s in LABEL_SIGMA))
    # a perfect prediction (logits = log of the labels) scores 1, its softmax peak only ~0.08
    grid_x, grid_y = np.arange(96.0), np.arange(128.0)
    perfect = {
        "simcc_x": torch.from_numpy(-((grid_x - 40.0) ** 2) / (2 * 4.9**2)).expand(2, 17, 96),
        "simcc_y": torch.from_numpy(-((grid_y - 60.0) ** 2) / (2 * 5.66**2)).expand(2, 17, 128),
    }
    relative = SimCCCodec(INPUT, sigma=LABEL_SIGMA, score_rule="relative").decode(perfect)[1]
    mean = SimCCCodec(INPUT, sigma=LABEL_SIGMA, score_rule="mean").decode(perfect)[1]
    np.testing.assert_allclose(relative.numpy(), 1.0, rtol=1e-5)
    expected_mean = 0.5 * (gaussian_peak(4.9) + gaussian_peak(5.66))
    np.testing.assert_allclose(mean.numpy(), expected_mean, rtol=1e-5)
    assert expected_mean < 0.1  # below COCO's 0.2 threshold: every person would score 0


def reference_ap(results: list[dict], gt_file) -> float:
    """pycocotools' AP of a results list, with nothing of posekit's metric in between."""
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_file))
        evaluator = COCOeval(gt, gt.loadRes(copy.deepcopy(results)), iouType="keypoints")
        evaluator.params.kpt_oks_sigmas = np.array(SIGMAS)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return float(evaluator.stats[0])


def test_detected_people_get_distinct_scores_and_the_reference_ap(tmp_path):
    """Every labelled person of the sample, predicted with noise, as if from detected boxes of
    varied scores: the default SimCC score rule gives distinct person scores (the former 'mean'
    rule gives all 0), and the AP equals pycocotools' on results rescored by hand."""
    dataset = json.loads(SAMPLE_VAL.read_text())
    for ann in dataset["annotations"]:
        ann.setdefault("area", ann["bbox"][2] * ann["bbox"][3])
    gt_file = tmp_path / "val.json"
    gt_file.write_text(json.dumps(dataset))
    people = [a for a in dataset["annotations"] if a["num_keypoints"] > 0]
    n = len(people)
    rng = np.random.default_rng(0)
    truth = np.array([a["keypoints"] for a in people], dtype=np.float64).reshape(n, 17, 3)
    keypoints = truth[..., :2] + rng.normal(0, 4, size=(n, 17, 2))
    outputs = simcc_outputs(rng, n, 17)
    box_scores = rng.uniform(0.5, 1.0, size=n)
    meta = {
        "sample_idx": torch.arange(n),
        "bbox": torch.tensor([a["bbox"] for a in people], dtype=torch.float32),
        "bbox_score": torch.from_numpy(box_scores).float(),
        "image_id": torch.tensor([a["image_id"] for a in people]),
    }
    person_scores = {}
    for rule in ("relative", "mean"):
        scores = SimCCCodec(INPUT, sigma=LABEL_SIGMA, score_rule=rule).decode(outputs)[1]
        metric = CocoKeypointAP(str(gt_file), SIGMAS, use_detections=True, nms_threshold=1.0)
        metric.update(torch.from_numpy(keypoints).float(), scores.float(), meta)
        results = metric.results()
        person_scores[rule] = np.array([r["score"] for r in results])
        # the reference rescoring by hand: box score x mean of the keypoint scores above 0.2
        kpt = scores.double().numpy()
        above = kpt > 0.2
        by_hand = [
            box_scores[i] * (kpt[i][above[i]].mean() if above[i].any() else 0.0)
            for i in range(n)
        ]
        hand_results = [
            {"image_id": a["image_id"], "category_id": 1, "score": float(by_hand[i]),
             "keypoints": np.concatenate([keypoints[i], kpt[i][:, None]], 1).ravel().tolist()}
            for i, a in enumerate(people)
        ]
        assert sorted(person_scores[rule]) == pytest.approx(sorted(by_hand), rel=1e-5)
        ap = float(metric.compute()["AP"])
        assert math.isclose(ap, reference_ap(hand_results, gt_file), abs_tol=1e-6)
    assert (person_scores["mean"] == 0).all()  # the collapse: ranking by ties
    assert (person_scores["relative"] > 0).all()
    assert len(np.unique(person_scores["relative"].round(6))) == n


def two_people(distance: float):
    """Two predictions of one image, the second moved ``distance`` px right, and their meta."""
    base = np.stack([np.linspace(100, 140, 17), np.linspace(100, 180, 17)], axis=-1)
    keypoints = torch.from_numpy(np.stack([base, base + [distance, 0]])).float()  # (2, 17, 2)
    meta = {
        "sample_idx": torch.arange(2),
        "bbox": torch.tensor([[90.0, 90.0, 60.0, 100.0]] * 2),
        "bbox_score": torch.tensor([0.9, 0.8]),
        "image_id": torch.tensor([1, 1]),
        "scale": torch.tensor([[93.75, 125.0]] * 2),  # 60 x 100 fixed to 3:4, padded 1.25
    }
    return keypoints, meta


def oks_by_hand(distance: float, area: float) -> float:
    variances = (2 * np.array(SIGMAS)) ** 2
    return float(np.mean(np.exp(-(distance**2) / (2 * variances * area))))


def tiny_gt(tmp_path):
    gt = {
        "images": [{"id": 1, "width": 400, "height": 400, "file_name": "a.jpg"}],
        "categories": [{"id": 1, "name": "person"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [90, 90, 60, 100],
                         "area": 6000.0, "keypoints": [120, 140, 2] * 17}],
    }
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    return path


def test_padded_nms_area_drops_a_duplicate_the_box_area_keeps(tmp_path):
    distance = 10.0
    box_oks, padded_oks = oks_by_hand(distance, 6000.0), oks_by_hand(distance, 93.75 * 125.0)
    threshold = 0.5 * (box_oks + padded_oks)  # between the two: the choice of area decides
    assert box_oks < threshold < padded_oks
    keypoints, meta = two_people(distance)
    kept = {}
    for area in ("box", "padded"):
        metric = CocoKeypointAP(str(tiny_gt(tmp_path)), SIGMAS, use_detections=True,
                                nms_threshold=threshold, nms_area=area)
        metric.update(keypoints, torch.ones(2, 17), meta)
        kept[area] = len(metric.results())
    assert kept == {"box": 2, "padded": 1}


def test_additive_rescorings_of_rle_and_alphapose(tmp_path):
    keypoints, meta = two_people(50.0)
    scores = torch.full((2, 17), 0.1)
    scores[0, 3], scores[1, :] = 0.9, 0.05
    metric = CocoKeypointAP(str(tiny_gt(tmp_path)), SIGMAS, rescoring="bbox_rle")
    metric.update(keypoints, scores, meta)
    by_hand = [0.9 + (16 * 0.1 + 0.9) / 17 + 0.9, 0.8 + 0.05 + 0.05]
    assert [r["score"] for r in metric.results()] == pytest.approx(by_hand, rel=1e-6)
    # AlphaPose's validate.py: box + mean + 1.25 max
    metric = CocoKeypointAP(str(tiny_gt(tmp_path)), SIGMAS, rescoring="bbox_alphapose")
    metric.update(keypoints, scores, meta)
    by_hand = [0.9 + (16 * 0.1 + 0.9) / 17 + 1.25 * 0.9, 0.8 + 0.05 + 1.25 * 0.05]
    assert [r["score"] for r in metric.results()] == pytest.approx(by_hand, rel=1e-6)
    with pytest.raises(ValueError, match="rescoring must be one of"):
        CocoKeypointAP(str(tiny_gt(tmp_path)), SIGMAS, rescoring="bbox_mean")
