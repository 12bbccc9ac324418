"""The official protocols, against values computed by hand or by another implementation
(faster-coco-eval, which reproduces crowdposetools / xtcocotools) on the same inputs."""

import copy
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from helpers import CONF, REPO

from posekit.core.mpii_gt import write_mpii_gt_mat
from posekit.core.spec import KeypointSpec
from posekit.engine.results import score_results
from posekit.metrics import CocoKeypointAP, CrowdPoseAP, PCKMetric
from posekit.metrics.predictions_file import prediction_results

CROWD_SIGMAS = np.array(KeypointSpec.from_yaml(CONF / "keypoints" / "crowdpose.yaml").sigmas)
AIC_SIGMAS = np.array(KeypointSpec.from_yaml(CONF / "keypoints" / "aic.yaml").sigmas)
HALPE_SIGMAS = np.array(KeypointSpec.from_yaml(CONF / "keypoints" / "halpe136.yaml").sigmas)


def noisy_results(annotations: list[dict], seed: int, k: int, pixels: float = 6.0) -> list[dict]:
    """Every annotation as a prediction, moved by Gaussian noise, with random scores."""
    rng = np.random.default_rng(seed)
    results = []
    for ann in annotations:
        kpts = np.array(ann["keypoints"], dtype=np.float64).reshape(-1, 3)[:k]
        kpts[:, :2] += rng.normal(0, pixels, (k, 2))
        kpts[:, 2] = rng.uniform(0.3, 1.0, k)
        results.append({"image_id": ann["image_id"], "category_id": 1,
                        "keypoints": kpts.ravel().tolist(), "score": float(rng.uniform(0.2, 1))})
    return results


# --- CrowdPose --------------------------------------------------------------------------------
def person(ann_id, image_id, x0, y0, rng):
    """14 labelled keypoints inside the box (x0, y0, 100, 200); a wrong 'area' on purpose."""
    kpts = np.stack([x0 + rng.uniform(10, 90, 14), y0 + rng.uniform(10, 190, 14), np.full(14, 2)], 1)
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0, "num_keypoints": 14,
            "bbox": [x0, y0, 100.0, 200.0], "area": 99.0, "keypoints": kpts.ravel().tolist()}


def moved_to_oks(ann: dict, oks: float) -> list[float]:
    """The annotation's keypoints moved so that every keypoint, hence the OKS, equals ``oks``
    under crowdposetools' scale s^2 = 0.53 * box area."""
    kpts = np.array(ann["keypoints"], dtype=np.float64).reshape(14, 3)
    s2 = 0.53 * ann["bbox"][2] * ann["bbox"][3]
    distance = np.sqrt(-math.log(oks) * 2 * s2 * (2 * CROWD_SIGMAS) ** 2)
    kpts[:, 0] += distance
    return kpts.ravel().tolist()


