"""Tests of posekit.metrics: PCK, MPII PCKh, COCO AP, de-duplication and DDP-style merging."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from posekit.core.mpii_gt import write_mpii_gt_mat
from posekit.metrics import (
    CocoKeypointAP,
    MPIIPCKh,
    PCKMetric,
    oks_nms,
    unique_sample_positions,
)

COCO_SIGMAS = [
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
]  # fmt: skip
COCO_KEYS = ["AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl"]


def make_meta(
    sample_idx: list[int],
    gt_keypoints: torch.Tensor,
    bbox: torch.Tensor,
    image_id: list[int] | None = None,
    bbox_score: list[float] | None = None,
) -> dict[str, torch.Tensor]:
    """Meta dict as the data module gives it; gt_keypoints (N, K, 3), bbox (N, 4)."""
    n = len(sample_idx)
    return {
        "sample_idx": torch.tensor(sample_idx, dtype=torch.int64),
        "gt_keypoints": gt_keypoints.float(),
        "bbox": bbox.float(),
        "bbox_score": torch.tensor(bbox_score if bbox_score is not None else [1.0] * n),
        "image_id": torch.tensor(image_id if image_id is not None else [0] * n, dtype=torch.int64),
        "area": bbox[:, 2] * bbox[:, 3],
    }


def values(result: dict[str, torch.Tensor]) -> dict[str, float]:
    return {key: float(value) for key, value in result.items()}


# ----------------------------------------------------------------------------- PCK


def pck_case() -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """2 samples, 3 keypoints, hand-picked errors (none on a threshold or on the AUC grid).

    sample 0: bbox w=100, h=50 -> normaliser max(w, h) = 100
      kp0 offset (2.7, 3.6)  -> 4.5 px  -> 0.045
      kp1 offset (5.7, 7.6)  -> 9.5 px  -> 0.095
      kp2 offset (0, -30.5)  -> 30.5 px -> 0.305
    sample 1: bbox w=40, h=80 -> normaliser 80
      kp0 offset 0           -> 0.0
      kp1 unlabelled (visibility 0), off by 500 px: must not count
      kp2 offset (7.44, 9.92) -> 12.4 px -> 0.155
    """
    gt = torch.tensor(
        [
            [[50.0, 20.0, 2.0], [60.0, 30.0, 1.0], [70.0, 40.0, 2.0]],
            [[200.0, 100.0, 2.0], [210.0, 110.0, 0.0], [220.0, 120.0, 2.0]],
        ]
    )
    offsets = torch.tensor(
        [
            [[2.7, 3.6], [5.7, 7.6], [0.0, -30.5]],
            [[0.0, 0.0], [300.0, 400.0], [7.44, 9.92]],
        ]
    )
    bbox = torch.tensor([[10.0, 5.0, 100.0, 50.0], [180.0, 60.0, 40.0, 80.0]])
    pred = gt[..., :2] + offsets
    return pred, torch.ones(2, 3), make_meta([0, 1], gt, bbox)


def test_pck_hand_computed() -> None:
    pred, scores, meta = pck_case()
    metric = PCKMetric()
    metric.update(pred, scores, meta)
    result = values(metric.compute())
    assert set(result) == {"PCK@0.05", "PCK@0.1", "PCK@0.2", "PCK-AUC@0.5"}
    # 5 labelled keypoints, normalised errors 0.045, 0.095, 0.305, 0.0, 0.155
    assert result["PCK@0.05"] == pytest.approx(2 / 5)  # 0.045, 0.0
    assert result["PCK@0.1"] == pytest.approx(3 / 5)  # + 0.095
    assert result["PCK@0.2"] == pytest.approx(4 / 5)  # + 0.155
    # alpha = i / 100, i = 0..50 (51 values); an error e is correct for i >= ceil(100 e):
    #   0.0 -> 51, 0.045 -> 46, 0.095 -> 41, 0.155 -> 35, 0.305 -> 20 alphas; total 193
    #   AUC = mean_i (correct_i / 5) = 193 / (5 * 51)
    assert result["PCK-AUC@0.5"] == pytest.approx(193 / 255)
    # per keypoint at 0.1: kp0 2/2, kp1 1/1 (sample 1 unlabelled), kp2 0/2; at 0.2 kp2 is 1/2
    torch.testing.assert_close(metric.per_keypoint(0.1), torch.tensor([1.0, 1.0, 0.0]))
    torch.testing.assert_close(metric.per_keypoint(0.2), torch.tensor([1.0, 1.0, 0.5]))


def test_pck_threshold_keys_and_errors() -> None:
    metric = PCKMetric(thresholds=[0.5, 0.25])
    pred, scores, meta = pck_case()
    metric.update(pred, scores, meta)
    assert set(metric.compute()) == {"PCK@0.5", "PCK@0.25", "PCK-AUC@0.5"}
    with pytest.raises(ValueError, match="norm"):
        PCKMetric(norm="torso")
    with pytest.raises(KeyError, match="gt_keypoints"):
        PCKMetric().update(pred, scores, {"sample_idx": meta["sample_idx"], "bbox": meta["bbox"]})
    with pytest.raises(ValueError, match="pred_scores"):
        PCKMetric().update(pred, scores[:, :2], meta)


def test_unique_sample_positions_keeps_first() -> None:
    positions = unique_sample_positions(torch.tensor([3, 1, 3, 2, 1]))
    assert positions.tolist() == [1, 3, 0]  # sample 1 at 1, sample 2 at 3, sample 3 at 0


def test_pck_dedup_repeated_sample() -> None:
    pred, scores, meta = pck_case()
    reference = PCKMetric()
    reference.update(pred, scores, meta)

    metric = PCKMetric()
    metric.update(pred, scores, meta)
    # DistributedSampler padding repeats sample 0; make the copy wrong so counting it would show
    repeat = {key: value[:1].clone() for key, value in meta.items()}
    metric.update(pred[:1] + 1000.0, scores[:1], repeat)
    assert values(metric.compute()) == pytest.approx(values(reference.compute()))


def random_pck_batch(
    n: int, k: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    gt = torch.rand(n, k, 3, generator=generator) * 100
    gt[..., 2] = (torch.rand(n, k, generator=generator) > 0.2).float()
    pred = gt[..., :2] + torch.randn(n, k, 2, generator=generator) * 8
    bbox = torch.cat([torch.zeros(n, 2), 60 + 40 * torch.rand(n, 2, generator=generator)], dim=1)
    return pred, torch.rand(n, k, generator=generator), make_meta(list(range(n)), gt, bbox)


def test_pck_ddp_merge_equals_single_process() -> None:
    pred, scores, meta = random_pck_batch(n=7, k=5, seed=0)
    single = PCKMetric()
    single.update(pred, scores, meta)

    rank0, rank1 = PCKMetric(), PCKMetric()
    first, second = [0, 1, 2, 3], [4, 5, 6, 0]  # rank 1's last sample is padding (repeat of 0)
    rank0.update(pred[first], scores[first], {key: value[first] for key, value in meta.items()})
    rank1.update(pred[second], scores[second], {key: value[second] for key, value in meta.items()})
    rank0.merge_state(rank1)
    assert values(rank0.compute()) == pytest.approx(values(single.compute()))
    torch.testing.assert_close(rank0.per_keypoint(0.1), single.per_keypoint(0.1))


def test_pck_states_concatenated_as_after_sync() -> None:
    pred, scores, meta = random_pck_batch(n=6, k=4, seed=1)
    reference = PCKMetric()
    reference.update(pred, scores, meta)
    gathered = PCKMetric()
    for half in ([0, 1, 2], [3, 4, 5], [2]):
        gathered.update(pred[half], scores[half], {key: value[half] for key, value in meta.items()})
    for name in gathered._defaults:  # after a DDP sync the "cat" list states are single tensors
        setattr(gathered, name, torch.cat(getattr(gathered, name)))
    assert values(gathered.compute()) == pytest.approx(values(reference.compute()))


# ----------------------------------------------------------------------------- MPII PCKh


def mpii_case(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """3 people, every head box diagonal (30, 40) -> 50 px -> head size 0.6 * 50 = 30 px.

    Returns the mat path, the 1-based gt joints (3, 16, 2) and the missing mask (3, 16).
    """
    rng = np.random.default_rng(0)
    joints = rng.uniform(50, 400, size=(3, 16, 2)).round(1)
    missing = np.zeros((3, 16), dtype=bool)
    missing[2, 0:6] = True  # person 2 has no leg joints
    corners = np.array([[100.0, 50.0], [300.0, 80.0], [20.0, 200.0]])
    headboxes = np.stack([corners, corners + [30.0, 40.0]], axis=1)  # (3, 2, 2)
    path = tmp_path / "mpii_gt_val.mat"
    write_mpii_gt_mat(path, joints, missing, headboxes)
    return path, joints, missing


def direction(length: float) -> np.ndarray:
    return np.array([0.6, 0.8]) * length  # a 2-D offset of the given length


def test_pckh_hand_computed(tmp_path: Path) -> None:
    path, joints, _ = mpii_case(tmp_path)
    offsets = np.zeros((3, 16, 2))
    # person 0: perfect. person 1: head 10 px (0.33 head), both wrists 20 px (0.67),
    # pelvis and thorax 100 px (excluded from the mean). person 2: r_shoulder 2 px (0.067),
    # r_elbow 16 px (0.53); its leg joints are missing.
    offsets[1, 9] = direction(10)
    offsets[1, 10] = offsets[1, 15] = direction(20)
    offsets[1, 6] = offsets[1, 7] = direction(100)
    offsets[2, 12] = direction(2)
    offsets[2, 11] = direction(16)
    pred = torch.tensor(joints - 1.0 + offsets)  # 0-based predictions

    metric = MPIIPCKh(str(path))
    metric.update(pred.float(), torch.ones(3, 16), {"sample_idx": torch.tensor([0, 1, 2])})
    result = values(metric.compute())
    assert set(result) == {
        "PCKh/Head", "PCKh/Shoulder", "PCKh/Elbow", "PCKh/Wrist",
        "PCKh/Hip", "PCKh/Knee", "PCKh/Ankle",
        "PCKh", "PCKh@0.1", "PCKh@0.1/hrnet",
    }  # fmt: skip
    # threshold 0.5 -> 15 px. legs: 2/2 labelled each; other joints 3 labelled each
    assert result["PCKh/Head"] == pytest.approx(100.0)  # 10 px < 15 px
    assert result["PCKh/Shoulder"] == pytest.approx(100.0)
    assert result["PCKh/Elbow"] == pytest.approx((200 / 3 + 100) / 2)  # r_elbow 2/3, l_elbow 3/3
    assert result["PCKh/Wrist"] == pytest.approx(200 / 3)  # 2/3 both sides
    assert result["PCKh/Hip"] == result["PCKh/Knee"] == result["PCKh/Ankle"] == pytest.approx(100.0)
    # Mean without pelvis/thorax: labelled 6 * 2 + 8 * 3 = 36;
    # correct: legs 12 + neck 3 + head 3 + r_wri 2 + r_elb 2 + r_sho 3 + l_sho 3 + l_elb 3
    #          + l_wri 2 = 33
    assert result["PCKh"] == pytest.approx(100 * 33 / 36)  # with pelvis/thorax it would be 37 / 42
    # threshold 0.1 -> 3 px: person 1's head (10 px) fails too, person 2's r_shoulder (2 px) passes
    assert result["PCKh@0.1"] == pytest.approx(100 * 32 / 36)


def test_pckh_hrnet_mean_at_point_one_uses_threshold_0_11(tmp_path: Path) -> None:
    """HRNet's printed Mean@0.1 is pckAll[11] of arange(0, 0.51, 0.01): threshold 0.11."""
    path, joints, _ = mpii_case(tmp_path)
    offsets = np.zeros((3, 16, 2))
    offsets[0, 9] = direction(3.15)  # head size 30 px: 0.105 head sizes, between 0.1 and 0.11
    metric = MPIIPCKh(str(path))
    metric.update(torch.tensor(joints - 1.0 + offsets).float(), torch.ones(3, 16),
                  {"sample_idx": torch.tensor([0, 1, 2])})
    result = values(metric.compute())
    assert result["PCKh@0.1/hrnet"] == pytest.approx(100.0)
    assert result["PCKh@0.1"] == pytest.approx(100 * 35 / 36)  # 36 labelled, the head misses


