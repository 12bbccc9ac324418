"""The codec interface: keypoints <-> training targets, network outputs -> keypoints.

A codec owns everything that depends on the representation a head predicts (heatmaps, SimCC
vectors, ...): building the targets for one sample in the data loader (``encode``, numpy),
reading keypoints back from a batch of outputs (``decode``, torch) and mapping the outputs of a
horizontally flipped crop back into the frame of the original crop (``flip_outputs``, torch).
"""

from __future__ import annotations

import abc
import math
from numbers import Integral, Real
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F


class Codec(abc.ABC):
    """Base class of the target codecs.

    Attributes:
        input_size: (W, H) of the network input in pixels.
        output_keys: names of the head outputs, which are also the names of the targets.
    """

    input_size: tuple[int, int]
    output_keys: tuple[str, ...]
    repr_fields: tuple[str, ...] = ("input_size",)  # the settings ``repr`` shows

    def __repr__(self) -> str:
        settings = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.repr_fields)
        return f"{type(self).__name__}({settings})"

    @abc.abstractmethod
    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        """Build the training targets of one sample.

        Args:
            keypoints: (K, 2) float, in input-crop pixel coordinates.
            visible: (K,) float or bool, 1 (> 0) for labelled keypoints.

        Returns:
            float32 arrays: the targets under ``self.output_keys`` plus ``"keypoint_weights"``
            (K,), which is 0 for unlabelled keypoints and for keypoints whose target falls outside
            the output grid; the targets of those keypoints are zeros.
        """

    @abc.abstractmethod
    def decode(self, outputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Read keypoints from a batch of head outputs, each (N, K, ...).

        Returns:
            keypoints (N, K, 2) in input-crop pixel coordinates and scores (N, K).
        """

    @abc.abstractmethod
    def flip_outputs(
        self, outputs: dict[str, torch.Tensor], flip_index: Sequence[int]
    ) -> dict[str, torch.Tensor]:
        """Map the head outputs of the horizontally flipped crop (pixel x -> W-1-x) back.

        Mirrors the x axis, swaps left/right channels (``out[:, i] = in[:, flip_index[i]]``) and
        corrects the offset of the mirrored grid, so that the result can be averaged with the
        outputs of the un-flipped crop (flip-test augmentation).
        """

    def flip_average(
        self,
        outputs: dict[str, torch.Tensor],
        flipped_crop_outputs: dict[str, torch.Tensor],
        flip_index: Sequence[int],
    ) -> dict[str, torch.Tensor]:
        """The flip test: ``outputs`` of the crops averaged with ``flipped_crop_outputs`` (the
        head outputs of the mirrored crops, mapped back with :meth:`flip_outputs`).

        The plain mean of every output :meth:`flip_outputs` maps back (the ``output_keys`` and
        any extra outputs such as confidences); a codec whose recipe averages another quantity
        (e.g. probabilities rather than logits) overrides this.
        """
        flipped = self.flip_outputs(flipped_crop_outputs, flip_index)
        return {key: (outputs[key] + value) * 0.5 for key, value in flipped.items()}


def as_size(name: str, value: Sequence[int]) -> tuple[int, int]:
    """Validate a (W, H) pair of positive ints; raise ValueError otherwise."""
    try:
        items = tuple(value)
    except TypeError:
        raise ValueError(f"{name} must be a pair of positive ints (W, H), got {value!r}") from None
    if len(items) != 2 or not all(
        isinstance(v, Integral) and not isinstance(v, bool) and v > 0 for v in items
    ):
        raise ValueError(f"{name} must be a pair of positive ints (W, H), got {value!r}")
    return int(items[0]), int(items[1])


def as_positive(name: str, value: float) -> float:
    """Validate a finite number > 0; raise ValueError otherwise."""
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def as_odd_kernel(name: str, value: int) -> int:
    """Validate an odd positive int (a blur kernel size); raise ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1 or value % 2 == 0:
        raise ValueError(f"{name} must be an odd positive int, got {value!r}")
    return int(value)


def check_keypoints(keypoints: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate the inputs of ``encode``.

    Returns:
        keypoints: (K, 2) float64, non-finite coordinates replaced by 0;
        labelled: (K,) bool, labelled and with finite coordinates.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    visible = np.asarray(visible)
    if keypoints.ndim != 2 or keypoints.shape[1] != 2:
        raise ValueError(f"keypoints must be (K, 2), got shape {keypoints.shape}")
    if visible.shape != keypoints.shape[:1]:
        raise ValueError(f"visible must be ({keypoints.shape[0]},), got shape {visible.shape}")
    finite = np.isfinite(keypoints).all(axis=1)  # (K,)
    labelled = (visible > 0) & finite  # (K,)
    return np.where(finite[:, None], keypoints, 0.0), labelled


def flip_index_tensor(
    flip_index: Sequence[int], num_keypoints: int, device: torch.device
) -> torch.Tensor:
    """Validate ``flip_index`` as a permutation of range(K) and return it as a long tensor (K,)."""
    indices = [int(i) for i in flip_index]
    if sorted(indices) != list(range(num_keypoints)):
        raise ValueError(
            f"flip_index must be a permutation of range({num_keypoints}), got {list(flip_index)}"
        )
    return torch.tensor(indices, dtype=torch.long, device=device)


def gaussian_blur(heatmaps: torch.Tensor, size: int) -> torch.Tensor:
    """Separable Gaussian blur of each heatmap (N, K, h, w) -> same, with zero padding and
    OpenCV's sigma for an odd kernel ``size`` (``0.3 ((size - 1) / 2 - 1) + 0.8``): DarkPose's
    and mmpose's ``gaussian_blur``, which embed the map in zeros before ``cv2.GaussianBlur``."""
    sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    taps = torch.arange(size, dtype=heatmaps.dtype, device=heatmaps.device) - (size - 1) / 2
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = kernel / kernel.sum()  # (size,)
    n, k, h, w = heatmaps.shape
    maps = heatmaps.reshape(n * k, 1, h, w)
    maps = F.conv2d(maps, kernel.view(1, 1, 1, size), padding=(0, size // 2))
    maps = F.conv2d(maps, kernel.view(1, 1, size, 1), padding=(size // 2, 0))
    return maps.view(n, k, h, w)
