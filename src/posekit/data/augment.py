"""Random geometric augmentation of the top-down crop (box level, before the warp)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posekit.core.geometry import bbox_to_center_scale


@dataclass(frozen=True)
class GeometricAugmentation:
    """The training-time box jitter of the HRNet / mmpose recipes.

    flip_prob: horizontal flip (with left/right swap); half_body_prob: crop the upper or lower
    body when more than ``half_body_min_keypoints`` are labelled; scale_factor: scale x
    clip(1 + N(0, sf), 1 - sf, 1 + sf); rotation_factor: rotation clip(N(0, rf), -2rf, 2rf) in
    degrees, applied with ``rotation_prob``; shift_factor: centre shift up to that fraction of the
    box, applied with ``shift_prob``.
    """

    flip_prob: float = 0.5
    half_body_prob: float = 0.3
    half_body_min_keypoints: int = 8
    scale_factor: float = 0.35
    rotation_factor: float = 45.0
    rotation_prob: float = 0.6
    shift_factor: float = 0.0
    shift_prob: float = 0.0

    def __post_init__(self) -> None:
        for name in ("flip_prob", "half_body_prob", "rotation_prob", "shift_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"augmentation.{name} must lie in [0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.scale_factor < 1.0:
            raise ValueError(f"augmentation.scale_factor must lie in [0, 1), got {self.scale_factor}")

    def jitter(
        self, center: np.ndarray, scale: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """Random shift and scale of the box and a random rotation in degrees."""
        center = center.copy()
        if self.shift_prob > 0 and rng.random() < self.shift_prob:
            center += rng.uniform(-1.0, 1.0, size=2).astype(np.float32) * self.shift_factor * scale
        sf = self.scale_factor
        scale = scale * float(np.clip(rng.normal() * sf + 1.0, 1.0 - sf, 1.0 + sf))
        rotation = 0.0
        if self.rotation_factor > 0 and rng.random() < self.rotation_prob:
            rf = self.rotation_factor
            rotation = float(np.clip(rng.normal() * rf, -2.0 * rf, 2.0 * rf))
        return center, scale, rotation

    def half_body(
        self,
        keypoints: np.ndarray,
        upper_ids: tuple[int, ...],
        lower_ids: tuple[int, ...],
        aspect_ratio: float,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Centre and scale of the upper or lower body's box, or None when not applied.

        keypoints: (K, 3) in image pixels.
        """
        visible = keypoints[:, 2] > 0
        if (
            not upper_ids
            or visible.sum() <= self.half_body_min_keypoints
            or rng.random() >= self.half_body_prob
        ):
            return None
        upper = [i for i in upper_ids if visible[i]]
        lower = [i for i in lower_ids if visible[i]]
        chosen = upper if (rng.random() < 0.5 and len(upper) > 2) or len(lower) <= 2 else lower
        if len(chosen) < 2:
            return None
        points = keypoints[chosen, :2]
        extent = points.max(axis=0) - points.min(axis=0)
        _, scale = bbox_to_center_scale(np.array([0, 0, *extent]), aspect_ratio, padding=1.5)
        return points.mean(axis=0).astype(np.float32), scale