def test_pckh_one_based_convention_and_subset(tmp_path: Path) -> None:
    path, joints, _ = mpii_case(tmp_path)
    # a tight threshold (0.01 head = 0.3 px) tells a 1 px shift in x and y apart
    exact = MPIIPCKh(str(path), threshold=0.01, low_threshold=0.001)
    exact.update(
        torch.tensor(joints - 1.0).float(),
        torch.ones(3, 16),
        {"sample_idx": torch.tensor([0, 1, 2])},
    )
    assert all(v == pytest.approx(100.0) for v in values(exact.compute()).values())

    unshifted = MPIIPCKh(str(path), threshold=0.01)
    unshifted.update(
        torch.tensor(joints).float(), torch.ones(3, 16), {"sample_idx": torch.tensor([0, 1, 2])}
    )
    assert values(unshifted.compute())["PCKh"] == pytest.approx(0.0)

    # records 0 and 2 only, in any order; record 1 would be wrong everywhere if it were evaluated
    subset = MPIIPCKh(str(path), threshold=0.01)
    subset.update(
        torch.tensor(joints[[2, 0]] - 1.0).float(),
        torch.ones(2, 16),
        {"sample_idx": torch.tensor([2, 0])},
    )
    assert values(subset.compute())["PCKh"] == pytest.approx(100.0)


