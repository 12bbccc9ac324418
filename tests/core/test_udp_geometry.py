"""UDP's crop matrix against mmpose's get_udp_warp_matrix formula, and its batched inverse."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from posekit.core.geometry import (
    apply_affine,
    crop_affine_matrix,
    crop_to_image,
    udp_affine_matrix,
)


def mmpose_udp_matrix(center, scale, rot, output_size) -> np.ndarray:
    """mmpose's get_udp_warp_matrix, written out from its formula."""
    cx, cy = center
    sx = (output_size[0] - 1) / scale[0]
    sy = (output_size[1] - 1) / scale[1]
    c, s = math.cos(math.radians(rot)), math.sin(math.radians(rot))
    return np.array([
        [c * sx, -s * sx, sx * (-cx * c + cy * s + 0.5 * scale[0])],
        [s * sy, c * sy, sy * (-cx * s - cy * c + 0.5 * scale[1])],
    ])


@pytest.mark.parametrize("rotation", [0.0, 30.0, -75.0])
def test_udp_matrix_is_mmposes_with_posekits_rotation_sense(rotation):
    center, scale = np.array([300.0, 200.0]), np.array([150.0, 200.0])
    ours = udp_affine_matrix(center, scale, rotation, (192, 256))
    np.testing.assert_allclose(ours, mmpose_udp_matrix(center, scale, -rotation, (192, 256)),
                               rtol=1e-5, atol=1e-3)
    assert np.array_equal(crop_affine_matrix(center, scale, rotation, (192, 256), udp=True), ours)


def test_udp_box_edges_land_on_the_first_and_last_pixel_centres():
    center, scale = np.array([50.0, 80.0]), np.array([96.0, 128.0])
    matrix = udp_affine_matrix(center, scale, 0.0, (48, 64))
    corners = apply_affine(np.array([[2.0, 16.0], [98.0, 144.0], [50.0, 80.0]]), matrix)
    np.testing.assert_allclose(corners, [[0, 0], [47, 63], [23.5, 31.5]], atol=1e-4)


def test_udp_crop_to_image_inverts_the_matrix():
    rng = np.random.default_rng(0)
    centers = rng.uniform(100, 300, (3, 2)).astype(np.float32)
    scales = np.stack([rng.uniform(80, 200, 3), rng.uniform(100, 260, 3)], 1).astype(np.float32)
    points = rng.uniform(0, 400, (3, 5, 2))
    matrices = [udp_affine_matrix(centers[i], scales[i], 0.0, (48, 64)) for i in range(3)]
    crop = np.stack([apply_affine(points[i], matrices[i]) for i in range(3)])
    back = crop_to_image(torch.from_numpy(crop).double(), torch.from_numpy(centers),
                         torch.from_numpy(scales), (48, 64), udp=True)
    np.testing.assert_allclose(back.numpy(), points, atol=1e-3)
