"""Reduced JPEG decoding gives the crop of the full decode, for less work."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import REPO

from posekit.codecs import SimCCCodec
from posekit.core.geometry import bbox_to_center_scale, crop_affine_matrix
from posekit.core.io import read_rgb_image
from posekit.core.spec import KeypointSpec
from posekit.data.augment import GeometricAugmentation
from posekit.data.decode import (
    LastImageReader,
    reduced_matrix,
    reduction_factor,
)
from posekit.data.formats.coco import load_coco_records
from posekit.data.topdown import TopDownDataset

COCO_SPEC = KeypointSpec.from_yaml(REPO / "conf" / "keypoints" / "coco.yaml")
NO_AUG = GeometricAugmentation(flip_prob=0, half_body_prob=0, scale_factor=0, rotation_factor=0,
                               rotation_prob=0)


def full_crop(path: Path, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The reference: the full image, one warp (what the data path did before)."""
    return cv2.warpAffine(read_rgb_image(path, "test"), matrix, size, flags=cv2.INTER_LINEAR)


def reduced_crop(path: Path, matrix: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, int]:
    reader = LastImageReader(reduced=True)  # a fresh one: no image kept from another test
    image, warp, factor = reader.read_for_crop(path, matrix, "test")
    return cv2.warpAffine(image, warp, size, flags=cv2.INTER_LINEAR), factor


def test_reduction_factor_keeps_a_pixel_per_crop_pixel():
    size = (96, 128)
    for width, expected in [(96, 1), (191, 1), (192, 2), (383, 2), (384, 4), (768, 8), (5000, 8)]:
        matrix = crop_affine_matrix(np.array([300.0, 200.0]), np.array([width, width * 4 / 3]),
                                    0.0, size)
        assert reduction_factor(matrix) == expected, width
        # rotation does not change the zoom
        rotated = crop_affine_matrix(np.array([300.0, 200.0]), np.array([width, width * 4 / 3]),
                                     33.0, size)
        assert reduction_factor(rotated) == expected, width
    assert reduction_factor(crop_affine_matrix(np.zeros(2), np.array([800.0, 1.0]), 0, size),
                            max_factor=2) == 2


def test_reduced_matrix_maps_block_centres():
    """Reduced pixel i is the mean of full pixels [r i, r i + r): its centre r i + (r - 1) / 2
    must land where the full matrix sends that point."""
    matrix = crop_affine_matrix(np.array([321.0, 210.0]), np.array([400.0, 533.0]), 20.0, (96, 128))
    for factor in (2, 4, 8):
        adjusted = reduced_matrix(matrix, factor)
        for xr, yr in [(0, 0), (10, 3), (57, 41)]:
            full = np.array([factor * xr + (factor - 1) / 2, factor * yr + (factor - 1) / 2, 1.0])
            np.testing.assert_allclose(adjusted @ [xr, yr, 1.0], matrix @ full, atol=1e-3)


