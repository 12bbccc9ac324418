"""Crop geometry: keypoints follow the warp, and the inverse returns them to the image."""

import cv2
import numpy as np
import pytest
import torch

from posekit.core.geometry import (
    apply_affine,
    bbox_to_center_scale,
    crop_affine_matrix,
    crop_to_image,
    invert_affine,
)


def test_center_scale_fixes_aspect_and_pads():
    # a 40 x 100 box into a 3:4 input: width grows to 75, then both sides x1.25
    center, scale = bbox_to_center_scale(np.array([10, 20, 40, 100]), aspect_ratio=0.75, padding=1.25)
    np.testing.assert_allclose(center, [30, 70])
    np.testing.assert_allclose(scale, [75 * 1.25, 125])


def test_box_maps_onto_the_crop_with_its_centre_in_the_middle():
    center, scale = np.array([50.0, 80.0]), np.array([60.0, 80.0])
    matrix = crop_affine_matrix(center, scale, 0.0, (96, 128))
    corners = np.array([[20.0, 40.0], [80.0, 120.0], [50.0, 80.0]])
    np.testing.assert_allclose(apply_affine(corners, matrix), [[0, 0], [96, 128], [48, 64]], atol=1e-4)


def test_keypoints_follow_the_warped_pixels():
    """A bright dot drawn in the image lands where apply_affine puts its keypoint."""
    image = np.zeros((200, 240), np.float32)
    point = np.array([150.0, 70.0])
    image = cv2.circle(image, (150, 70), 2, 1.0, -1)
    matrix = crop_affine_matrix(np.array([120.0, 100.0]), np.array([120.0, 160.0]), 25.0, (96, 128))
    crop = cv2.warpAffine(image, matrix, (96, 128), flags=cv2.INTER_LINEAR)
    ys, xs = np.nonzero(crop > 0.5 * crop.max())
    weights = crop[ys, xs]
    found = np.array([(xs * weights).sum(), (ys * weights).sum()]) / weights.sum()
    np.testing.assert_allclose(apply_affine(point, matrix), found, atol=0.5)


@pytest.mark.parametrize("rotation", [0.0, 30.0, -70.0])
def test_inverse_affine_returns_to_the_image(rotation):
    rng = np.random.default_rng(0)
    matrix = crop_affine_matrix(np.array([300.0, 200.0]), np.array([150.0, 200.0]), rotation, (192, 256))
    points = rng.uniform(0, 400, size=(17, 2))
    back = apply_affine(apply_affine(points, matrix), invert_affine(matrix))
    np.testing.assert_allclose(back, points, atol=1e-3)


def test_batched_crop_to_image_inverts_the_unrotated_crop():
    rng = np.random.default_rng(1)
    centers = rng.uniform(100, 300, size=(3, 2)).astype(np.float32)
    scales = np.stack([np.array([w, w * 4 / 3]) for w in rng.uniform(50, 200, 3)]).astype(np.float32)
    points = rng.uniform(0, 400, size=(3, 5, 2)).astype(np.float32)
    crop_points = np.stack(
        [apply_affine(points[i], crop_affine_matrix(centers[i], scales[i], 0.0, (192, 256))) for i in range(3)]
    )
    back = crop_to_image(
        torch.from_numpy(crop_points), torch.from_numpy(centers), torch.from_numpy(scales), (192, 256)
    )
    np.testing.assert_allclose(back.numpy(), points, atol=1e-3)
