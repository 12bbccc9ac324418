"""COCO keypoint annotations read column by column, without keeping the JSON tree.

The file is read piece by piece (:mod:`posekit.core.json_stream`) with an ``object_hook`` that
turns each annotation into a few numbers as soon as it is parsed: its segmentation and its
lists of Python numbers are dropped at once, so the memory of the parse is a window of the text
and the columns, not the text and the whole tree (1.24 GB of Python objects for COCO
train2017's 149,813 people). Types are checked per annotation with one
C-level pass (``set(map(type, values))``) and finiteness, boxes and skips over whole columns
with numpy. An annotation that fails a check keeps its dict, and the first failing one (in
file order) is reported as the per-record checks report it, naming the file and the record.
"""

from __future__ import annotations

import math
from array import array
from pathlib import Path
from typing import Any

import numpy as np

from posekit.core.boxes import NEGATIVE_SIZE, OUTSIDE, ZERO_SIZE
from posekit.core.coco_checks import (
    MAX_COORDINATE,
    check_annotation_ids,
    check_image_ids,
    refuse_bad_coordinates,
)
from posekit.core.json_stream import read_json_object
from posekit.data.records import RecordStore, SkipCounter

_NUMBERS = frozenset({int, float})  # what JSON numbers parse to (bool is refused)
_MISSING = object()


def require_keys(obj: dict, keys: tuple[str, ...], where: str) -> None:
    missing = [key for key in keys if key not in obj]
    if missing:
        raise ValueError(f"{where}: missing required keys {missing}")


def check_numbers(values: Any, count: int, what: str, where: str) -> None:
    """Refuse NaN, inf, strings or a wrong count in a list of coordinates, naming the record."""
    if not isinstance(values, (list, tuple)) or len(values) != count:
        size = len(values) if isinstance(values, (list, tuple)) else type(values).__name__
        raise ValueError(f"{where}: '{what}' must be a list of {count} numbers, got {size}")
    refuse_bad_coordinates(values, where, f"'{what}'")


def _image(obj: dict) -> tuple:
    return obj["id"], obj["file_name"], obj.get("width"), obj.get("height")


class _Row:
    """What an annotation becomes in the parsed tree: its row in the columns."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


class _AnnotationColumns:
    """The ``object_hook``: dicts with an ``image_id`` (and no ``file_name``) are annotations."""

    def __init__(self, values_per_person: int) -> None:
        self.values = values_per_person
        self.keypoints, self.bbox = array("f"), array("d")  # float32 as the records hold them
        self.image_ids: list = []
        self.ids: list = []
        self.areas: list = []
        self.crowd = bytearray()
        self.has_area = bytearray()
        self.kept: dict[int, dict] = {}  # rows that failed a check here: their dicts

    def __call__(self, obj: dict) -> Any:
        if "image_id" not in obj:
            if "file_name" in obj and "id" in obj:  # an image: what the records need of it
                return _image(obj)
            return obj
        if "file_name" in obj:
            return obj
        obj.pop("segmentation", None)
        row = len(self.image_ids)
        keypoints, bbox = obj.get("keypoints"), obj.get("bbox")
        ok = (
            type(keypoints) is list
            and len(keypoints) == self.values
            and type(bbox) is list
            and len(bbox) == 4
            and _NUMBERS.issuperset(map(type, keypoints))
            and _NUMBERS.issuperset(map(type, bbox))
        )
        if ok:
            try:  # NaN and inf propagate through a sum; an integer beyond float range raises
                ok = math.isfinite(sum(keypoints)) and math.isfinite(sum(bbox))
                # beyond MAX_COORDINATE: the per-record check names the value (exact, not float32)
                ok = ok and -MAX_COORDINATE <= min(keypoints) and max(keypoints) <= MAX_COORDINATE
                ok = ok and -MAX_COORDINATE <= min(bbox) and max(bbox) <= MAX_COORDINATE
                if ok:
                    self.keypoints.extend(keypoints)
                    self.bbox.extend(bbox)
            except OverflowError:
                ok = False
                del self.keypoints[row * self.values :], self.bbox[row * 4 :]
        if not ok:
            self.keypoints.extend([0.0] * self.values)
            self.bbox.extend([0.0] * 4)
            self.kept[row] = obj
        self.image_ids.append(obj["image_id"])
        self.ids.append(obj.get("id", _MISSING))
        area = obj.get("area", _MISSING)
        self.has_area.append(area is not _MISSING)
        self.areas.append(0.0 if area is _MISSING else area)
        self.crowd.append(1 if obj.get("iscrowd", 0) else 0)
        return _Row(row)


def _check_annotation(ann: Any, i: int, ann_file: Path, images: dict, values: int) -> None:
    """The per-record checks of one annotation (raises for the first problem found)."""
    ann_id = ann.get("id", "?") if isinstance(ann, dict) else "?"
    where = f"{ann_file}: annotations[{i}] (id {ann_id})"
    if not isinstance(ann, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(ann).__name__}")
    require_keys(ann, ("image_id", "bbox", "keypoints"), where)
    if ann["image_id"] not in images:
        raise ValueError(f"{where}: image_id {ann['image_id']} is not in 'images'")
    if not isinstance(ann["keypoints"], list) or len(ann["keypoints"]) != values:
        size = len(ann["keypoints"]) if isinstance(ann["keypoints"], list) else 1
        raise ValueError(
            f"{where}: {size} keypoint values, expected {values} (x, y, v for {values // 3} "
            "keypoints); check that data.keypoints (and data.keypoints_in_file) match this "
            "annotation file"
        )
    check_numbers(ann["keypoints"], values, "keypoints", where)
    check_numbers(ann["bbox"], 4, "bbox", where)


def _refuse_first_bad(
    annotations: list, columns: _AnnotationColumns, ann_file: Path, images: dict
) -> None:
    """Raise the per-record error of the first annotation that failed the hook's type check."""
    for i, ann in enumerate(annotations):
        if type(ann) is _Row and ann.index not in columns.kept:
            continue
        ann = columns.kept[ann.index] if type(ann) is _Row else ann
        _check_annotation(ann, i, ann_file, images, columns.values)
        raise ValueError(f"{ann_file}: annotations[{i}] cannot be read as a person annotation")