def test_crowdpose_ap_hand_computed(tmp_path):
    rng = np.random.default_rng(0)
    gt = {
        "images": [{"id": 1, "file_name": "a.jpg", "crowdIndex": 0.05},   # easy
                   {"id": 2, "file_name": "b.jpg", "crowdIndex": 0.5}],   # medium; no hard image
        "annotations": [person(10, 1, 0, 0, rng), person(20, 2, 0, 0, rng),
                        person(21, 2, 400, 0, rng)],
        "categories": [{"id": 1, "name": "person"}],
    }
    path = tmp_path / "crowd.json"
    path.write_text(json.dumps(gt))
    a, b1, b2 = gt["annotations"]
    results = [
        {"image_id": 1, "category_id": 1, "keypoints": a["keypoints"], "score": 0.95},
        {"image_id": 2, "category_id": 1, "keypoints": b1["keypoints"], "score": 0.9},
        {"image_id": 2, "category_id": 1, "keypoints": moved_to_oks(b2, 0.72), "score": 0.8},
    ]
    values = CrowdPoseAP(str(path), CROWD_SIGMAS).evaluate_results(results)
    # thresholds 0.50..0.70 (5 of 10): all three match. 0.75..0.95: the OKS-0.72 one is a false
    # positive ranked last: recall 2/3 with precision 1 -> recall thresholds 0.00..0.66 (67 of
    # 101) score 1, the rest 0. Image 2 alone: recall 1/2 -> 0.00..0.50 (51 of 101).
    assert values["AP"] == pytest.approx((5 + 5 * 67 / 101) / 10)
    assert values["AP50"] == pytest.approx(1.0)
    assert values["AP75"] == pytest.approx(67 / 101)
    assert values["AR"] == pytest.approx((5 + 5 * 2 / 3) / 10)
    assert values["AR50"] == pytest.approx(1.0) and values["AR75"] == pytest.approx(2 / 3)
    assert values["AP_easy"] == 1.0
    assert values["AP_medium"] == round((5 + 5 * 51 / 101) / 10, 4)
    assert "AP_hard" not in values  # no hard image: pycocotools' -1, absent here
    # with the annotations' own area (99 px^2) the moved person would fail at every threshold:
    # crowdposetools ignores 'area' and so must CrowdPoseAP
    coco_style = CocoKeypointAP(str(path), CROWD_SIGMAS).evaluate_results(results)
    assert coco_style["AP"] == pytest.approx(67 / 101)


def test_crowdpose_ap_equals_the_reference_implementation(fixtures_dir):
    faster = pytest.importorskip("faster_coco_eval")
    ann_file = fixtures_dir / "crowdpose" / "test_crowdpose.json"
    annotations = json.loads(ann_file.read_text())["annotations"]
    results = noisy_results(annotations, seed=1, k=14, pixels=8.0)
    ours = CrowdPoseAP(str(ann_file), CROWD_SIGMAS).evaluate_results(results)

    gt = faster.COCO(str(ann_file))
    evaluator = faster.COCOeval_faster(gt, gt.loadRes(copy.deepcopy(results)), "keypoints_crowd",
                                       kpt_oks_sigmas=CROWD_SIGMAS, use_area=False,
                                       print_function=lambda *a: None)
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    assert 0.1 < ours["AP"] < 0.99
    reference = dict(zip(CrowdPoseAP.stat_keys, evaluator.stats))  # -1: a group without people
    assert list(ours) == [key for key, value in reference.items() if value != -1]
    np.testing.assert_allclose([ours[key] for key in ours], [reference[key] for key in ours],
                               atol=1e-6)


def test_aic_ap_equals_the_reference_implementation(fixtures_dir):
    faster = pytest.importorskip("faster_coco_eval")
    ann_file = fixtures_dir / "aic" / "test_aic.json"
    annotations = json.loads(ann_file.read_text())["annotations"]
    results = noisy_results(annotations, seed=2, k=14, pixels=4.0)
    ours = CocoKeypointAP(str(ann_file), AIC_SIGMAS, use_area=False).evaluate_results(results)

    gt = faster.COCO(str(ann_file))
    evaluator = faster.COCOeval_faster(gt, gt.loadRes(copy.deepcopy(results)), "keypoints",
                                       kpt_oks_sigmas=AIC_SIGMAS, use_area=False,
                                       print_function=lambda *a: None)
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    assert 0.05 < ours["AP"] < 0.99
    for key, i in (("AP", 0), ("AP50", 1), ("AP75", 2), ("AR", 5), ("AR50", 6), ("AR75", 7)):
        assert ours[key] == pytest.approx(evaluator.stats[i], abs=1e-6), key


