"""COCO keypoint AP/AR (object keypoint similarity) through pycocotools, for any keypoint set."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from torch import Tensor

from posekit.metrics.base import KeypointMetric

STAT_KEYS = (
    "AP",
    "AP50",
    "AP75",
    "APm",
    "APl",
    "AR",
    "AR50",
    "AR75",
    "ARm",
    "ARl",
)  # COCOeval.stats order


def oks_matrix(keypoints: np.ndarray, areas: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """Object keypoint similarity between every pair of predicted instances.

    Args:
        keypoints: (N, K, 2) keypoint positions.
        areas: (N,) instance areas; a pair uses the mean of its two areas as the scale s^2.
        sigmas: (K,) per-keypoint OKS sigmas.

    Returns:
        (N, N) OKS, ``mean_k exp(-d_k^2 / (2 s^2 (2 sigma_k)^2))``.
    """
    d2 = ((keypoints[:, None] - keypoints[None]) ** 2).sum(axis=-1)  # (N, N, K)
    scale = (areas[:, None] + areas[None]) / 2.0  # (N, N)
    variances = (2.0 * sigmas) ** 2  # (K,)
    e = d2 / (2.0 * variances * (scale[..., None] + np.spacing(1)))
    return np.exp(-e).mean(axis=-1)


def oks_nms(
    keypoints: np.ndarray,
    scores: np.ndarray,
    areas: np.ndarray,
    sigmas: np.ndarray,
    threshold: float,
) -> list[int]:
    """Greedy OKS non-maximum suppression.

    Args:
        keypoints: (N, K, 2), scores: (N,), areas: (N,), sigmas: (K,).
        threshold: an instance is dropped when its OKS with a kept, higher-scored one exceeds it.

    Returns:
        Indices of the kept instances, highest score first.
    """
    oks = oks_matrix(keypoints, areas, sigmas)
    remaining = list(np.argsort(-scores, kind="stable"))
    keep: list[int] = []
    while remaining:
        best = int(remaining[0])
        keep.append(best)
        remaining = [j for j in remaining[1:] if oks[best, j] <= threshold]
    return keep


class CocoKeypointAP(KeypointMetric):
    """COCO OKS-based AP/AR of the keypoint predictions, evaluated by pycocotools.

    Args:
        ann_file: COCO-style keypoint annotation json; annotations without ``area`` get the area
            of their bbox (w * h).
        sigmas: (K,) OKS sigmas; K must match the annotations' keypoint count.
        use_detections: predictions come from detected boxes; run OKS-NMS per image.
        score_threshold: keypoint scores above it enter the instance rescoring.
        nms_threshold: OKS above which a lower-scored instance of the same image is dropped.

    Each prediction's instance score is ``bbox_score * mean(keypoint scores > score_threshold)``
    (the mean of all keypoint scores when none is above). With ``use_detections``, OKS-NMS
    (areas from the predicted boxes) runs on these rescored instances before evaluation.
    All images of ``ann_file`` are evaluated.

    ``compute()`` returns ``AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl`` as fractions
    (pycocotools' ``-1`` where an area range has no ground truth; all zeros without predictions).
    ``results()`` gives the COCO results list that was evaluated.
    """

    meta_keys: ClassVar[tuple[str, ...]] = ("bbox", "bbox_score", "image_id")

    def __init__(
        self,
        ann_file: str,
        sigmas: Sequence[float],
        use_detections: bool = False,
        score_threshold: float = 0.2,
        nms_threshold: float = 0.9,
        **kwargs: Any,
    ) -> None:
        sigma_array = np.asarray([float(s) for s in sigmas], dtype=np.float64)  # (K,)
        if sigma_array.size == 0:
            raise ValueError("CocoKeypointAP: sigmas is empty")
        super().__init__(num_keypoints=int(sigma_array.size), **kwargs)
        self.sigmas = sigma_array
        self.ann_file = Path(ann_file)
        self.use_detections = bool(use_detections)
        self.score_threshold = float(score_threshold)
        self.nms_threshold = float(nms_threshold)
        self._coco = self._load_annotations()
        self.category_id = int(self._coco.dataset["categories"][0]["id"])

    def _load_annotations(self) -> COCO:
        if not self.ann_file.is_file():
            raise FileNotFoundError(f"COCO annotation file not found: {self.ann_file}")
        with open(self.ann_file) as f:
            dataset = json.load(f)
        for key in ("images", "annotations", "categories"):
            if key not in dataset:
                raise KeyError(f"{self.ann_file}: COCO annotations lack '{key}'")
        if not dataset["categories"]:
            raise ValueError(f"{self.ann_file}: no categories")
        k = self.num_keypoints
        for ann in dataset["annotations"]:
            num_values = len(ann.get("keypoints", ()))
            if num_values != 3 * k:
                raise ValueError(
                    f"{self.ann_file}: annotation {ann.get('id')} has {num_values} keypoint "
                    f"values, expected 3 * {k} for {k} sigmas"
                )
            if "area" not in ann:
                ann["area"] = float(ann["bbox"][2] * ann["bbox"][3])
        coco = COCO()
        coco.dataset = dataset
        with contextlib.redirect_stdout(io.StringIO()):
            coco.createIndex()
        return coco

    def _build_results(self, states: dict[str, Tensor] | None) -> list[dict[str, Any]]:
        """COCO result dicts of the de-duplicated states, by sample index (with NMS: by image)."""
        if states is None:
            return []
        keypoints = states["pred_keypoints"].double().cpu().numpy()  # (N, K, 2)
        kpt_scores = states["pred_scores"].double().cpu().numpy()  # (N, K)
        boxes = states["bbox"].double().cpu().numpy()  # (N, 4)
        box_scores = states["bbox_score"].double().cpu().numpy()  # (N,)
        image_ids = states["image_id"].cpu().numpy()  # (N,)

        above = kpt_scores > self.score_threshold  # (N, K)
        above_mean = (kpt_scores * above).sum(axis=1) / np.maximum(above.sum(axis=1), 1)
        instance_scores = box_scores * np.where(
            above.any(axis=1), above_mean, kpt_scores.mean(axis=1)
        )

        order = np.arange(len(image_ids))
        if self.use_detections:
            areas = boxes[:, 2] * boxes[:, 3]
            kept: list[int] = []
            for image_id in np.unique(image_ids):
                rows = np.flatnonzero(image_ids == image_id)
                keep = oks_nms(
                    keypoints[rows],
                    instance_scores[rows],
                    areas[rows],
                    self.sigmas,
                    self.nms_threshold,
                )
                kept.extend(int(rows[i]) for i in keep)
            order = np.asarray(kept, dtype=np.int64)

        flat = np.concatenate([keypoints, kpt_scores[..., None]], axis=-1).reshape(
            len(image_ids), -1
        )  # (N, 3K)
        return [
            {
                "image_id": int(image_ids[i]),
                "category_id": self.category_id,
                "keypoints": [float(v) for v in flat[i]],
                "score": float(instance_scores[i]),
            }
            for i in order
        ]

    def _evaluate(self, results: list[dict[str, Any]]) -> dict[str, float]:
        if not results:
            return {key: 0.0 for key in STAT_KEYS}
        unknown = sorted({r["image_id"] for r in results} - set(self._coco.getImgIds()))
        if unknown:
            raise ValueError(f"CocoKeypointAP: image ids {unknown[:10]} are not in {self.ann_file}")
        with contextlib.redirect_stdout(io.StringIO()):
            detections = self._coco.loadRes(copy.deepcopy(results))  # loadRes edits its input
            evaluator = COCOeval(self._coco, detections, iouType="keypoints")
            evaluator.params.kpt_oks_sigmas = self.sigmas
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        return {key: float(value) for key, value in zip(STAT_KEYS, evaluator.stats)}

    def compute(self) -> dict[str, Tensor]:
        return self._scalars(self._evaluate(self._build_results(self._collect())))

    def results(self) -> list[dict[str, Any]]:
        """The de-duplicated (and, with detections, OKS-NMS filtered) COCO results list, with
        ``image_id``, ``category_id``, flat ``keypoints`` [x, y, score] * K and instance ``score``;
        gathered over processes under DDP, ready for ``json.dump``."""
        return self._build_results(self._collect_synced())