def test_pckh_errors(tmp_path: Path) -> None:
    path, joints, _ = mpii_case(tmp_path)
    metric = MPIIPCKh(str(path))
    metric.update(torch.zeros(1, 16, 2), torch.ones(1, 16), {"sample_idx": torch.tensor([3])})
    with pytest.raises(IndexError, match="mpii_gt_val.mat"):
        metric.compute()
    with pytest.raises(ValueError, match="16"):
        metric.update(torch.zeros(1, 17, 2), torch.ones(1, 17), {"sample_idx": torch.tensor([0])})
    broken = tmp_path / "broken.mat"
    scipy.io.savemat(str(broken), {"jnt_missing": np.zeros((16, 1))})
    with pytest.raises(KeyError, match="broken.mat"):
        MPIIPCKh(str(broken))


# ----------------------------------------------------------------------------- COCO AP


def person(ann_id: int, image_id: int, box: tuple[float, float, float, float], seed: int) -> dict:
    """A COCO person annotation with 17 keypoints inside ``box``; keypoints 3 and 4 unlabelled."""
    x, y, w, h = box
    rng = np.random.default_rng(seed)
    kpts = np.stack(
        [x + rng.uniform(0.1, 0.9, 17) * w, y + rng.uniform(0.1, 0.9, 17) * h, np.full(17, 2.0)], 1
    )
    kpts[3:5] = 0.0
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "bbox": list(box),
        "area": w * h * 0.6,
        "iscrowd": 0,
        "num_keypoints": 15,
        "keypoints": [round(float(v), 2) for v in kpts.ravel()],
    }


