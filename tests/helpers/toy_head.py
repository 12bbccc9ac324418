"""A head family written only against the contract (head, codec, loss), for the contract tests:
direct regression of keypoint coordinates in crop pixels from a pooled feature."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from posekit.codecs.base import Codec, check_keypoints, flip_index_tensor
from posekit.models.losses.base import KeypointLoss, check_weights, pair


class PixelCoordinateCodec(Codec):
    """Targets are the keypoints themselves, ``coords`` (K, 2) in crop pixels."""

    output_keys = ("coords",)

    def __init__(self, input_size: Sequence[int]) -> None:
        self.input_size = (int(input_size[0]), int(input_size[1]))

    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        keypoints, labelled = check_keypoints(keypoints, visible)
        inside = (keypoints >= 0).all(axis=1) & (keypoints < self.input_size).all(axis=1)
        weights = (labelled & inside).astype(np.float32)
        coords = np.where(weights[:, None] > 0, keypoints, 0.0).astype(np.float32)
        return {"coords": coords, "keypoint_weights": weights}

    def decode(self, outputs: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        coords = outputs["coords"]  # (N, K, 2)
        return coords, torch.ones(coords.shape[:2], dtype=coords.dtype, device=coords.device)

    def flip_outputs(self, outputs: dict[str, Tensor], flip_index: Sequence[int]) -> dict:
        coords = outputs["coords"]
        index = flip_index_tensor(flip_index, coords.shape[1], coords.device)
        flipped = coords[:, index].clone()
        flipped[..., 0] = self.input_size[0] - 1 - flipped[..., 0]
        return {"coords": flipped}


class PooledRegressionHead(nn.Module):
    """Global average pooling, then a linear layer to K x 2 coordinates."""

    def __init__(self, in_channels: int, num_keypoints: int) -> None:
        super().__init__()
        self.num_keypoints = num_keypoints
        self.fc = nn.Linear(in_channels, num_keypoints * 2)

    def forward(self, feature: Tensor) -> dict[str, Tensor]:
        pooled = feature.mean(dim=(2, 3))  # (N, C)
        return {"coords": self.fc(pooled).view(-1, self.num_keypoints, 2)}


class WeightedL1Loss(KeypointLoss):
    """Mean absolute coordinate error of the weighted keypoints."""

    def per_sample(self, outputs, targets, keypoint_weights: Tensor) -> Tensor:
        pred, target = pair(outputs, targets, "coords")  # (N, K, 2)
        check_weights(keypoint_weights, pred)
        error = (pred - target).abs().sum(dim=-1) * keypoint_weights  # (N, K)
        return error.mean(dim=1)