# --- Halpe ------------------------------------------------------------------------------------
def test_halpe_parts_and_halpe26_from_the_136_file(fixtures_dir):
    ann_file = fixtures_dir / "halpe" / "test_halpe.json"
    annotations = json.loads(ann_file.read_text())["annotations"]
    results = []
    for ann in annotations:
        kpts = np.array(ann["keypoints"], dtype=np.float64).reshape(136, 3)
        x, y, w, h = ann["bbox"]
        kpts[kpts[:, 2] == 0, :2] = x + w / 2, y + h / 2  # unlabelled: inside the person's box
        kpts[26:, :2] += 60.0  # face and hands far off; body and feet exact
        kpts[:, 2] = 1.0
        results.append({"image_id": ann["image_id"], "category_id": 1,
                        "keypoints": kpts.ravel().tolist(), "score": 1.0})
    parts = {"body": [0, 20], "foot": [20, 26], "face": [26, 94], "hand": [94, 136]}
    values = CocoKeypointAP(str(ann_file), HALPE_SIGMAS, parts=parts).evaluate_results(results)
    assert values["AP/body"] == pytest.approx(1.0) and values["AP/foot"] == pytest.approx(1.0)
    assert values["AP/face"] == pytest.approx(0.0) and values["AP/hand"] == pytest.approx(0.0)
    assert values["AR/body"] == pytest.approx(1.0) and values["AR/face"] == pytest.approx(0.0)
    assert 0.0 < values["AP"] < 1.0  # the whole body mixes both
    # Halpe-26 scores the first 26 keypoints of the same file: exact
    first26 = [{**r, "keypoints": r["keypoints"][:78]} for r in results]
    halpe26 = CocoKeypointAP(str(ann_file), HALPE_SIGMAS[:26], keypoints_in_file=136)
    assert halpe26.evaluate_results(first26)["AP"] == pytest.approx(1.0)


# --- results files: evaluate_results and predictions.json -----------------------------------
def test_evaluate_results_script_scores_crowdpose(fixtures_dir, tmp_path):
    ann_file = fixtures_dir / "crowdpose" / "test_crowdpose.json"
    results = noisy_results(json.loads(ann_file.read_text())["annotations"], seed=3, k=14)
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(results))
    expected = CrowdPoseAP(str(ann_file), CROWD_SIGMAS).evaluate_results(results)
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "evaluate_results.py"), "data=crowdpose",
         f"annotations={ann_file}", f"results={path}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"AP_medium  {expected['AP_medium']:.4f}" in done.stdout
    assert "AP_hard" not in expected and "AP_hard" not in done.stdout  # no hard image here
    assert f"AP  {expected['AP']:.4f}" in done.stdout
    # results of other images are refused, naming the file and the entry
    path.write_text(json.dumps([{**results[0], "image_id": 5}]))
    with pytest.raises(ValueError, match=r"predictions.json: result \[0\]: image_id 5 is not in"):
        score_results("crowdpose", path, annotations=ann_file)