def test_reduced_decode_gives_the_full_crop_on_a_synthetic_jpeg(tmp_path):
    """A smooth 640x480 scene with edges: every reduction gives the full decode's crop."""
    y, x = np.mgrid[0:480, 0:640].astype(np.float32)
    image = np.stack([
        127 + 100 * np.sin(x / 23.0) * np.cos(y / 31.0),
        x * 255 / 639,
        np.where((x - 320) ** 2 + (y - 240) ** 2 < 120**2, 220, 40),
    ], axis=-1).clip(0, 255).astype(np.uint8)
    path = tmp_path / "scene.jpg"
    cv2.imwrite(str(path), image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    size = (64, 48)
    for crop_width, expected in [(100, 1), (140, 2), (300, 4), (560, 8)]:
        box = np.array([crop_width, crop_width * 0.75])
        matrix = crop_affine_matrix(np.array([320.0, 240.0]), box, 10.0, size)
        crop, factor = reduced_crop(path, matrix, size)
        assert factor == expected
        reference = full_crop(path, matrix, size)
        assert crop.shape == reference.shape == (48, 64, 3)
        difference = np.abs(crop.astype(np.float64) - reference).mean()
        assert difference < 2.5, (crop_width, difference)


def test_png_is_decoded_in_full(tmp_path):
    path = tmp_path / "scene.png"
    cv2.imwrite(str(path), np.full((400, 600, 3), 128, np.uint8))
    matrix = crop_affine_matrix(np.array([300.0, 200.0]), np.array([500.0, 666.0]), 0.0, (48, 64))
    image, warp, factor = LastImageReader().read_for_crop(path, matrix, "test")
    assert factor == 1 and image.shape == (400, 600, 3) and warp is matrix


def test_missing_jpeg_names_the_record(tmp_path):
    matrix = crop_affine_matrix(np.array([300.0, 200.0]), np.array([500.0, 666.0]), 0.0, (48, 64))
    with pytest.raises(FileNotFoundError, match="gone.jpg.*record 7"):
        LastImageReader().read_for_crop(tmp_path / "gone.jpg", matrix, "record 7")


def mean_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b).mean())


@pytest.mark.parametrize("input_size", [(48, 64), (96, 128)])
def test_fixture_crops_match_full_decoding(fixtures_dir, input_size):
    """Every person of the COCO fixture (real 640x480 JPEGs): the data set's crop with reduced
    decoding against the full decode's crop.

    A downscaling warp of the full image aliases (it samples 4 of the r x r pixels), so the
    two differ by some levels on textured images: no more than an antialiased crop of the full
    image (Gaussian low-pass before the warp) differs from it, and far less than the full crop
    moved by half a pixel."""
    coco = fixtures_dir / "coco"
    records = load_coco_records(coco / "test_coco.json", coco, 17)
    dataset = TopDownDataset(records, COCO_SPEC, SimCCCodec(input_size), input_size, train=True,
                             augmentation=NO_AUG)
    reduced_people, ours, shifted = 0, [], []
    for index, record in enumerate(records):
        # a fresh reader: each person's own factor, not a finer image kept from the previous one
        dataset.reader = LastImageReader(reduced=True)
        center, scale = bbox_to_center_scale(record.bbox, input_size[0] / input_size[1])
        matrix = crop_affine_matrix(center, scale, 0.0, input_size)
        full = read_rgb_image(record.image_path, "test")
        reference = cv2.warpAffine(full, matrix, input_size, flags=cv2.INTER_LINEAR)
        sigma = 0.5 / float(matrix[0, 0])  # half the image pixels per crop pixel
        antialiased = cv2.warpAffine(cv2.GaussianBlur(full, (0, 0), sigma), matrix, input_size,
                                     flags=cv2.INTER_LINEAR)
        moved = matrix + np.float32([[0, 0, 0.5], [0, 0, 0.5]])
        crop = dataset[index]["image"].permute(1, 2, 0).numpy()
        ours.append(mean_difference(crop, reference))
        shifted.append(mean_difference(cv2.warpAffine(full, moved, input_size), reference))
        assert ours[-1] <= mean_difference(antialiased, reference) + 1.5, (record.image_path, ours)
        reduced_people += reduction_factor(matrix) > 1
    assert np.mean(ours) < 0.5 * np.mean(shifted), (ours, shifted)
    assert sum(dataset.decode_factors.values()) == len(records)
    assert dataset.decode_factors[1] == len(records) - reduced_people
    assert reduced_people > len(records) // 2


def test_evaluation_decodes_in_full_as_the_predictor(fixtures_dir):
    """Validation crops come from the full image, as the Predictor's do."""
    coco = fixtures_dir / "coco"
    records = load_coco_records(coco / "test_coco.json", coco, 17)
    dataset = TopDownDataset(records, COCO_SPEC, SimCCCodec((48, 64)), (48, 64), train=False)
    for index in range(len(records)):
        dataset[index]
    assert dict(dataset.decode_factors) == {1: len(records)}
