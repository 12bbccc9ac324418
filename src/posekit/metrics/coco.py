"""COCO keypoint AP/AR (object keypoint similarity) through pycocotools, for any keypoint set."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from torch import Tensor

from posekit.core.boxes import clip_bbox, finite_numbers
from posekit.core.coco_checks import MAX_COORDINATE, absurd_coordinate, check_coco_ids
from posekit.metrics.base import KeypointMetric
from posekit.metrics.oks import instance_scores, oks_nms_by_image

log = logging.getLogger(__name__)

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
UNDEFINED = -1.0  # pycocotools' value of a summary with no ground truth to compute it on
# OKS scale of the crowdposetools / xtcocotools ``use_area=False`` convention: 0.53 x box area
BOX_AREA_FACTOR = 0.53
# person score from the box and keypoint scores: "bbox_keypoint" (box x mean of the keypoint
# scores above the threshold: HRNet, mmpose's default), "bbox_rle" (box + mean + max of the
# keypoint scores: mmpose's CocoMetric score_mode='bbox_rle', its RLE configs) or
# "bbox_alphapose" (box + mean + 1.25 max: AlphaPose's scripts/validate.py)
RESCORING = ("bbox_keypoint", "bbox_rle", "bbox_alphapose")
_MAX_WEIGHT = {"bbox_rle": 1.0, "bbox_alphapose": 1.25}  # the additive rescorings' max term
# the instance area OKS-NMS divides by: "box" (the person box w x h) or "padded" (the crop's
# w x h in image pixels: the box fixed to the input aspect ratio and padded, x1.25: the
# official HRNet code's all_boxes area and mmpose's bbox_scales product)
NMS_AREAS = ("box", "padded")


def additive_instance_scores(
    keypoint_scores: np.ndarray, box_scores: np.ndarray, max_weight: float = 1.0
) -> np.ndarray:
    """Person scores (M,): box score + mean + ``max_weight`` x max of the keypoint scores
    (M, K): mmpose's ``score_mode='bbox_rle'`` (weight 1), AlphaPose's validation (1.25)."""
    return box_scores + keypoint_scores.mean(axis=1) + max_weight * keypoint_scores.max(axis=1)


_PLAIN = frozenset({int, float})  # what JSON numbers and tolist() give: checked in C


def load_coco_gt(ann_file: Path) -> dict:
    """The parsed annotation json, with the keys pycocotools' keypoint evaluation reads checked."""
    if not ann_file.is_file():
        raise FileNotFoundError(f"COCO annotation file not found: {ann_file}")
    try:
        with open(ann_file) as f:
            dataset = json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(f"COCO annotation file {ann_file} is not valid JSON: {err}") from err
    for key in ("images", "annotations", "categories"):
        if key not in dataset:
            raise KeyError(f"{ann_file}: COCO annotations lack '{key}'")
    if not dataset["categories"]:
        raise ValueError(f"{ann_file}: no categories")
    check_coco_ids(dataset, ann_file)
    return dataset


BACKENDS = ("pycocotools", "faster_coco_eval")


def coco_index(dataset: dict, backend: str = "pycocotools") -> COCO:
    """A ``COCO`` index (pycocotools', or faster-coco-eval's) over an in-memory dataset
    (quietly)."""
    if backend not in BACKENDS:
        raise ValueError(f"COCO evaluation backend '{backend}' is not one of {BACKENDS}")
    if backend == "faster_coco_eval":
        from faster_coco_eval import COCO as FasterCOCO

        coco = FasterCOCO()
    else:
        coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def run_cocoeval(gt: COCO, results: list[dict[str, Any]], sigmas: np.ndarray) -> COCOeval:
    """The keypoint evaluation (evaluate, accumulate, summarize) with custom sigmas, by the
    backend that built ``gt`` (:func:`coco_index`)."""
    with contextlib.redirect_stdout(io.StringIO()):
        # loadRes adds area, bbox and id to each dict: shallow copies keep the caller's intact
        detections = gt.loadRes([dict(result) for result in results])
        if type(gt) is COCO:
            evaluator = COCOeval(gt, detections, iouType="keypoints")
        else:
            from faster_coco_eval import COCOeval_faster

            evaluator = COCOeval_faster(gt, detections, iouType="keypoints")
        evaluator.params.kpt_oks_sigmas = sigmas
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


