"""COCO-format person keypoint annotations and person-detection results files."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import numpy as np

from posekit.core.boxes import clip_bbox, finite_numbers
from posekit.core.coco_checks import check_coco_ids
from posekit.core.io import read_json
from posekit.data.formats.coco_columns import (
    check_numbers,
    parse_coco_people,
    require_keys,
)
from posekit.data.formats.record_cache import cached_records
from posekit.data.records import PersonRecord, RecordStore, SkipCounter

log = logging.getLogger(__name__)


def load_coco_dataset(ann_file: str | Path) -> dict:
    """Read a COCO keypoint json and check the keys posekit needs."""
    data = read_json(ann_file, "COCO annotation file")
    if not isinstance(data, dict):
        raise ValueError(f"COCO annotation file {ann_file}: expected a JSON object at the top")
    require_keys(data, ("images", "annotations"), f"COCO annotation file {ann_file}")
    for i, image in enumerate(data["images"]):
        require_keys(image, ("id", "file_name"), f"{ann_file}: images[{i}]")
    check_coco_ids(data, ann_file)
    return data


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
    cache: bool | str | Path = True,
) -> RecordStore:
    """Ground-truth person records of a COCO-format keypoint file.

    Crowd annotations, people without labelled keypoints and boxes of zero or negative size or
    outside the image are skipped (the rule of :func:`posekit.core.boxes.clip_bbox`, which the
    metrics share, so a skipped person is not a miss), as the HRNet and mmpose code bases do;
    the counts are logged once, by reason. Keypoints or boxes that are not finite numbers are
    refused, naming the file and the record. ``keypoints_in_file`` (when the
    file has more keypoints per person than the spec, e.g. Halpe-26 read from the 136-keypoint
    Halpe files) keeps the first ``num_keypoints`` of each annotation. ``min_visibility``: a
    keypoint counts as labelled when its v is at least this (v becomes 1, else 0; AlphaPose's
    Halpe reader: 0.35); None: v > 0, as in the file. Repeated or string ids and coordinates
    beyond float32 or 1e6 px are refused (:mod:`posekit.core.coco_checks`).

    The file is parsed without keeping its JSON tree (:mod:`posekit.data.formats.coco_columns`)
    and the records are cached beside it (:mod:`posekit.data.formats.record_cache`); ``cache``:
    ``False`` parses every time, a folder keeps the cache there.
    """
    in_file = keypoints_in_file or num_keypoints
    if in_file < num_keypoints:
        raise ValueError(
            f"{ann_file}: keypoints_in_file={in_file} is fewer than the spec's {num_keypoints}"
        )
    settings = {
        "reader": "coco-people",
        "image_dir": str(image_dir),
        "num_keypoints": num_keypoints,
        "keypoints_in_file": in_file,
        "min_visibility": min_visibility,
    }
    ann_file, image_dir = Path(ann_file), Path(image_dir)
    parse = partial(parse_coco_people, ann_file, image_dir, num_keypoints, in_file,
                    min_visibility)
    if cache is False:
        store, summary = parse()
        if summary:
            log.info(summary)
        return store
    return cached_records(ann_file, settings, parse, None if cache is True else cache)


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
        require_keys(det, ("image_id", "bbox", "score"), where)
        if det.get("category_id", 1) != 1:
            continue
        if det["image_id"] not in images:
            raise ValueError(
                f"{where}: image_id {det['image_id']} is not in the annotation file {ann_file}; "
                "the detections belong to another split or data set"
            )
        check_numbers(det["bbox"], 4, "bbox", where)
        check_numbers([det["score"]], 1, "score", where)
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
