"""Checks of a COCO-format annotation file that the data loader and the metrics share.

Values that would pass silently and change a number: two images or two annotations sharing an
id (a person cropped from the other image; pycocotools keeps the last annotation of an id), an
image id that is a string (the results' integer ids would never match it), coordinates that
are finite in the file but not in float32 (``1e39``) or absurd (``1e30``).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from posekit.core.boxes import finite_numbers

MAX_COORDINATE = 1e6  # pixels: no image is this large; a value beyond it is a broken file


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _repeated(ids: Iterable[Any]) -> list[Any]:
    return [value for value, count in Counter(ids).items() if count > 1]


def check_coco_ids(data: dict, ann_file: str | Path) -> None:
    """Refuse image ids that are not integers, repeated image ids and repeated annotation ids
    (where annotations have ids), naming the file and the ids.

    Raises:
        ValueError: naming the file, the record and the fix.
    """
    check_image_ids([(image.get("id"), image.get("file_name")) for image in data["images"]],
                    ann_file)
    check_annotation_ids([ann["id"] for ann in data["annotations"] if "id" in ann], ann_file)


def check_image_ids(images: Sequence[tuple[Any, Any]], ann_file: str | Path) -> None:
    """:func:`check_coco_ids` for the images, given as (id, file_name) pairs in file order."""
    for i, (found, _) in enumerate(images):
        if not _is_int(found):
            raise ValueError(
                f"{ann_file}: images[{i}] has id {found!r} ({type(found).__name__}); COCO image "
                "ids are integers (results and the metrics match them as numbers): write the "
                "ids as numbers"
            )
    repeated = _repeated(image_id for image_id, _ in images)
    if repeated:
        names: dict[Any, list[str]] = {}
        for image_id, file_name in images:
            names.setdefault(image_id, []).append(str(file_name))
        shown = "; ".join(f"{i} ({', '.join(names[i][:3])})" for i in repeated[:5])
        raise ValueError(
            f"{ann_file}: {len(repeated)} image ids are used by more than one image, e.g. "
            f"{shown}: people would be cropped from the wrong image. Give each image its own id"
        )


def check_annotation_ids(ids: Sequence[Any], ann_file: str | Path) -> None:
    """:func:`check_coco_ids` for the annotations' ids (those that have one)."""
    repeated = _repeated(ids)
    if repeated:
        raise ValueError(
            f"{ann_file}: {len(repeated)} annotation ids are used by more than one annotation, "
            f"e.g. {repeated[:5]}: pycocotools would keep only the last of each in the "
            "evaluation. Give each annotation its own id"
        )


def absurd_coordinate(values: Sequence[float]) -> float | None:
    """The first of ``values`` (finite numbers) that is not finite in float32 or beyond
    :data:`MAX_COORDINATE` pixels, else None."""
    array = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(array.astype(np.float32)) | (np.abs(array) > MAX_COORDINATE)
    return float(array[bad][0]) if bad.any() else None


def refuse_bad_coordinates(values: Sequence[Any], where: str, what: str = "") -> None:
    """Refuse ``values`` holding anything but finite numbers (NaN, inf, strings, bools) or a
    coordinate beyond float32 / :data:`MAX_COORDINATE`; ``what`` names the field in the message
    (``"'keypoints'"``; empty where ``where`` says it).

    Raises:
        ValueError: ``<where>: <what> holds <value> ...``, naming the record and the fix.
    """
    if not finite_numbers(values):
        bad = next(v for v in values if not finite_numbers([v]))
        raise ValueError(
            f"{where}: {what}{' ' * bool(what)}holds {bad!r}; coordinates must be finite numbers (an unlabelled "
            "keypoint is 0, 0, 0)"
        )
    absurd = absurd_coordinate(values)
    if absurd is not None:
        raise ValueError(
            f"{where}: {what}{' ' * bool(what)}holds {absurd!r}, beyond {MAX_COORDINATE:g} pixels (or float32's "
            "range): the file is broken; fix or drop the record"
        )
