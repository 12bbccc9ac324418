"""Annotation files that would give a wrong number without an error are refused: an image whose
decoded size is not the file's, repeated image or annotation ids, string image ids, coordinates
beyond float32 or any image. The loader and the metric refuse the same files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from test_data import COCO_SPEC

from posekit.codecs import SimCCCodec
from posekit.data.formats.coco import load_coco_records
from posekit.data.topdown import TopDownDataset
from posekit.metrics import CocoKeypointAP

KEYPOINTS = [float(v) for i in range(17) for v in (20 + i, 30 + 2 * i, 2)]


def annotation(ann_id: int = 9, image_id: int = 1, **changes) -> dict:
    return {"id": ann_id, "image_id": image_id, "bbox": [10, 10, 50, 60],
            "keypoints": list(KEYPOINTS), **changes}


def write(path: Path, annotations: list[dict], images: list[dict] | None = None) -> Path:
    images = images or [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80}]
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [{"id": 1, "name": "person"}]}))
    return path


def both_refuse(path: Path, pattern: str) -> None:
    """The data loader and the COCO metric refuse the file with the same culprit named."""
    with pytest.raises(ValueError, match=pattern):
        load_coco_records(path, path.parent, 17)
    with pytest.raises(ValueError, match=pattern):
        CocoKeypointAP(str(path), spec=COCO_SPEC)


def first_sample(folder: Path, train: bool = False) -> dict:
    records = load_coco_records(folder / "ann.json", folder, 17)
    codec = SimCCCodec((48, 64))
    return TopDownDataset(records, COCO_SPEC, codec, (48, 64), train=train)[0]


def test_an_image_of_another_size_than_the_files_is_refused_naming_file_and_record(tmp_path):
    cv2.imwrite(str(tmp_path / "a.jpg"), np.full((40, 50, 3), 128, np.uint8))  # half of 100x80
    write(tmp_path / "ann.json", [annotation()])
    for train in (False, True):  # full decode and reduced decode
        with pytest.raises(ValueError, match=r"a.jpg \(record 0, image id 1\) decodes to 50x40.*"
                                             r"gives 100x80"):
            first_sample(tmp_path, train)
    cv2.imwrite(str(tmp_path / "a.jpg"), np.full((80, 100, 3), 128, np.uint8))
    assert first_sample(tmp_path)["image"].shape == (3, 64, 48)  # the right size passes


def test_an_exif_rotated_image_is_refused(tmp_path):
    """Stored 100x80 with orientation 6 (rotate 90): OpenCV decodes it as 80x100."""
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (100, 80), (128, 128, 128)).save(tmp_path / "a.jpg", exif=exif)
    write(tmp_path / "ann.json", [annotation()])
    with pytest.raises(ValueError, match=r"decodes to 80x100, but the annotation file gives "
                                         r"100x80.*EXIF orientation"):
        first_sample(tmp_path)


def test_repeated_image_ids_are_refused(tmp_path):
    images = [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 80},
              {"id": 1, "file_name": "b.jpg", "width": 100, "height": 80}]
    path = write(tmp_path / "ann.json", [annotation()], images)
    both_refuse(path, r"ann.json: 1 image ids are used by more than one image, e.g. "
                      r"1 \(a.jpg, b.jpg\)")


def test_repeated_annotation_ids_are_refused(tmp_path):
    path = write(tmp_path / "ann.json", [annotation(7), annotation(7), annotation(8)])
    both_refuse(path, r"ann.json: 1 annotation ids are used by more than one annotation, "
                      r"e.g. \[7\]")


def test_string_image_ids_are_refused_at_load(tmp_path):
    images = [{"id": "1", "file_name": "a.jpg", "width": 100, "height": 80}]
    path = write(tmp_path / "ann.json", [annotation(image_id="1")], images)
    both_refuse(path, r"ann.json: images\[0\] has id '1' \(str\); COCO image ids are integers")


@pytest.mark.parametrize(("field", "index", "value"), [
    ("keypoints", 0, 1e30), ("keypoints", 1, 1e39), ("bbox", 3, 1e39), ("bbox", 0, -2e6)])
def test_absurd_coordinates_are_refused_naming_the_record(tmp_path, field, index, value):
    ann = annotation()
    ann[field][index] = value
    path = write(tmp_path / "ann.json", [ann])
    both_refuse(path, rf"ann.json: annotations\[0\] \(id 9\): .*{re.escape(repr(value))}")
