"""COCO keypoint AP without copies of the results: the caller's list is left as it was, and
faster-coco-eval (opt-in backend) gives pycocotools' numbers on the fixtures."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from helpers import REPO

from posekit.core.spec import KeypointSpec
from posekit.metrics import CocoKeypointAP
from posekit.metrics.coco import STAT_KEYS


def noisy_results(ann_file, seed: int, sigma: float) -> list[dict]:
    """Each labelled ground-truth person moved by Gaussian noise, with a random score; plus a
    false positive per image."""
    data = json.loads(ann_file.read_text())
    rng = np.random.default_rng(seed)
    results = []
    for ann in data["annotations"]:
        if ann.get("iscrowd", 0) or not any(ann["keypoints"][2::3]):
            continue
        keypoints = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
        keypoints[:, :2] += rng.normal(0.0, sigma, size=(len(keypoints), 2))
        keypoints[:, 2] = rng.uniform(0.2, 1.0, len(keypoints))
        results.append({"image_id": ann["image_id"], "category_id": 1,
                        "keypoints": keypoints.ravel().tolist(), "score": float(rng.uniform())})
    k = len(data["annotations"][0]["keypoints"]) // 3
    for image in data["images"]:
        keypoints = np.column_stack([rng.uniform(0, 200, (k, 2)), np.ones(k)])
        results.append({"image_id": image["id"], "category_id": 1,
                        "keypoints": keypoints.ravel().tolist(), "score": 0.3})
    return results


@pytest.mark.parametrize("sigma", [2.0, 8.0])
def test_faster_coco_eval_gives_pycocotools_numbers(fixtures_dir, sigma):
    ann_file = fixtures_dir / "coco" / "test_coco.json"
    spec = KeypointSpec.from_yaml(REPO / "conf" / "keypoints" / "coco.yaml")
    results = noisy_results(ann_file, seed=int(sigma), sigma=sigma)
    kept = copy.deepcopy(results)
    reference = CocoKeypointAP(str(ann_file), spec=spec).evaluate_results(results)
    assert results == kept  # evaluation adds nothing to the caller's dicts
    faster = CocoKeypointAP(str(ann_file), spec=spec, backend="faster_coco_eval")
    values = faster.evaluate_results(results)
    assert results == kept
    assert 0 < reference["AP"] < 1
    # a summary with no ground truth to compute it on (e.g. APm without medium people) is
    # absent from both, never -1
    assert set(values) == set(reference) and "AP" in reference
    assert set(reference) <= set(STAT_KEYS)
    for key in reference:
        assert values[key] == pytest.approx(reference[key], abs=1e-9), key


def test_unknown_backend_is_refused(fixtures_dir):
    spec = KeypointSpec.from_yaml(REPO / "conf" / "keypoints" / "coco.yaml")
    with pytest.raises(ValueError, match="backend 'cocoapi' is not one of"):
        CocoKeypointAP(str(fixtures_dir / "coco" / "test_coco.json"), spec=spec, backend="cocoapi")


def test_faster_coco_eval_gives_crowdpose_numbers(fixtures_dir):
    """CrowdPose's AP by crowd index re-runs the evaluator on image groups: same numbers."""
    from posekit.metrics.crowdpose import CrowdPoseAP

    ann_file = fixtures_dir / "crowdpose" / "test_crowdpose.json"
    spec = KeypointSpec.from_yaml(REPO / "conf" / "keypoints" / "crowdpose.yaml")
    results = noisy_results(ann_file, seed=3, sigma=6.0)
    reference = CrowdPoseAP(str(ann_file), spec=spec).evaluate_results(results)
    values = CrowdPoseAP(str(ann_file), spec=spec, backend="faster_coco_eval").evaluate_results(
        results
    )
    assert 0 < reference["AP"] < 1
    assert values == pytest.approx(reference, abs=1e-9)


def test_oks_nms_of_all_images_at_once_is_the_per_image_greedy_pass():
    """Images stacked by their number of people give oks_nms's choice and order per image
    (near-duplicates, ties of scores, one-person images, unsorted image ids)."""
    from posekit.metrics.oks import oks_nms, oks_nms_by_image

    rng = np.random.default_rng(0)
    sizes = [1, 3, 3, 7, 2, 7, 30, 1, 5]
    image_ids = np.concatenate([np.full(n, 100 - i) for i, n in enumerate(sizes)])
    order = rng.permutation(len(image_ids))
    image_ids = image_ids[order]
    centres = rng.uniform(0, 200, (len(image_ids), 1, 2))
    keypoints = centres + rng.normal(0, 3, (len(image_ids), 17, 2))
    keypoints[1::4] = keypoints[0::4][: len(keypoints[1::4])] + 0.5  # near-duplicates
    scores = rng.choice([0.2, 0.5, 0.9], len(image_ids))  # ties
    areas = rng.uniform(500, 5000, len(image_ids))
    sigmas = np.full(17, 0.07)
    expected = []
    for image_id in np.unique(image_ids):
        rows = np.flatnonzero(image_ids == image_id)
        keep = oks_nms(keypoints[rows], scores[rows], areas[rows], sigmas, 0.5)
        expected += [rows[i] for i in keep]
    got = oks_nms_by_image(keypoints, scores, areas, image_ids, sigmas, 0.5)
    assert got.tolist() == [int(i) for i in expected]
    assert len(got) < len(image_ids)  # something was suppressed
