"""Drawing keypoints and skeletons on RGB images, tiling them, and writing them to disk."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from posekit.core.io import check_rgb_image

Color = tuple[int, int, int]

LEFT_COLOR: Color = (255, 140, 0)  # orange
RIGHT_COLOR: Color = (0, 150, 255)  # blue
CENTER_COLOR: Color = (60, 200, 60)  # green

# cv2 draws with fixed-point coordinates of this many fractional bits (sub-pixel accuracy).
_SHIFT = 4


def side_ids(names: Sequence[str]) -> tuple[list[int], list[int]]:
    """Indices of the keypoints whose name contains "left" and of those containing "right".

    The match ignores case: ``("nose", "left_eye", "RightEye")`` gives ``([1], [2])``.
    """
    lowered = [name.lower() for name in names]
    left = [i for i, name in enumerate(lowered) if "left" in name]
    right = [i for i, name in enumerate(lowered) if "right" in name]
    return left, right


def draw_skeleton(
    image: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray | None,
    skeleton: Sequence[tuple[int, int]],
    *,
    names: Sequence[str] | None = None,
    left_ids: Sequence[int] | None = None,
    right_ids: Sequence[int] | None = None,
    score_threshold: float = 0.3,
    color: Color | None = None,
    radius: int | None = None,
    thickness: int | None = None,
) -> np.ndarray:
    """Draw keypoints and limbs on a copy of ``image``; the input is left unmodified.

    Keypoints with a score below ``score_threshold`` or non-finite coordinates are not drawn,
    nor are the limbs touching them. Colours: keypoints in ``left_ids`` are drawn in
    ``LEFT_COLOR``, those in ``right_ids`` in ``RIGHT_COLOR``, the others in ``CENTER_COLOR``;
    a limb takes the side colour when both its ends are on that side, else the centre one.

    Args:
        image: (H, W, 3) uint8 RGB.
        keypoints: (K, 2) pixel coordinates (x, y).
        scores: (K,) confidences (or visibilities), or None to draw every keypoint.
        skeleton: limbs as pairs of keypoint indices.
        names: keypoint names; when given, ``left_ids`` / ``right_ids`` left as None are
            derived from them with :func:`side_ids`.
        left_ids: keypoints on the left side.
        right_ids: keypoints on the right side.
        score_threshold: minimum score of a drawn keypoint.
        color: one RGB colour for everything, overriding the side colours.
        radius: keypoint radius in pixels; by default it grows with the image size.
        thickness: limb thickness in pixels; by default it grows with the image size.

    Returns:
        A new (H, W, 3) uint8 RGB image.
    """
    check_rgb_image(image)
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.ndim != 2 or keypoints.shape[1] != 2:
        raise ValueError(f"keypoints must be (K, 2), got shape {keypoints.shape}")
    num_keypoints = keypoints.shape[0]
    visible = np.isfinite(keypoints).all(axis=1)  # (K,)
    if scores is not None:
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != (num_keypoints,):
            raise ValueError(f"scores must be (K,) = ({num_keypoints},), got {scores.shape}")
        visible &= scores >= score_threshold
    for a, b in skeleton:
        if not (0 <= a < num_keypoints and 0 <= b < num_keypoints):
            raise ValueError(
                f"skeleton limb ({a}, {b}) is outside keypoints 0..{num_keypoints - 1}"
            )

    if names is not None:
        if len(names) != num_keypoints:
            raise ValueError(f"{len(names)} names given for {num_keypoints} keypoints")
        derived_left, derived_right = side_ids(names)
        left_ids = derived_left if left_ids is None else left_ids
        right_ids = derived_right if right_ids is None else right_ids
    left, right = set(left_ids or ()), set(right_ids or ())

    def colour_of(ids: Sequence[int]) -> Color:
        if color is not None:
            return tuple(int(c) for c in color)
        if all(i in left for i in ids):
            return LEFT_COLOR
        if all(i in right for i in ids):
            return RIGHT_COLOR
        return CENTER_COLOR

    size = min(image.shape[:2])
    radius = max(2, round(size / 80)) if radius is None else radius
    thickness = max(1, round(size / 160)) if thickness is None else thickness
    scale = 1 << _SHIFT
    points = np.zeros((num_keypoints, 2), dtype=np.int64)
    points[visible] = np.round(keypoints[visible] * scale)

    canvas = np.ascontiguousarray(image).copy()
    for a, b in skeleton:
        if visible[a] and visible[b]:
            cv2.line(
                canvas,
                (int(points[a, 0]), int(points[a, 1])),
                (int(points[b, 0]), int(points[b, 1])),
                colour_of((a, b)),
                thickness,
                cv2.LINE_AA,
                _SHIFT,
            )
    for i in np.flatnonzero(visible):
        centre = (int(points[i, 0]), int(points[i, 1]))
        cv2.circle(canvas, centre, radius * scale, colour_of((i,)), -1, cv2.LINE_AA, _SHIFT)
    return canvas


def make_grid(
    images: Sequence[np.ndarray], ncols: int = 4, cell_size: tuple[int, int] | None = None
) -> np.ndarray:
    """Tile RGB images row by row into one image.

    Each image is resized, keeping its aspect ratio, to fit a ``cell_size`` = (width, height)
    cell (by default the largest width and height among the images), and padded with black
    at the right and bottom. The grid has ``min(len(images), ncols)`` columns and
    ``ceil(len(images) / ncols)`` rows.

    Returns:
        (rows * cell_h, cols * cell_w, 3) uint8.
    """
    if not images:
        raise ValueError("make_grid needs at least one image")
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    for image in images:
        check_rgb_image(image)
    if cell_size is None:
        cell_w = max(image.shape[1] for image in images)
        cell_h = max(image.shape[0] for image in images)
    else:
        cell_w, cell_h = cell_size
    cols = min(len(images), ncols)
    rows = math.ceil(len(images) / ncols)
    grid = np.zeros((rows * cell_h, cols * cell_w, 3), dtype=np.uint8)
    for n, image in enumerate(images):
        h, w = image.shape[:2]
        ratio = min(cell_w / w, cell_h / h)
        new_w, new_h = max(1, min(cell_w, round(w * ratio))), max(1, min(cell_h, round(h * ratio)))
        if (new_w, new_h) != (w, h):
            interpolation = cv2.INTER_AREA if ratio < 1 else cv2.INTER_LINEAR
            image = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
        top, left = (n // ncols) * cell_h, (n % ncols) * cell_w
        grid[top : top + new_h, left : left + new_w] = image
    return grid


def save_image(path: str | Path, image: np.ndarray) -> Path:
    """Write an (H, W, 3) uint8 RGB image, creating the parent folders; returns the path.

    The format follows the suffix (``.png`` for a lossless PNG).
    """
    check_rgb_image(image)
    path = Path(path)
    if not cv2.haveImageWriter(str(path)):
        raise ValueError(f"OpenCV cannot write images with the suffix of {path}; use .png")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write image to {path}")
    return path
