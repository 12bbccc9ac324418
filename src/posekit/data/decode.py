"""Decoding only what a crop needs: JPEGs at 1/2, 1/4 or 1/8 scale when the crop is downscaled.

libjpeg can decode a JPEG at a reduced scale for a fraction of the full cost (it skips most of
the inverse DCT and all of the later upsampling); OpenCV exposes it as the ``IMREAD_REDUCED_*``
modes. When the crop shows ``s`` image pixels per crop pixel, an image reduced by ``r <= s``
still has at least one pixel per crop pixel, so the crop keeps its resolution. The crop matrix
is adjusted for the reduced image: reduced pixel ``i`` averages full pixels ``[r i, r i + r)``,
whose centre is ``r i + (r - 1) / 2``.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from posekit.core.io import read_rgb_image

# OpenCV's scaled-decoding modes (libjpeg's scale_denom); other formats would decode in full
# and then be resized, which is slower than the full decode alone
REDUCED_MODES: dict[int, int] = {
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}
JPEG_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif")


def reduction_factor(matrix: np.ndarray, max_factor: int = 8) -> int:
    """The largest r in 1, 2, 4, 8 (at most ``max_factor``) that keeps the crop's resolution.

    matrix: (2, 3) image pixels -> crop pixels (a rotation and a uniform zoom). r is at most
    the image pixels per crop pixel, ``1 / zoom``.
    """
    zoom = math.hypot(float(matrix[0][0]), float(matrix[0][1]))  # the row norm of zoom x rotation
    image_pixels_per_crop_pixel = 1.0 / zoom if zoom > 0 else math.inf
    factor = 1
    while factor * 2 <= max_factor and factor * 2 <= image_pixels_per_crop_pixel * (1 + 1e-6):
        factor *= 2
    return factor


def reduced_matrix(matrix: np.ndarray, factor: int) -> np.ndarray:
    """(2, 3) matrix taking pixels of the image reduced by ``factor`` to the same crop pixels.

    Full-image x = factor * x_reduced + (factor - 1) / 2, substituted into ``matrix``.
    """
    matrix = np.asarray(matrix, np.float64)
    linear = matrix[:, :2]
    offset = matrix[:, 2] + linear @ np.full(2, (factor - 1) * 0.5)
    return np.concatenate([linear * factor, offset[:, None]], axis=1).astype(np.float32)


def is_jpeg(path: str | Path) -> bool:
    return str(path).lower().endswith(JPEG_SUFFIXES)


def crop_factor(path: str | Path, matrix: np.ndarray, reduced: bool = True) -> int:
    """The factor to decode ``path`` at for the crop of ``matrix``: :func:`reduction_factor`
    for a JPEG when ``reduced``, else 1 (other formats have no scaled decoding)."""
    return reduction_factor(matrix) if reduced and is_jpeg(path) else 1


def decode_at(path: str | Path, factor: int, record_hint: str) -> np.ndarray:
    """Image (h, w, 3) uint8 RGB of ``path`` decoded at 1/``factor`` scale (1: in full)."""
    if factor == 1:
        return read_rgb_image(path, record_hint)
    return read_rgb_image(path, record_hint, REDUCED_MODES[factor])


def matrix_for(matrix: np.ndarray, factor: int) -> np.ndarray:
    """``matrix`` (2, 3) for an image decoded at 1/``factor`` scale (itself when 1)."""
    return matrix if factor == 1 else reduced_matrix(matrix, factor)


class LastImageReader:
    """Reads the image a crop is warped from, at the reduced scale the crop allows, and keeps
    the last decoded image: the next crop of the same image reuses it when it was decoded at
    the crop's factor or finer (a finer image keeps the crop's resolution too), so people of
    one image read one after another cost one decode.

    ``decodes`` counts the images actually decoded. One image per process (a worker's copy of
    the data set keeps its own): about 1 MB for a COCO image.
    """

    def __init__(self, reduced: bool = True) -> None:
        self.reduced = reduced
        self.decodes = 0
        self._path: str | None = None
        self._factor = 0
        self._image: np.ndarray | None = None

    def read_for_crop(
        self, path: str | Path, matrix: np.ndarray, record_hint: str
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """The image a crop is warped from, the matrix to warp it with and the reduction factor.

        Returns image (h, w, 3) uint8 RGB, matrix (2, 3) from its pixels to crop pixels, and
        the factor r of the image reused or read (1: the full image through
        :func:`posekit.core.io.read_rgb_image` and ``matrix`` unchanged). With ``reduced`` and
        a JPEG whose crop is downscaled at least 2x, the image is decoded at 1/r scale (about r
        times fewer pixels on each side).
        """
        wanted = crop_factor(path, matrix, self.reduced)
        if str(path) != self._path or self._factor > wanted:
            self._image = decode_at(path, wanted, record_hint)
            self._path, self._factor = str(path), wanted
            self.decodes += 1
        return self._image, matrix_for(matrix, self._factor), self._factor


def check_decoded_size(
    image: np.ndarray, factor: int, size: tuple[int, int], path: str | Path, record_hint: str
) -> None:
    """Refuse an image decoded at 1/``factor`` scale whose size is not the annotation file's
    ``size`` (W, H) at that scale (libjpeg rounds up: ``ceil(W / factor)``). The box and
    keypoints are in the file's pixels: another size (EXIF rotation, a resized copy) would crop
    the wrong place without an error.

    Raises:
        ValueError: naming the file, the record and both sizes.
    """
    width, height = size
    expected = (math.ceil(width / factor), math.ceil(height / factor))
    found = (image.shape[1], image.shape[0])
    if found != expected:
        decoded = f"{found[0]}x{found[1]}" + (f" at 1/{factor} scale" if factor > 1 else "")
        raise ValueError(
            f"image {path} ({record_hint}) decodes to {decoded}, but the annotation file gives "
            f"{width}x{height} (expected {expected[0]}x{expected[1]}): its boxes and keypoints "
            "would be cut from the wrong place. An EXIF orientation tag (OpenCV applies it), a "
            "resized copy or a wrong width/height in the file: fix the image or the file"
        )