def _read(ann_file: Path, columns: _AnnotationColumns) -> dict:
    data = read_json_object(ann_file, "COCO annotation file", object_hook=columns)
    if not isinstance(data, dict):
        raise ValueError(f"COCO annotation file {ann_file}: expected a JSON object at the top")
    require_keys(data, ("images", "annotations"), f"COCO annotation file {ann_file}")
    return data


def parse_coco_people(
    ann_file: Path,
    image_dir: Path,
    num_keypoints: int,
    in_file: int,
    min_visibility: float | None = None,
) -> tuple[RecordStore, str]:
    """The records of :func:`posekit.data.formats.coco.load_coco_records` and the skip summary."""
    columns = _AnnotationColumns(3 * in_file)
    data = _read(ann_file, columns)
    entries = []  # (id, file_name, width, height) in file order
    for i, image in enumerate(data["images"]):
        if type(image) is not tuple:
            require_keys(image, ("id", "file_name"), f"{ann_file}: images[{i}]")
            image = _image(image)
        entries.append(image)
    check_image_ids([(entry[0], entry[1]) for entry in entries], ann_file)
    check_annotation_ids([i for i in columns.ids if i is not _MISSING], ann_file)
    images: dict = {entry[0]: entry for entry in entries}  # id -> entry
    annotations = data.pop("annotations")
    if not isinstance(annotations, list):
        raise ValueError(f"COCO annotation file {ann_file}: 'annotations' must be a list")
    if columns.kept or not all(type(a) is _Row for a in annotations):
        _refuse_first_bad(annotations, columns, ann_file, images)
    n = len(annotations)
    rows: np.ndarray | slice = np.fromiter((a.index for a in annotations), np.int64, n)
    if n and rows[0] == 0 and rows[-1] == n - 1 and (np.diff(rows) == 1).all():
        rows = slice(0, n)  # the usual case: every row once, in order (no copy of the columns)
    if type(rows) is slice:
        image_ids, ids = columns.image_ids[rows], columns.ids[rows]
    else:
        image_ids = [columns.image_ids[r] for r in rows]
        ids = [columns.ids[r] for r in rows]
    missing = [i for i, image_id in enumerate(image_ids) if image_id not in images]
    if missing:
        first = missing[0]
        shown = "?" if ids[first] is _MISSING else ids[first]
        raise ValueError(
            f"{ann_file}: annotations[{first}] (id {shown}): image_id {image_ids[first]} is not "
            "in 'images'"
        )
    keypoints = np.frombuffer(columns.keypoints, dtype=np.float32).reshape(-1, in_file, 3)[rows]
    boxes = np.frombuffer(columns.bbox, dtype=np.float64).reshape(-1, 4)[rows]
    keypoints = keypoints[:, :num_keypoints]  # (N, K, 3) float32
    if min_visibility is not None:  # v >= min_visibility counts as labelled (v 1, else 0)
        keypoints = keypoints.copy()
        keypoints[:, :, 2] = keypoints[:, :, 2] >= min_visibility
    table = {image_id: index for index, image_id in enumerate(images)}
    image_index = np.fromiter((table[i] for i in image_ids), np.int64, n)
    sizes = np.array(
        [[_size(width), _size(height)] for _, _, width, height in images.values()],
        dtype=np.float64,
    ).reshape(-1, 2)[image_index]  # (N, 2), NaN where the file gives none
    clipped, reasons = clip_boxes(boxes, sizes)
    crowd = np.frombuffer(columns.crowd, dtype=np.uint8)[rows].astype(bool)
    unlabelled = ~(keypoints[:, :, 2] > 0).any(axis=1)
    record_ids = [record_id(ids, i) for i in range(n)]
    skipped = SkipCounter(str(ann_file))
    skip = _skip_reasons(crowd, unlabelled, reasons)
    for index in np.flatnonzero(skip):
        skipped.skip(_REASONS[skip[index]], record_ids[index])
    keep = skip == 0
    boxes32 = clipped.astype(np.float32)
    areas = np.asarray(columns.areas, dtype=np.float64)[rows]
    has_area = np.frombuffer(columns.has_area, dtype=np.uint8)[rows].astype(bool)
    areas = np.where(has_area, areas, (boxes32[:, 2] * boxes32[:, 3]).astype(np.float64))
    used = np.unique(image_index[keep])  # images with people kept
    image_list = list(images.values())
    table: dict[str, int] = {}  # each file once (images of one file share its checks)
    path_of_used = np.array(
        [table.setdefault(str(image_dir / image_list[u][1]), len(table)) for u in used],
        dtype=np.int64,
    )
    store = RecordStore(
        list(table),
        image_index=path_of_used[np.searchsorted(used, image_index[keep])],
        image_id=np.asarray([int(image_ids[i]) for i in np.flatnonzero(keep)], dtype=np.int64),
        bbox=boxes32[keep],
        keypoints=keypoints[keep],
        bbox_score=np.ones(int(keep.sum())),
        area=areas[keep],
        ann_id=np.asarray([int(record_ids[i]) for i in np.flatnonzero(keep)], dtype=np.int64),
        image_size=known_sizes(sizes)[keep],
    )
    return store, skipped.summary()


