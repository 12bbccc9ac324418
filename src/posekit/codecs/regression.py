"""Direct coordinate regression (DeepPose, mmpose's RegressionLabel): keypoints normalised by
the input size."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from posekit.codecs.base import Codec, as_size, check_keypoints, flip_index_tensor


def normalise_keypoints(
    keypoints: np.ndarray, visible: np.ndarray, input_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """mmpose's RegressionLabel encoding of one sample.

    Returns ``coords`` (K, 2) float32 = keypoints / (W, H) (0 for weight-0 keypoints) and
    ``weights`` (K,) float32: 1 for labelled keypoints inside [0, W-1] x [0, H-1], else 0.
    """
    keypoints, labelled = check_keypoints(keypoints, visible)  # (K, 2), (K,)
    width, height = input_size
    inside = ((keypoints >= 0) & (keypoints <= [width - 1, height - 1])).all(axis=1)  # (K,)
    weights = (labelled & inside).astype(np.float32)  # (K,)
    coords = (keypoints / np.array([width, height])).astype(np.float32)  # (K, 2)
    return coords * weights[:, None], weights


def flip_coords(coords: torch.Tensor, flip_index: Sequence[int], width: int) -> torch.Tensor:
    """Normalised coordinates (N, K, 2) of the mirrored crop back in the original crop.

    The pixel flip x -> W-1-x is, in units of W, u -> 1 - 1/W - u (mmpose's ``flip_coordinates``
    with ``shift_coords=True``): exact, no interpolation. Channels swap left/right.
    """
    index = flip_index_tensor(flip_index, coords.shape[1], coords.device)
    flipped = coords.index_select(1, index).clone()
    flipped[..., 0] = 1.0 - 1.0 / width - flipped[..., 0]
    return flipped


class RegressionCodec(Codec):
    """Keypoints as coordinates normalised by the input size, as mmpose's ``RegressionLabel``.

    Target ``coords`` (K, 2) = (x / W, y / H) in input-crop pixels; weight 0 for unlabelled
    keypoints and those outside [0, W-1] x [0, H-1] (their targets are 0). Decoding multiplies
    back by (W, H); the scores are 1 (mmpose's RegressionLabel gives no confidence for plain
    regression). The flip test mirrors the coordinates exactly (see :func:`flip_coords`).

    Args:
        input_size: (W, H) of the network input in pixels.
    """

    output_keys = ("coords",)

    def __init__(self, input_size: Sequence[int]) -> None:
        self.input_size = as_size("input_size", input_size)


    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        coords, weights = normalise_keypoints(keypoints, visible, self.input_size)
        return {"coords": coords, "keypoint_weights": weights}

    def to_pixels(self, coords: torch.Tensor) -> torch.Tensor:
        """Normalised (N, K, 2) -> input-crop pixels (N, K, 2)."""
        if coords.ndim != 3 or coords.shape[-1] != 2:
            raise ValueError(f"coords must be (N, K, 2), got shape {tuple(coords.shape)}")
        return coords.float() * coords.new_tensor(self.input_size, dtype=torch.float32)

    def decode(self, outputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        keypoints = self.to_pixels(outputs["coords"])  # (N, K, 2)
        return keypoints, keypoints.new_ones(keypoints.shape[:2])

    def flip_outputs(
        self, outputs: dict[str, torch.Tensor], flip_index: Sequence[int]
    ) -> dict[str, torch.Tensor]:
        return {"coords": flip_coords(outputs["coords"], flip_index, self.input_size[0])}
