"""Pixel augmentations of the references that albumentations does not express exactly.

:class:`YOLOXHSVRandomAug` is mmdet's ``YOLOXHSVRandomAug`` (RTMPose's colour augmentation) as an
albumentations transform: albumentations' ``HueSaturationValue`` shifts all three channels of
every sample by a real-valued amount, mmdet shifts each channel with probability 1/2 by an
integer (a uniform draw truncated toward zero), so a channel keeps its values with probability
1/2 + 1/(2 delta) (saturation: 0.517).
"""

from __future__ import annotations

from typing import Any

import albumentations as A
import cv2
import numpy as np


class YOLOXHSVRandomAug(A.ImageOnlyTransform):
    """mmdet's HSV shift on an RGB uint8 crop (H, W, 3).

    Each of hue, saturation and value is shifted, with probability 1/2 each, by
    ``int(U(-1, 1) * delta)`` in OpenCV's HSV units (hue in [0, 180) wraps around; saturation and
    value clip to [0, 255]).
    """

    def __init__(
        self, hue_delta: int = 5, saturation_delta: int = 30, value_delta: int = 30, p: float = 1.0
    ) -> None:
        super().__init__(p=p)
        self.hue_delta = hue_delta
        self.saturation_delta = saturation_delta
        self.value_delta = value_delta

    def draw_gains(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, 3) integer hue, saturation and value shifts, as mmdet's ``_get_hsv_gains``."""
        deltas = np.array([self.hue_delta, self.saturation_delta, self.value_delta], dtype=float)
        gains = rng.uniform(-1.0, 1.0, size=(n, 3)) * deltas
        gains *= rng.integers(0, 2, size=(n, 3))
        return gains.astype(np.int16)

    def get_params(self) -> dict[str, Any]:
        return {"gains": self.draw_gains(self.random_generator, 1)[0]}

    def apply(self, img: np.ndarray, gains: np.ndarray, **params: Any) -> np.ndarray:
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV).astype(np.int16)  # (H, W, 3)
        hsv[..., 0] = (hsv[..., 0] + gains[0]) % 180
        hsv[..., 1] = np.clip(hsv[..., 1] + gains[1], 0, 255)
        hsv[..., 2] = np.clip(hsv[..., 2] + gains[2], 0, 255)
        return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("hue_delta", "saturation_delta", "value_delta")