@pytest.fixture()
def coco_file(tmp_path: Path) -> Path:
    """2 images, 3 persons (one medium, two large); person 3 has no "area"."""
    annotations = [
        person(1, 10, (20.0, 30.0, 120.0, 240.0), seed=1),
        person(2, 10, (200.0, 40.0, 50.0, 70.0), seed=2),
        person(3, 11, (60.0, 10.0, 150.0, 260.0), seed=3),
    ]
    del annotations[2]["area"]
    dataset = {
        "images": [{"id": 10, "file_name": "a.jpg", "width": 400, "height": 300},
                   {"id": 11, "file_name": "b.jpg", "width": 400, "height": 300}],
        "annotations": annotations,
        "categories": [
            {"id": 1, "name": "person", "keypoints": [str(i) for i in range(17)], "skeleton": []}
        ],
    }  # fmt: skip
    path = tmp_path / "person_keypoints.json"
    path.write_text(json.dumps(dataset))
    return path


def gt_predictions(
    annotations: list[dict],
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """Ground truth as predictions (keypoint scores 1) with the annotations' boxes and images."""
    kpts = torch.tensor([ann["keypoints"] for ann in annotations], dtype=torch.float64).view(
        len(annotations), -1, 3
    )
    bbox = torch.tensor([ann["bbox"] for ann in annotations], dtype=torch.float64)
    meta = make_meta(
        list(range(len(annotations))), kpts, bbox, image_id=[ann["image_id"] for ann in annotations]
    )
    return kpts[..., :2].float(), torch.ones(kpts.shape[:2]), meta


def coco_eval_directly(ann_file: Path, results: list[dict]) -> np.ndarray:
    """Independent COCOeval on the same results list (area filled here from the bbox)."""
    dataset = json.loads(ann_file.read_text())
    for ann in dataset["annotations"]:
        ann.setdefault("area", ann["bbox"][2] * ann["bbox"][3])
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = dataset
        gt.createIndex()
        evaluator = COCOeval(gt, gt.loadRes(copy.deepcopy(results)), iouType="keypoints")
        evaluator.params.kpt_oks_sigmas = np.array(COCO_SIGMAS)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats


def test_coco_ap_perfect_and_perturbed(coco_file: Path) -> None:
    annotations = json.loads(coco_file.read_text())["annotations"]
    pred, scores, meta = gt_predictions(annotations)

    perfect = CocoKeypointAP(str(coco_file), COCO_SIGMAS)
    perfect.update(pred, scores, meta)
    result = values(perfect.compute())
    assert list(result) == COCO_KEYS
    assert result["AP"] == pytest.approx(1.0)
    assert result["AR"] == pytest.approx(1.0)

    noisy = pred.clone()
    noisy[0] += (
        torch.randn(noisy[0].shape, generator=torch.Generator().manual_seed(0)) * 8
    )  # person 1 off
    noisy[2, :8] += 25.0  # person 3 (no "area" in the file) partly off
    perturbed = CocoKeypointAP(str(coco_file), COCO_SIGMAS)
    perturbed.update(noisy, scores, meta)
    result = values(perturbed.compute())
    assert result["AP"] < 1.0
    results = perturbed.results()
    assert [r["image_id"] for r in results] == [10, 10, 11]
    assert results[0]["category_id"] == 1 and len(results[0]["keypoints"]) == 3 * 17
    direct = coco_eval_directly(coco_file, results)
    assert list(result.values()) == pytest.approx(direct.tolist(), abs=1e-6)


def test_coco_rescoring_dedup_and_empty(coco_file: Path) -> None:
    annotations = json.loads(coco_file.read_text())["annotations"]
    pred, _, meta = gt_predictions(annotations)
    scores = torch.full((3, 17), 0.1)
    scores[0, :10] = 0.9  # person 1: 10 keypoints above 0.2 -> mean 0.9; person 2, 3: none above
    meta["bbox_score"] = torch.tensor([0.8, 0.5, 1.0])
    metric = CocoKeypointAP(str(coco_file), COCO_SIGMAS, score_threshold=0.2)
    metric.update(pred, scores, meta)
    metric.update(
        pred[:1], scores[:1], {key: value[:1] for key, value in meta.items()}
    )  # padding repeat
    results = metric.results()
    assert len(results) == 3
    # 0.8 * 0.9; no keypoint above 0.2 -> 0 (official HRNet and mmpose), twice
    assert [r["score"] for r in results] == pytest.approx([0.72, 0.0, 0.0])

    empty = CocoKeypointAP(str(coco_file), COCO_SIGMAS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchmetrics warns about compute before update
        assert values(empty.compute()) == {}  # AP cannot be computed: absent, never 0
    assert empty.results() == []
    with pytest.raises(ValueError, match="results list is empty"):
        empty.evaluate_results([], source="predictions.json")


def test_coco_rejects_wrong_keypoint_count(coco_file: Path) -> None:
    with pytest.raises(ValueError, match="3 \\* 14"):
        CocoKeypointAP(str(coco_file), COCO_SIGMAS[:14])


def test_oks_nms_removes_duplicate(coco_file: Path) -> None:
    annotations = json.loads(coco_file.read_text())["annotations"]
    pred, scores, meta = gt_predictions(annotations)
    # a second, lower-scored detection of person 1 (1 px away) as an extra record
    pred = torch.cat([pred, pred[:1] + 1.0])
    scores = torch.cat([scores, scores[:1]])
    meta = {key: torch.cat([value, value[:1]]) for key, value in meta.items()}
    meta["sample_idx"][-1] = 3
    # the copy outranks person 2, so without NMS it is a false positive above a true positive
    meta["bbox_score"] = torch.tensor([0.9, 0.5, 0.9, 0.7])

    # oks_nms directly: row 0 (the 1 px copy of row 1, lower score) goes, row 2 (another person)
    # stays
    kpts = pred.double().numpy()[[3, 0, 1]]  # (3, 17, 2)
    areas = (meta["bbox"][:, 2] * meta["bbox"][:, 3]).double().numpy()[[3, 0, 1]]
    keep = oks_nms(kpts, np.array([0.6, 0.9, 0.8]), areas, np.array(COCO_SIGMAS), threshold=0.9)
    assert keep == [1, 2]

    without_nms = CocoKeypointAP(str(coco_file), COCO_SIGMAS)
    without_nms.update(pred, scores, meta)
    assert len(without_nms.results()) == 4

    with_nms = CocoKeypointAP(str(coco_file), COCO_SIGMAS, use_detections=True)
    with_nms.update(pred, scores, meta)
    results = with_nms.results()
    assert len(results) == 3
    assert sorted(r["score"] for r in results) == pytest.approx(
        [0.5, 0.9, 0.9]
    )  # the 0.7 copy is gone
    assert values(with_nms.compute())["AP"] == pytest.approx(1.0)
    assert values(without_nms.compute())["AP"] < 1.0


def test_coco_real_fixture_gt_is_perfect(fixtures_dir: Path) -> None:
    ann_file = fixtures_dir / "coco" / "test_coco.json"
    annotations = [
        ann for ann in json.loads(ann_file.read_text())["annotations"]
        if ann["num_keypoints"] > 0 and not ann["iscrowd"]
    ]  # fmt: skip
    pred, scores, meta = gt_predictions(annotations)
    metric = CocoKeypointAP(str(ann_file), COCO_SIGMAS)
    metric.update(pred, scores, meta)
    assert values(metric.compute())["AP"] == pytest.approx(1.0)
