"""Random geometric augmentation of the top-down crop (box level, before the warp).

Two reference families draw the box jitter differently, and :class:`GeometricAugmentation`
follows either (``sampling``):

- ``clipped_normal`` (the official HRNet / SimCC / AlphaPose code, ``JointsDataset`` and
  ``SimpleTransform``): scale ``clip(1 + sf N(0, 1), 1 - sf, 1 + sf)``, rotation
  ``clip(rf N(0, 1), -2 rf, 2 rf)`` with p ``rotation_prob``; their shift (none in those recipes)
  is uniform in +-``shift_factor``.
- ``truncated_normal`` (mmpose 1.x ``RandomBBoxTransform``): every factor is
  ``scipy.stats.truncnorm(-1, 1)``: scale ``1 + sf T``, rotation ``rf T`` with p
  ``rotation_prob``, shift ``shift_factor T`` per axis with p ``shift_prob``.

The half-body choice follows ``half_body_rule``: ``hrnet`` (upper body when ``np.random.randn()
< 0.5``, i.e. p 0.69, and more than 2 upper keypoints, else the other labelled keypoints when
more than 2; every labelled keypoint outside the upper set counts as lower) or ``mmpose``
(``RandomHalfBody``: upper with p ``upper_body_prob`` 0.7; at least 2 upper and 3 lower keypoints).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from posekit.core.geometry import bbox_to_center_scale

SAMPLINGS = ("clipped_normal", "truncated_normal")
HALF_BODY_RULES = ("hrnet", "mmpose")
SHIFT_BASES = ("crop", "box")
# P(N(0, 1) < 0.5): the upper-body probability of HRNet's and AlphaPose's `randn() < 0.5`
HRNET_UPPER_PROB = float(ndtr(0.5))


def truncated_normal(rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
    """Standard normal truncated to [-1, 1] (``scipy.stats.truncnorm(-1, 1)``) by its inverse
    CDF: one uniform draw per value."""
    low, high = ndtr(-1.0), ndtr(1.0)
    return ndtri(rng.uniform(low, high, size=size))


@dataclass(frozen=True)
class GeometricAugmentation:
    """The training-time box jitter of the HRNet / mmpose / AlphaPose recipes.

    flip_prob: horizontal flip (with left/right swap); half_body_prob: crop the upper or lower
    body when more than ``half_body_min_keypoints`` are labelled; ``upper_body_prob``: the chance
    of the upper half (``half_body_upper_ids`` overrides the keypoint spec's upper set);
    scale_factor, rotation_factor (degrees, with ``rotation_prob``), shift_factor (with
    ``shift_prob``): see the module docstring for the two ``sampling`` rules. ``shift_basis``:
    the shift is a fraction of the crop's (w, h) (``crop``, aspect-ratio fixed) or of the padded
    box's own (w, h) before the aspect-ratio fix (``box``, mmpose's ``bbox_scale``).
    """

    flip_prob: float = 0.5
    half_body_prob: float = 0.3
    half_body_min_keypoints: int = 8
    scale_factor: float = 0.35
    rotation_factor: float = 45.0
    rotation_prob: float = 0.6
    shift_factor: float = 0.0
    shift_prob: float = 0.0
    sampling: str = "clipped_normal"
    upper_body_prob: float = 0.5
    half_body_rule: str = "hrnet"
    half_body_upper_ids: tuple[int, ...] | None = None
    shift_basis: str = "crop"

    def __post_init__(self) -> None:
        for name in ("flip_prob", "half_body_prob", "rotation_prob", "shift_prob", "upper_body_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"augmentation.{name} must lie in [0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.scale_factor < 1.0:
            raise ValueError(f"augmentation.scale_factor must lie in [0, 1), got {self.scale_factor}")
        for name, allowed in (("sampling", SAMPLINGS), ("half_body_rule", HALF_BODY_RULES),
                              ("shift_basis", SHIFT_BASES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"augmentation.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.half_body_upper_ids is not None:  # Hydra hands a ListConfig
            object.__setattr__(self, "half_body_upper_ids", tuple(int(i) for i in self.half_body_upper_ids))

    # The three draws, vectorised over n samples (the tests draw many at once). A factor that is
    # not applied draws nothing more, so one sample draws as posekit always has.
    def _applied(self, rng: np.random.Generator, n: int, prob: float) -> np.ndarray:
        return rng.random(n) < prob  # (n,) bool

    def _standard(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        """Truncated (mmpose) or plain normal draws."""
        if self.sampling == "truncated_normal":
            return truncated_normal(rng, size)
        return rng.normal(size=size)

    def draw_scale(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n,) scale factors."""
        sf = self.scale_factor
        if self.sampling == "truncated_normal":
            return 1.0 + sf * truncated_normal(rng, n)
        return np.clip(rng.normal(size=n) * sf + 1.0, 1.0 - sf, 1.0 + sf)

    def draw_rotation(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n,) rotations in degrees, 0 where not applied."""
        rf = self.rotation_factor
        applied = self._applied(rng, n, self.rotation_prob)
        angle = np.zeros(n)
        angle[applied] = rf * self._standard(rng, int(applied.sum()))
        if self.sampling == "clipped_normal":
            angle = np.clip(angle, -2.0 * rf, 2.0 * rf)
        return angle

    def draw_shift(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, 2) centre shifts as fractions of the shift basis, 0 where not applied."""
        applied = self._applied(rng, n, self.shift_prob)
        offset = np.zeros((n, 2))
        count = int(applied.sum())
        if self.sampling == "truncated_normal":
            offset[applied] = self.shift_factor * truncated_normal(rng, (count, 2))
        else:
            offset[applied] = self.shift_factor * rng.uniform(-1.0, 1.0, size=(count, 2))
        return offset

    def jitter(
        self,
        center: np.ndarray,
        scale: np.ndarray,
        rng: np.random.Generator,
        box_size: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """Random shift and scale of the box and a random rotation in degrees.

        center, scale: (2,) the crop's centre and (w, h); box_size: (2,) the padded box's own
        (w, h) before the aspect-ratio fix (the shift's basis when ``shift_basis='box'``).
        """
        basis = scale if self.shift_basis == "crop" or box_size is None else box_size
        if self.shift_prob > 0:
            center = center + self.draw_shift(rng, 1)[0] * basis
        scale = scale * float(self.draw_scale(rng, 1)[0])  # float32, as posekit always drew it
        rotation = float(self.draw_rotation(rng, 1)[0]) if self.rotation_factor > 0 else 0.0
        center, scale = np.asarray(center, np.float32), np.asarray(scale, np.float32)
        return center, scale, rotation

    def choose_half(
        self, visible: np.ndarray, upper_ids: tuple[int, ...], lower_ids: tuple[int, ...],
        rng: np.random.Generator,
    ) -> list[int] | None:
        """The keypoint ids of the chosen half, or None when the half-body crop is not applied.

        visible: (K,) bool.
        """
        upper_ids = self.half_body_upper_ids if self.half_body_upper_ids is not None else upper_ids
        if (
            not upper_ids
            or visible.sum() <= self.half_body_min_keypoints
            or rng.random() >= self.half_body_prob
        ):
            return None
        upper = [i for i in upper_ids if visible[i]]
        prefer_upper = rng.random() < self.upper_body_prob
        if self.half_body_rule == "hrnet":  # HRNet / AlphaPose: every other labelled keypoint
            in_upper = set(upper_ids)
            lower = [i for i in np.flatnonzero(visible).tolist() if i not in in_upper]
            chosen = upper if (prefer_upper and len(upper) > 2) or len(lower) <= 2 else lower
            return chosen if len(chosen) >= 2 else None
        lower = [i for i in lower_ids if visible[i]]  # mmpose RandomHalfBody
        if len(upper) < 2 and len(lower) < 3:
            return None
        if len(lower) < 3:
            return upper
        if len(upper) < 2:
            return lower
        return upper if prefer_upper else lower

    def half_body(
        self,
        keypoints: np.ndarray,
        upper_ids: tuple[int, ...],
        lower_ids: tuple[int, ...],
        aspect_ratio: float,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Centre, crop scale (aspect-ratio fixed) and box size (not fixed) of the chosen half's
        box padded 1.5x, or None when not applied.

        keypoints: (K, 3) in image pixels.
        """
        chosen = self.choose_half(keypoints[:, 2] > 0, upper_ids, lower_ids, rng)
        if chosen is None:
            return None
        points = keypoints[chosen, :2]
        extent = points.max(axis=0) - points.min(axis=0)
        _, scale = bbox_to_center_scale(np.array([0, 0, *extent]), aspect_ratio, padding=1.5)
        return points.mean(axis=0).astype(np.float32), scale, (extent * 1.5).astype(np.float32)