def mpii_case(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """4 people; head size 0.6 * 50 = 30 px, so PCKh@0.5 accepts errors up to 15 px."""
    rng = np.random.default_rng(4)
    joints = rng.uniform(50, 400, (4, 16, 2))
    corners = rng.uniform(0, 300, (4, 2))
    heads = np.stack([corners, corners + [30.0, 40.0]], axis=1)
    path = tmp_path / "mpii_gt_val.mat"
    write_mpii_gt_mat(path, joints, np.zeros((4, 16)), heads)
    return path, joints


def test_evaluate_results_mpii_json_and_pred_mat(tmp_path):
    mat, joints = mpii_case(tmp_path)
    preds = joints - 1.0  # 0-based, exact
    preds[0, 10] += [0.0, 10.0]  # person 0's right wrist 10 px off: right at 0.5, wrong at 0.1
    preds[1, 0] += [20.0, 0.0]  # person 1's right ankle 20 px off: wrong at both
    entries = [{"image": f"{i}.jpg", "person_index": i, "image_id": i, "category_id": 1,
                "keypoints": np.concatenate([p, np.ones((16, 1))], 1).ravel().tolist(),
                "score": 1.0} for i, p in enumerate(preds)]
    results = tmp_path / "predictions.json"
    results.write_text(json.dumps(entries[::-1]))  # order does not matter with person_index
    values = score_results("mpii", results, mat=mat)
    # 4 people x 14 joints in the mean (pelvis and thorax left out): 1 wrong at 0.5, 2 at 0.1
    assert values["PCKh"] == pytest.approx(100 * 55 / 56)
    assert values["PCKh@0.1"] == pytest.approx(100 * 54 / 56)
    assert values["PCKh/Wrist"] == pytest.approx(100.0)
    assert values["PCKh/Ankle"] == pytest.approx((75 + 100) / 2)
    pred_mat = tmp_path / "pred.mat"
    scipy.io.savemat(str(pred_mat), {"preds": preds + 1.0})  # HRNet's 1-based pred.mat
    assert score_results("mpii", pred_mat, mat=mat) == pytest.approx(values)
    results.write_text(json.dumps(entries[:3]))
    with pytest.raises(ValueError, match=r"predictions.json: expected a JSON list of 4 people"):
        score_results("mpii", results, mat=mat)


def test_mpii_predictions_name_images_and_people():
    from posekit.data.records import PersonRecord

    records = [PersonRecord(f"/x/{n:09d}.jpg", n, np.zeros(4), np.zeros((16, 3))) for n in (7, 9)]
    metric = PCKMetric()
    kpts = torch.arange(64, dtype=torch.float32).view(2, 16, 2)
    metric.update(kpts, torch.full((2, 16), 0.5), {
        "sample_idx": torch.tensor([1, 0]), "gt_keypoints": torch.zeros(2, 16, 3),
        "bbox": torch.ones(2, 4)})
    results = prediction_results([metric], records)
    assert [r["image"] for r in results] == ["000000007.jpg", "000000009.jpg"]
    assert [r["person_index"] for r in results] == [0, 1]
    assert results[0]["keypoints"][:3] == [32.0, 33.0, 0.5]  # sample 0 was the second row
    assert results[1]["image_id"] == 9 and results[1]["score"] == pytest.approx(0.5)


@pytest.mark.parametrize("content", [[], "nan"])
def test_evaluate_results_script_refuses_empty_and_nan_results(fixtures_dir, tmp_path, content):
    ann_file = fixtures_dir / "crowdpose" / "test_crowdpose.json"
    results = noisy_results(json.loads(ann_file.read_text())["annotations"], seed=3, k=14)
    if content == "nan":
        results[2]["keypoints"][4] = float("nan")  # json.dumps writes NaN, json.load reads it
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps(results if content == "nan" else content))
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "evaluate_results.py"), "data=crowdpose",
         f"annotations={ann_file}", f"results={path}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert done.returncode != 0
    expected = "results list is empty" if content == [] else r"result [2]"
    assert expected in done.stderr and "predictions.json" in done.stderr
    assert "Traceback" not in done.stderr and "AP" not in done.stdout


def test_evaluate_results_mpii_refuses_nan(tmp_path):
    mat, joints = mpii_case(tmp_path)
    preds = joints - 1.0
    preds[1, 3, 0] = np.nan
    path = tmp_path / "pred.mat"
    scipy.io.savemat(str(path), {"preds": preds + 1.0})
    with pytest.raises(ValueError, match=r"pred.mat: non-finite .* people \[1\]"):
        score_results("mpii", path, mat=mat)


def test_evaluate_results_reads_a_custom_sets_keypoint_spec(tmp_path):
    """data=custom keypoint_spec=<yaml>: the sample's own people as results (each keypoint
    where it was labelled, score 1) match every person at OKS 1, so AP is 1 by definition."""
    from helpers.tiny_models import load_script

    truth = REPO / "data" / "sample" / "annotations" / "val.json"
    people = json.loads(truth.read_text())["annotations"]
    results = [{"image_id": p["image_id"], "category_id": 1, "keypoints": p["keypoints"],
                "score": 1.0} for p in people]
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    metrics = load_script("evaluate_results").main([
        "data=custom", f"keypoint_spec={CONF / 'keypoints' / 'coco.yaml'}",
        f"annotations={truth}", f"results={path}"])
    assert metrics["AP"] == pytest.approx(1.0)
