"""read_rgb_image reads a file once and decodes it as cv2.imread does (EXIF orientation, scaled
modes), and names the file and the record for anything it cannot read."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers import REPO
from PIL import Image

from posekit.core.io import read_rgb_image

FIRST_IMAGE = sorted((REPO / "data" / "sample" / "images").glob("*.jpg"))[0]


@pytest.mark.parametrize("flags", [cv2.IMREAD_COLOR, cv2.IMREAD_REDUCED_COLOR_2])
def test_pixels_are_cv2_imread_s_with_exif_orientation(tmp_path, flags):
    rotated = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.open(FIRST_IMAGE).save(rotated, exif=exif, quality=90)
    for path in (FIRST_IMAGE, rotated):
        expected = cv2.cvtColor(cv2.imread(str(path), flags), cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(read_rgb_image(path, "record 1", flags), expected)
    height, width = cv2.imread(str(FIRST_IMAGE), flags).shape[:2]
    assert read_rgb_image(rotated, "record 1", flags).shape[:2] == (width, height)


def test_unreadable_files_are_named_with_their_record(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    cases = [tmp_path / "missing.jpg", tmp_path, empty, text]
    for path in cases:
        with pytest.raises(FileNotFoundError, match=rf"{path.name} \(record 7\): missing or not"):
            read_rgb_image(path, "record 7")
