"""COCO-format person keypoint annotations and person-detection results files."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from posekit.core.boxes import clip_bbox, finite_numbers
from posekit.core.coco_checks import MAX_COORDINATE, absurd_coordinate, check_coco_ids
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
    check_coco_ids(data, ann_file)
    return data


def _check_numbers(values, count: int, what: str, where: str) -> None:
    """Refuse NaN, inf, strings or a wrong count in a list of coordinates, naming the record."""
    if not isinstance(values, (list, tuple)) or len(values) != count:
        size = len(values) if isinstance(values, (list, tuple)) else type(values).__name__
        raise ValueError(f"{where}: '{what}' must be a list of {count} numbers, got {size}")
    if not finite_numbers(values):
        bad = next(v for v in values if not finite_numbers([v]))
        raise ValueError(
            f"{where}: '{what}' holds {bad!r}; coordinates must be finite numbers (an "
            "unlabelled keypoint is 0, 0, 0)"
        )
    absurd = absurd_coordinate(values)
    if absurd is not None:
        raise ValueError(
            f"{where}: '{what}' holds {absurd!r}, beyond {MAX_COORDINATE:g} pixels (or float32's "
            "range): the file is broken; fix or drop the record"
        )


def image_size(image: dict) -> tuple[int, int] | None:
    """(W, H) of an ``images`` entry, None where the file gives no width and height."""
    width, height = image.get("width"), image.get("height")
    if not finite_numbers([width, height]) or width <= 0 or height <= 0:
        return None
    return int(width), int(height)


def load_coco_records(
    ann_file: str | Path,
    image_dir: str | Path,
    num_keypoints: int,
    keypoints_in_file: int | None = None,
    min_visibility: float | None = None,
) -> list[PersonRecord]:
    """Ground-truth person records of a COCO-format keypoint file.

    Crowd annotations, people without labelled keypoints and boxes of zero or negative size or
    outside the image are skipped (the rule of :func:`posekit.core.boxes.clip_bbox`, which the
    metrics share, so a skipped person is not a miss), as the HRNet and mmpose code bases do;
    the counts are logged once, by reason. Keypoints or boxes that are not finite numbers are
    refused, naming the file and the record. ``keypoints_in_file`` (when the
    file has more keypoints per person than the spec, e.g. Halpe-26 read from the 136-keypoint
    Halpe files) keeps the first ``num_keypoints`` of each annotation. ``min_visibility``: a
    keypoint counts as labelled when its v is at least this (v becomes 1, else 0; AlphaPose's
    Halpe reader: 0.35); None: v > 0, as in the file.
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
        if len(ann["keypoints"]) != 3 * in_file:
            raise ValueError(
                f"{where}: {len(ann['keypoints'])} keypoint values, expected {3 * in_file} "
                f"(x, y, v for {in_file} keypoints); check that data.keypoints (and "
                "data.keypoints_in_file) match this annotation file"
            )
        _check_numbers(ann["keypoints"], 3 * in_file, "keypoints", where)
        _check_numbers(ann["bbox"], 4, "bbox", where)
        keypoints = np.asarray(ann["keypoints"], dtype=np.float32)
        keypoints = keypoints.reshape(in_file, 3)[:num_keypoints]
        if min_visibility is not None:
            keypoints[:, 2] = (keypoints[:, 2] >= min_visibility).astype(np.float32)
        if ann.get("iscrowd", 0):
            skipped.skip("crowd annotations", ann.get("id", i))
            continue
        if not (keypoints[:, 2] > 0).any():
            skipped.skip("people without labelled keypoints", ann.get("id", i))
            continue
        image = images[ann["image_id"]]
        bbox, problem = clip_bbox(ann["bbox"], image.get("width"), image.get("height"))
        if bbox is None:
            skipped.skip(problem, ann.get("id", i))
            continue
        records.append(
            PersonRecord(
                image_path=str(Path(image_dir) / image["file_name"]),
                image_id=int(ann["image_id"]),
                bbox=bbox,
                keypoints=keypoints,
                area=float(ann.get("area", bbox[2] * bbox[3])),
                ann_id=int(ann.get("id", i)),
                image_size=image_size(image),
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
        _check_numbers(det["bbox"], 4, "bbox", where)
        _check_numbers([det["score"]], 1, "score", where)
        if det["score"] < score_threshold:
            skipped.skip(f"boxes scoring below {score_threshold}", i)
            continue
        image = images[det["image_id"]]
        bbox, problem = clip_bbox(det["bbox"], image.get("width"), image.get("height"))
        if bbox is None:
            skipped.skip(problem, i)
            continue
        records.append(
            PersonRecord(
                image_path=str(Path(image_dir) / image["file_name"]),
                image_id=int(det["image_id"]),
                bbox=bbox,
                keypoints=np.zeros((num_keypoints, 3), dtype=np.float32),
                bbox_score=float(det["score"]),
                area=float(bbox[2] * bbox[3]),
                image_size=image_size(image),
            )
        )
    if skipped.reasons:
        log.info(skipped.summary())
    return records
