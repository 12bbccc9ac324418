"""COCO-format person keypoint annotations and person-detection results files."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from posekit.core.io import read_json
from posekit.data.records import PersonRecord, SkipCounter

log = logging.getLogger(__name__)


def _require_keys(obj: dict, keys: tuple[str, ...], where: str) -> None:
    missing = [key for key in keys if key not in obj]
    if missing:
        raise ValueError(f"{where}: missing required keys {missing}")


def load_coco_dataset(ann_file: str | Path) -> dict:
    """Read a COCO keypoint json and check the keys posekit needs."""
    data = read_json(ann_file, "COCO annotation file")
    if not isinstance(data, dict):
        raise ValueError(f"COCO annotation file {ann_file}: expected a JSON object at the top")
    _require_keys(data, ("images", "annotations"), f"COCO annotation file {ann_file}")
    for i, image in enumerate(data["images"]):
        _require_keys(image, ("id", "file_name"), f"{ann_file}: images[{i}]")
    return data


def _sanitize_bbox(bbox, width: float | None, height: float | None) -> np.ndarray | None:
    """Clip an xywh box to the image (the COCO convention); None if nothing is left."""
    x, y, w, h = (float(v) for v in bbox)
    x1, y1 = max(0.0, x), max(0.0, y)
    x2, y2 = x + max(0.0, w), y + max(0.0, h)
    if width is not None and height is not None:
        x2, y2 = min(width - 1.0, x2), min(height - 1.0, y2)
    if x2 <= x1 or y2 <= y1:
        return None
    return np.array([x1, y1, x2 - x1, y2 - y1], dtype=np.float32)


def load_coco_records(
    ann_file: str | Path,
    image_dir: str | Path,
    num_keypoints: int,
    keypoints_in_file: int | None = None,
) -> list[PersonRecord]:
    """Ground-truth person records of a COCO-format keypoint file.

    Crowd annotations, people without labelled keypoints and boxes of zero size are skipped, as
    the HRNet and mmpose code bases do; the count is logged once. ``keypoints_in_file`` (when the
    file has more keypoints per person than the spec, e.g. Halpe-26 read from the 136-keypoint
    Halpe files) keeps the first ``num_keypoints`` of each annotation.
    """
    in_file = keypoints_in_file or num_keypoints
    if in_file < num_keypoints:
        raise ValueError(
            f"{ann_file}: keypoints_in_file={in_file} is fewer than the spec's {num_keypoints}"
        )
    data = load_coco_dataset(ann_file)
    images = {image["id"]: image for image in data["images"]}
    skipped = SkipCounter(str(ann_file))
    records = []
    for i, ann in enumerate(data["annotations"]):
        where = f"{ann_file}: annotations[{i}] (id {ann.get('id', '?')})"
        _require_keys(ann, ("image_id", "bbox", "keypoints"), where)
        if ann["image_id"] not in images:
            raise ValueError(f"{where}: image_id {ann['image_id']} is not in 'images'")
        keypoints = np.asarray(ann["keypoints"], dtype=np.float32)
        if keypoints.size != 3 * in_file:
            raise ValueError(
                f"{where}: {keypoints.size} keypoint values, expected {3 * in_file} "
                f"(x, y, v for {in_file} keypoints); check that data.keypoints (and "
                "data.keypoints_in_file) match this annotation file"
            )
        keypoints = keypoints.reshape(in_file, 3)[:num_keypoints]
        if ann.get("iscrowd", 0):
            skipped.skip("crowd annotations", ann.get("id", i))
            continue
        if not (keypoints[:, 2] > 0).any():
            skipped.skip("people without labelled keypoints", ann.get("id", i))
            continue
        image = images[ann["image_id"]]
        bbox = _sanitize_bbox(ann["bbox"], image.get("width"), image.get("height"))
        if bbox is None:
            skipped.skip("boxes of zero size", ann.get("id", i))
            continue
        records.append(
            PersonRecord(
                image_path=str(Path(image_dir) / image["file_name"]),
                image_id=int(ann["image_id"]),
                bbox=bbox,
                keypoints=keypoints,
                area=float(ann.get("area", bbox[2] * bbox[3])),
                ann_id=int(ann.get("id", i)),
            )
        )
    if skipped.reasons:
        log.info(skipped.summary())
    return records


def load_detection_records(
    det_file: str | Path,
    ann_file: str | Path,
    image_dir: str | Path,
    num_keypoints: int,
    score_threshold: float = 0.0,
) -> list[PersonRecord]:
    """Person boxes from a COCO results file (``image_id``, ``bbox``, ``score``, ``category_id``).

    Image file names come from the annotation file; only the person category (1) is kept and
    boxes scoring below ``score_threshold`` are dropped.
    """
    data = load_coco_dataset(ann_file)
    images = {image["id"]: image for image in data["images"]}
    detections = read_json(det_file, "person detection results file")
    if not isinstance(detections, list):
        raise ValueError(f"detection results file {det_file}: expected a JSON list of detections")
    skipped = SkipCounter(str(det_file))
    records = []
    for i, det in enumerate(detections):
        where = f"{det_file}: detection [{i}]"
        _require_keys(det, ("image_id", "bbox", "score"), where)
        if det.get("category_id", 1) != 1:
            continue
        if det["image_id"] not in images:
            raise ValueError(
                f"{where}: image_id {det['image_id']} is not in the annotation file {ann_file}; "
                "the detections belong to another split or data set"
            )
        if det["score"] < score_threshold:
            skipped.skip(f"boxes scoring below {score_threshold}", i)
            continue
        image = images[det["image_id"]]
        bbox = _sanitize_bbox(det["bbox"], image.get("width"), image.get("height"))
        if bbox is None:
            skipped.skip("boxes of zero size", i)
            continue
        records.append(
            PersonRecord(
                image_path=str(Path(image_dir) / image["file_name"]),
                image_id=int(det["image_id"]),
                bbox=bbox,
                keypoints=np.zeros((num_keypoints, 3), dtype=np.float32),
                bbox_score=float(det["score"]),
                area=float(bbox[2] * bbox[3]),
            )
        )
    if skipped.reasons:
        log.info(skipped.summary())
    return records