class CocoKeypointAP(KeypointMetric):
    """COCO OKS-based AP/AR of the keypoint predictions, evaluated by pycocotools.

    Args:
        ann_file: COCO-style keypoint annotation json.
        sigmas: (K,) OKS sigmas; default: the keypoint spec's (``spec``), which K must match.
        use_detections: predictions come from detected boxes; run OKS-NMS per image.
        score_threshold: keypoint scores above it enter the instance rescoring.
        nms_threshold: OKS above which a lower-scored instance of the same image is dropped.
        use_area: the OKS scale (and the area ranges) come from the annotations' ``area``
            (missing ones get the box's w * h); ``False`` takes 0.53 x the box area for every
            annotation, the convention of crowdposetools and of xtcocotools' ``use_area=False``
            (CrowdPose, AI Challenger).
        keypoints_in_file: keypoints per annotation in ``ann_file`` when it has more than K
            (Halpe-26 scored against the 136-keypoint Halpe files): the first K are evaluated.
        backend: ``pycocotools`` (the reference) or ``faster_coco_eval`` (the same numbers on
            the fixtures, C++ matching: faster on large sets).
        parts: optional ``{name: (start, end)}`` keypoint ranges also scored on their own, as
            the whole-body evaluations do (Halpe: body, foot, face, hand): ``AP/<name>`` and
            ``AR/<name>``; a person counts for a part only when that part has labelled keypoints.
        rescoring: one of ``RESCORING``: "bbox_keypoint" (default), "bbox_rle" (mmpose RLE) or
            "bbox_alphapose" (AlphaPose).
        nms_area: one of ``NMS_AREAS``: the area OKS-NMS reads, "box" (the person box, default)
            or "padded" (the crop's area: official HRNet code and mmpose; needs meta "scale").

    Annotations without ``iscrowd`` count as not crowded; ``num_keypoints`` is always counted
    from the visibility flags, and people whose box is empty once clipped to the image
    (:func:`posekit.core.boxes.clip_bbox`) are left out: the data loader skips both, so neither
    counts as a miss. Each prediction's instance score is
    ``bbox_score * mean(keypoint scores > score_threshold)`` (0 when none is above, as the official
    HRNet code and mmpose), or with ``rescoring="bbox_rle"`` ``bbox_score + mean + max`` of the
    keypoint scores (``"bbox_alphapose"``: ``+ 1.25 max``). With ``use_detections``, OKS-NMS
    (areas from the predicted boxes, or the padded crops with ``nms_area="padded"``) runs on
    these rescored instances before evaluation. All images of ``ann_file`` are evaluated.

    ``compute()`` returns ``AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl`` as fractions
    (a number pycocotools cannot compute, its ``-1`` where an area range has no ground truth, is
    absent); without predictions it returns ``{}`` (AP cannot be computed: absent, never 0).
    ``results()`` gives the COCO results list that was evaluated; ``evaluate_results(results)``
    scores any results list (e.g. another method's) the same way.
    """

    meta_keys: ClassVar[tuple[str, ...]] = ("bbox", "bbox_score", "image_id")
    stat_keys: ClassVar[tuple[str, ...]] = STAT_KEYS

    def __init__(
        self,
        ann_file: str,
        sigmas: Sequence[float] | None = None,
        use_detections: bool = False,
        score_threshold: float = 0.2,
        nms_threshold: float = 0.9,
        use_area: bool = True,
        keypoints_in_file: int | None = None,
        parts: Mapping[str, Sequence[int]] | None = None,
        rescoring: str = "bbox_keypoint",
        nms_area: str = "box",
        backend: str = "pycocotools",
        **kwargs: Any,
    ) -> None:
        for name, value, allowed in (
            ("rescoring", rescoring, RESCORING), ("nms_area", nms_area, NMS_AREAS)
        ):
            if value not in allowed:
                raise ValueError(f"{type(self).__name__}: {name} must be one of {allowed}, "
                                 f"got {value!r}")
        self.rescoring, self.nms_area = rescoring, nms_area
        if nms_area == "padded":  # the crops' (w, h) in image pixels, per instance
            self.meta_keys = (*type(self).meta_keys, "scale")
        if sigmas is None:
            if kwargs.get("spec") is None:
                raise ValueError(f"{type(self).__name__}: give sigmas or the keypoint spec")
            sigmas = kwargs["spec"].sigmas
        sigma_array = np.asarray([float(s) for s in sigmas], dtype=np.float64)  # (K,)
        if sigma_array.size == 0:
            raise ValueError(f"{type(self).__name__}: sigmas is empty")
        super().__init__(num_keypoints=int(sigma_array.size), **kwargs)
        self.sigmas = sigma_array
        self.ann_file = Path(ann_file)
        self.use_detections = bool(use_detections)
        self.score_threshold = float(score_threshold)
        self.nms_threshold = float(nms_threshold)
        self.use_area = bool(use_area)
        self.keypoints_in_file = int(keypoints_in_file or sigma_array.size)
        self.parts = self._check_parts(parts or {})
        self.backend = str(backend)
        self._coco = coco_index(self._load_annotations(), self.backend)
        self.category_id = int(self._coco.dataset["categories"][0]["id"])
        self._part_cocos = {
            name: coco_index(_keypoint_slice(self._coco.dataset, start, end), self.backend)
            for name, (start, end) in self.parts.items()
        }

    def _check_parts(self, parts: Mapping[str, Sequence[int]]) -> dict[str, tuple[int, int]]:
        checked = {}
        for name, bounds in parts.items():
            start, end = (int(v) for v in bounds)
            if not 0 <= start < end <= self.num_keypoints:
                raise ValueError(
                    f"CocoKeypointAP: part '{name}' = [{start}, {end}) is not a keypoint range "
                    f"within 0..{self.num_keypoints}"
                )
            checked[str(name)] = (start, end)
        return checked

    def _load_annotations(self) -> dict:
        dataset = load_coco_gt(self.ann_file)
        k, in_file = self.num_keypoints, self.keypoints_in_file
        sizes = {im.get("id"): (im.get("width"), im.get("height")) for im in dataset["images"]}
        kept, dropped = [], 0
        for i, ann in enumerate(dataset["annotations"]):
            where = f"{self.ann_file}: annotations[{i}] (id {ann.get('id', '?')})"
            missing = [key for key in ("id", "image_id", "bbox", "keypoints") if key not in ann]
            if missing:
                raise ValueError(f"{where}: missing required keys {missing}")
            if len(ann["keypoints"]) != 3 * in_file:
                raise ValueError(
                    f"{where}: {len(ann['keypoints'])} keypoint values, expected 3 * {in_file}; "
                    "check that the keypoint spec (and keypoints_in_file) match this file"
                )
            if not finite_numbers(ann["keypoints"]) or not finite_numbers(ann["bbox"]):
                raise ValueError(f"{where}: keypoints and bbox must be finite numbers")
            absurd = absurd_coordinate([*ann["keypoints"], *ann["bbox"]])
            if absurd is not None:
                raise ValueError(
                    f"{where}: {absurd!r} is no pixel coordinate (beyond {MAX_COORDINATE:g} px "
                    "or float32's range): fix or drop the record"
                )
            ann["keypoints"] = ann["keypoints"][: 3 * k]
            # counted from the flags, whatever the file says: a person whose keypoints are all
            # unlabelled is ignored here as the loader skips it (num_keypoints 0)
            ann["num_keypoints"] = int(sum(1 for v in ann["keypoints"][2::3] if v > 0))
            ann.setdefault("iscrowd", 0)
            box, _ = clip_bbox(ann["bbox"], *sizes.get(ann["image_id"], (None, None)))
            if box is None and not ann["iscrowd"]:
                dropped += 1  # the loader skips it too (posekit.core.boxes): not a miss
                continue
            ann.setdefault("category_id", dataset["categories"][0]["id"])
            box_area = float(ann["bbox"][2] * ann["bbox"][3])
            if not self.use_area:
                ann["area"] = BOX_AREA_FACTOR * box_area
            elif "area" not in ann:
                ann["area"] = box_area
            kept.append(ann)
        if dropped:
            log.info(
                "%s: %d people with an empty box (zero or negative size, or outside the image) "
                "left out of the ground truth, as the data loader skips them",
                self.ann_file,
                dropped,
            )
        dataset["annotations"] = kept
        return dataset

    def _build_results(
        self, states: dict[str, Tensor] | None, as_lists: bool = True
    ) -> list[dict[str, Any]]:
        """COCO result dicts of the de-duplicated states, by sample index (with NMS: by image).

        ``as_lists=False`` gives each ``keypoints`` as a (3K,) float64 row of one array, for
        evaluation in this process: no Python float per value, and pycocotools' ``loadRes``
        takes its min and max without converting a list."""
        if states is None:
            return []
        keypoints = states["pred_keypoints"].double().cpu().numpy()  # (N, K, 2)
        kpt_scores = states["pred_scores"].double().cpu().numpy()  # (N, K)
        boxes = states["bbox"].double().cpu().numpy()  # (N, 4)
        box_scores = states["bbox_score"].double().cpu().numpy()  # (N,)
        image_ids = states["image_id"].cpu().numpy()  # (N,)

        if self.rescoring in _MAX_WEIGHT:
            person_scores = additive_instance_scores(
                kpt_scores, box_scores, _MAX_WEIGHT[self.rescoring]
            )  # (N,)
        else:
            person_scores = instance_scores(kpt_scores, box_scores, self.score_threshold)

        order = np.arange(len(image_ids))
        if self.use_detections:
            if self.nms_area == "padded":
                areas = states["scale"].double().cpu().numpy().prod(axis=1)  # (N,)
            else:
                areas = boxes[:, 2] * boxes[:, 3]
            order = oks_nms_by_image(
                keypoints, person_scores, areas, image_ids, self.sigmas, self.nms_threshold
            )

        flat = np.concatenate([keypoints, kpt_scores[..., None]], axis=-1).reshape(
            len(image_ids), -1
        )  # (N, 3K)
        rows = flat[order]  # (M, 3K)
        return [
            {"image_id": image_id, "category_id": self.category_id, "keypoints": row,
             "score": score}
            for image_id, row, score in zip(
                image_ids[order].tolist(),
                rows.tolist() if as_lists else list(rows),
                person_scores[order].tolist(),
            )
        ]

    def _check_results(self, results: list[dict[str, Any]], source: str) -> None:
        if not results:
            raise ValueError(
                f"{source}: the results list is empty; there is nothing to evaluate (AP is not "
                "0 but undefined): check that the predictions were written"
            )
        known = set(self._coco.getImgIds())
        for i, result in enumerate(results):
            where = f"{source}: result [{i}]"
            missing = [key for key in ("image_id", "keypoints", "score") if key not in result]
            if missing:
                raise ValueError(f"{where}: missing required keys {missing}")
            if result["image_id"] not in known:
                raise ValueError(
                    f"{where}: image_id {result['image_id']} is not in {self.ann_file}; "
                    "the results belong to another split or data set"
                )
            if len(result["keypoints"]) != 3 * self.num_keypoints:
                raise ValueError(
                    f"{where}: {len(result['keypoints'])} keypoint values, expected "
                    f"3 * {self.num_keypoints} (x, y, score per keypoint)"
                )
            keypoints = result["keypoints"]
            if type(keypoints) is np.ndarray:  # a row of _build_results(as_lists=False)
                plain = keypoints.dtype == np.float64
            else:
                plain = _PLAIN.issuperset(map(type, keypoints))
            if not (plain and type(result["score"]) in _PLAIN):
                values = [*result["keypoints"], result["score"]]
                if not all(isinstance(v, (int, float)) for v in values):
                    self._refuse_values(where, result)
        values = np.array([r["keypoints"] for r in results], dtype=np.float64)  # (M, 3K)
        scores = np.array([r["score"] for r in results], dtype=np.float64)  # (M,)
        bad = ~(np.isfinite(values).all(axis=1) & np.isfinite(scores))
        if bad.any():
            i = int(np.argmax(bad))
            self._refuse_values(f"{source}: result [{i}]", results[i])

    @staticmethod
    def _refuse_values(where: str, result: dict[str, Any]) -> None:
        raise ValueError(
            f"{where} (image_id {result['image_id']}): keypoints and score must be "
            "finite numbers; found NaN, inf or a non-number (OKS would count a NaN "
            "keypoint as a perfect match)"
        )

    def _summaries(self, evaluator: COCOeval) -> dict[str, float]:
        """The reported numbers of one evaluation of all images."""
        return {key: float(value) for key, value in zip(STAT_KEYS, evaluator.stats)}

    def _evaluate(
        self, results: list[dict[str, Any]], source: str = "CocoKeypointAP"
    ) -> dict[str, float]:
        self._check_results(results, source)
        values = self._summaries(run_cocoeval(self._coco, results, self.sigmas))
        for part, (start, end) in self.parts.items():
            sliced = [
                {**r, "keypoints": r["keypoints"][3 * start : 3 * end]} for r in results
            ]
            stats = run_cocoeval(self._part_cocos[part], sliced, self.sigmas[start:end]).stats
            values[f"AP/{part}"], values[f"AR/{part}"] = float(stats[0]), float(stats[5])
        # pycocotools' -1: no ground truth in that area range or group; absent, not a number
        return {name: value for name, value in values.items() if value != UNDEFINED}

    def compute(self) -> dict[str, Tensor]:
        results = self._build_results(self._collect(), as_lists=False)
        return self._scalars(self._evaluate(results)) if results else {}

    def results(self) -> list[dict[str, Any]]:
        """The de-duplicated (and, with detections, OKS-NMS filtered) COCO results list, with
        ``image_id``, ``category_id``, flat ``keypoints`` [x, y, score] * K and instance ``score``;
        gathered over processes under DDP, ready for ``json.dump``."""
        return self._build_results(self._collect_synced())

    def evaluate_results(
        self, results: list[dict[str, Any]], source: str = "results"
    ) -> dict[str, float]:
        """Score a COCO results list as given (no rescoring, no NMS): e.g. another method's
        ``predictions.json``. ``source`` names the list in error messages."""
        return self._evaluate(results, source)


def _keypoint_slice(dataset: dict, start: int, end: int) -> dict:
    """A copy of a keypoint dataset with keypoints [start, end) only and their labelled count."""
    annotations = []
    for ann in dataset["annotations"]:
        keypoints = ann["keypoints"][3 * start : 3 * end]
        num = int(sum(1 for v in keypoints[2::3] if v > 0))
        annotations.append({**ann, "keypoints": keypoints, "num_keypoints": num})
    return {**dataset, "annotations": annotations}