def record_id(ids: list, i: int) -> Any:
    """The annotation's ``id``, or its position where it has none (as the per-record rule)."""
    return i if ids[i] is _MISSING else ids[i]


def known_sizes(sizes: np.ndarray) -> np.ndarray:
    """(N, 2) int32 (W, H) of (N, 2) float sizes, -1 where the file gives none (NaN, <= 0)."""
    valid = (np.isfinite(sizes) & (sizes > 0)).all(axis=1, keepdims=True)
    return np.where(valid, np.nan_to_num(sizes), -1).astype(np.int32)


def _size(value: Any) -> float:
    return float("nan") if value is None else float(value)


# skip codes in the order the per-record rule tries them
_REASONS = {1: "crowd annotations", 2: "people without labelled keypoints",
            3: NEGATIVE_SIZE, 4: ZERO_SIZE, 5: OUTSIDE}


def _skip_reasons(crowd: np.ndarray, unlabelled: np.ndarray, box_reason: np.ndarray) -> np.ndarray:
    """(N,) uint8 skip code per person, 0 = kept (crowd, then unlabelled, then the box)."""
    return np.where(crowd, 1, np.where(unlabelled, 2, box_reason)).astype(np.uint8)


def clip_boxes(boxes: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`posekit.core.boxes.clip_bbox` over (N, 4) float64 xywh boxes and (N, 2) image
    sizes (NaN: unknown). Returns the clipped boxes (N, 4) float64 and (N,) codes 0 (kept),
    3 negative size, 4 zero size, 5 outside."""
    x, y, w, h = boxes.T
    x1, y1 = np.maximum(0.0, x), np.maximum(0.0, y)
    x2, y2 = x + w, y + h
    known = ~np.isnan(sizes).any(axis=1)
    x2 = np.where(known, np.minimum(sizes[:, 0] - 1.0, x2), x2)
    y2 = np.where(known, np.minimum(sizes[:, 1] - 1.0, y2), y2)
    reason = np.where((w < 0) | (h < 0), 3, np.where((w == 0) | (h == 0), 4, 0))
    reason = np.where((reason == 0) & ((x2 <= x1) | (y2 <= y1)), 5, reason)
    return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1), reason
