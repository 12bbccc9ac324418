"""Truncated JPEGs are detected and refused naming the file; whole files, with or without
trailing bytes, pass (the data module's handling: tests/data/test_bad_annotations.py)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import REPO

from posekit.core.io import TruncatedImageError, jpeg_is_truncated, read_rgb_image

SAMPLE = REPO / "data" / "sample"


def truncated_copy(source: Path, target: Path, keep: float = 0.6) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * keep)])
    return target


def first_image() -> Path:
    return sorted((SAMPLE / "images").glob("*.jpg"))[0]


def test_truncated_jpeg_is_refused_naming_the_file(tmp_path):
    path = truncated_copy(first_image(), tmp_path / "cut.jpg")
    assert cv2.imread(str(path)) is not None  # OpenCV decodes it (with a warning): garbage
    assert jpeg_is_truncated(path)
    with pytest.raises(TruncatedImageError, match=r"cut.jpg \(record 3\) is a truncated JPEG"):
        read_rgb_image(path, "record 3")


def test_whole_jpegs_pass_even_with_trailing_bytes(tmp_path):
    source = first_image()
    assert not jpeg_is_truncated(source)
    trailer = tmp_path / "trailer.jpg"
    trailer.write_bytes(source.read_bytes() + b"camera trailer " * 20)
    assert not jpeg_is_truncated(trailer)
    np.testing.assert_array_equal(read_rgb_image(trailer, "x"), read_rgb_image(source, "x"))
    png = tmp_path / "a.png"
    cv2.imwrite(str(png), np.zeros((4, 4, 3), np.uint8))
    assert not jpeg_is_truncated(png)
