"""The one predict path: uint8 crops -> keypoints and scores in image pixels.

Validation, the Predictor, export and analysis all call :func:`predict_crops`; nothing else
calls a codec's flip or decode, so a fix to either is made once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import torch
from torch import Tensor

from posekit.codecs import Codec
from posekit.core.geometry import crop_to_image


class PoseNetwork(Protocol):
    """What :func:`predict_crops` needs of a network (the LightningModule, the export wrapper)."""

    codec: Codec
    flip_index: Sequence[int]
    # optional ``udp`` (bool, default False): the crops were cut with UDP's matrix

    def normalize(self, images: Tensor) -> Tensor:
        """uint8 (N, 3, H, W) RGB -> the network's float input."""

    def __call__(self, images: Tensor) -> dict[str, Tensor]:
        """Normalised images -> the head outputs named by ``codec.output_keys``."""


@dataclass
class KeypointPrediction:
    """Predictions for a batch of ``N`` crops and ``K`` keypoints."""

    keypoints: Tensor  # (N, K, 2) in image pixels
    scores: Tensor  # (N, K)
    crop_keypoints: Tensor  # (N, K, 2) in crop pixels
    outputs: dict[str, Tensor]  # the head outputs of the crops, each (N, K, ...)
    decoded: dict[str, Tensor]  # what was decoded: ``outputs``, flip-averaged with flip test


def predict_crops(
    network: PoseNetwork,
    images: Tensor,
    center: Tensor,
    scale: Tensor,
    flip_test: bool,
) -> KeypointPrediction:
    """Estimate keypoints on crops cut as the data path cuts them.

    Args:
        network: normalises, runs the head and names its codec and flip permutation.
        images: (N, 3, H, W) uint8 RGB crops at the codec's input size.
        center: (N, 2) crop centres in image pixels (``bbox_to_center_scale``).
        scale: (N, 2) the (w, h) in image pixels each crop covers.
        flip_test: also run the mirrored crops and average (``codec.flip_average``).

    The network runs in float32 even inside a mixed-precision context (``trainer.precision``):
    validation, eval.py, the Predictor and export then give the same keypoints whatever
    precision a model was trained in.
    """
    with torch.autocast(images.device.type, enabled=False):
        normalised = network.normalize(images)
        outputs = network(normalised)
        decoded = outputs
        if flip_test:
            flipped = network(normalised.flip(-1))
            decoded = network.codec.flip_average(outputs, flipped, network.flip_index)
    crop_keypoints, scores = network.codec.decode(decoded)  # (N, K, 2), (N, K)
    udp = bool(getattr(network, "udp", False))
    keypoints = crop_to_image(crop_keypoints, center, scale, network.codec.input_size, udp=udp)
    return KeypointPrediction(keypoints, scores, crop_keypoints, outputs, decoded)


def identity_crops(batch_size: int, input_size: tuple[int, int], device: torch.device):
    """(center, scale) (N, 2) each under which image pixels equal crop pixels."""
    width, height = input_size
    center = torch.tensor([width * 0.5, height * 0.5], device=device).expand(batch_size, 2)
    scale = torch.tensor([float(width), float(height)], device=device).expand(batch_size, 2)
    return center, scale
