"""Skeleton drawing, image grids and PNG output."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from posekit.viz import draw_skeleton, make_grid, save_image, side_ids
from posekit.viz.skeleton import CENTER_COLOR, LEFT_COLOR, RIGHT_COLOR

NAMES = ("nose", "left_shoulder", "right_shoulder")
SKELETON = ((0, 1), (0, 2), (1, 2))
KEYPOINTS = np.array([[32.0, 10.0], [16.0, 40.0], [48.0, 40.0]])


def _blank(h: int = 64, w: int = 64) -> np.ndarray:
    return np.zeros((h, w, 3), dtype=np.uint8)


def test_side_ids_from_names() -> None:
    assert side_ids(("nose", "Left_Eye", "right_eye", "LEFT_ear")) == ([1, 3], [2])


def test_draw_marks_keypoints_and_leaves_the_input_alone() -> None:
    image = _blank()
    drawn = draw_skeleton(image, KEYPOINTS, None, SKELETON, names=NAMES)
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    assert not image.any(), "the input image was modified"
    assert tuple(drawn[10, 32]) == CENTER_COLOR
    assert tuple(drawn[40, 16]) == LEFT_COLOR
    assert tuple(drawn[40, 48]) == RIGHT_COLOR
    assert drawn[40, 32].any(), "the shoulder-to-shoulder limb is missing"


def test_explicit_side_ids_and_single_colour() -> None:
    drawn = draw_skeleton(_blank(), KEYPOINTS, None, SKELETON, left_ids=[2], right_ids=[1])
    assert tuple(drawn[40, 48]) == LEFT_COLOR and tuple(drawn[40, 16]) == RIGHT_COLOR
    white = draw_skeleton(_blank(), KEYPOINTS, None, SKELETON, names=NAMES, color=(255, 255, 255))
    assert tuple(white[40, 16]) == (255, 255, 255)


def test_keypoints_below_threshold_are_not_drawn() -> None:
    scores = np.array([0.9, 0.1, 0.9])
    drawn = draw_skeleton(_blank(), KEYPOINTS, scores, SKELETON, score_threshold=0.3)
    assert drawn[10, 32].any() and drawn[40, 48].any()
    assert not drawn[35:46, 11:22].any(), "a low-score keypoint or its limbs were drawn"
    nothing = draw_skeleton(_blank(), KEYPOINTS, np.zeros(3), SKELETON)
    assert not nothing.any()


def test_non_finite_keypoints_are_skipped() -> None:
    keypoints = KEYPOINTS.copy()
    keypoints[1] = np.nan
    drawn = draw_skeleton(_blank(), keypoints, None, SKELETON)
    assert drawn[10, 32].any() and not drawn[35:46, 11:22].any()


def test_draw_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="uint8"):
        draw_skeleton(_blank().astype(np.float32), KEYPOINTS, None, SKELETON)
    with pytest.raises(ValueError, match="outside"):
        draw_skeleton(_blank(), KEYPOINTS, None, [(0, 3)])
    with pytest.raises(ValueError, match="scores"):
        draw_skeleton(_blank(), KEYPOINTS, np.ones(2), SKELETON)


def test_grid_shape_and_placement() -> None:
    images = [np.full((20, 10, 3), 10 * (i + 1), dtype=np.uint8) for i in range(5)]
    grid = make_grid(images, ncols=2)
    assert grid.shape == (3 * 20, 2 * 10, 3)
    assert grid[0, 0, 0] == 10 and grid[0, 10, 0] == 20 and grid[40, 0, 0] == 50
    assert not grid[40:, 10:].any(), "the empty last cell is not black"
    assert make_grid(images[:3], ncols=4).shape == (20, 3 * 10, 3)


def test_grid_resizes_to_the_cell_keeping_aspect() -> None:
    wide = np.full((10, 40, 3), 200, dtype=np.uint8)
    grid = make_grid([_blank(32, 16), wide], ncols=2, cell_size=(20, 30))
    assert grid.shape == (30, 40, 3)
    # 40x10 fits a 20x30 cell as 20x5, padded below
    assert grid[:5, 20:].min() == 200 and not grid[5:, 20:].any()


def test_save_and_load_round_trip(tmp_path) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(12, 9, 3), dtype=np.uint8)
    path = save_image(tmp_path / "sub" / "dir" / "image.png", image)
    assert path.is_file()
    loaded = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(loaded, image)
    with pytest.raises(ValueError, match="suffix"):
        save_image(tmp_path / "image.unknown", image)
