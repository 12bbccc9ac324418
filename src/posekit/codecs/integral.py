"""Integral regression (IPR, DSNT, debiased IPR; AlphaPose's integral L1 regression):
coordinates as the expectation of a normalised heatmap."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from posekit.codecs.base import Codec, as_positive, as_size, flip_index_tensor
from posekit.codecs.heatmap import MSRAHeatmapCodec
from posekit.codecs.regression import flip_coords, normalise_keypoints


class IntegralRegressionCodec(Codec):
    """mmpose's IntegralRegressionLabel: normalised coordinates plus normalised heatmaps.

    Targets: ``coords`` (K, 2) = keypoints / (W, H) with the weights of
    :class:`~posekit.codecs.regression.RegressionCodec` (labelled and inside the crop), and
    ``heatmaps`` (K, h, w): MSRA Gaussians (peak at the rounded location, ``sigma`` in heatmap
    pixels) divided by their sum when ``normalize`` (the DSNT / JS target), zero for weight-0
    keypoints. The head returns ``coords`` (the expectation of its normalised heatmaps, in units
    of the input size), ``heatmaps`` (those normalised heatmaps) and optionally ``scores``
    (N, K).

    Decoding: keypoints = coords x (W, H); scores = the head's ``scores`` when it gives them
    (AlphaPose's sigmoid maximum), else 1 (mmpose). Flip test: the coordinates mirror exactly
    (u -> 1 - 1/W - u, mmpose's ``shift_coords``), the heatmaps as HRNet's (reverse, swap, shift
    one column: they are only averaged, never decoded), scores swap with their keypoint.

    Args:
        input_size: (W, H) of the network input in pixels.
        heatmap_size: (w, h) of the heatmaps.
        sigma: Gaussian sigma of the heatmap targets, in heatmap pixels.
        normalize: divide each heatmap target by its sum.
    """

    output_keys = ("coords", "heatmaps")
    repr_fields = ("input_size", "heatmap_size", "sigma", "normalize")

    def __init__(
        self,
        input_size: Sequence[int],
        heatmap_size: Sequence[int],
        sigma: float = 2.0,
        normalize: bool = True,
    ) -> None:
        self.input_size = as_size("input_size", input_size)
        self.heatmap_size = as_size("heatmap_size", heatmap_size)
        self.sigma = as_positive("sigma", sigma)
        self.normalize = bool(normalize)
        self._heatmaps = MSRAHeatmapCodec(self.input_size, self.heatmap_size, self.sigma)


    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        coords, weights = normalise_keypoints(keypoints, visible, self.input_size)
        heatmaps = self._heatmaps.encode(keypoints, visible)["heatmaps"]  # (K, h, w)
        heatmaps = heatmaps * weights[:, None, None]
        if self.normalize:
            total = heatmaps.sum(axis=(1, 2), keepdims=True)  # (K, 1, 1)
            heatmaps = heatmaps / np.where(total > 0, total, 1.0)
        return {
            "coords": coords,
            "heatmaps": heatmaps.astype(np.float32),
            "keypoint_weights": weights,
        }

    def decode(self, outputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        coords = outputs["coords"]
        if coords.ndim != 3 or coords.shape[-1] != 2:
            raise ValueError(f"coords must be (N, K, 2), got shape {tuple(coords.shape)}")
        keypoints = coords.float() * coords.new_tensor(self.input_size, dtype=torch.float32)
        if "scores" in outputs:
            return keypoints, outputs["scores"].float()
        return keypoints, keypoints.new_ones(keypoints.shape[:2])

    def flip_outputs(
        self, outputs: dict[str, torch.Tensor], flip_index: Sequence[int]
    ) -> dict[str, torch.Tensor]:
        flipped = {
            "coords": flip_coords(outputs["coords"], flip_index, self.input_size[0]),
            "heatmaps": self._heatmaps.flip_outputs(outputs, flip_index)["heatmaps"],
        }
        if "scores" in outputs:
            scores = outputs["scores"]  # (N, K)
            index = flip_index_tensor(flip_index, scores.shape[1], scores.device)
            flipped["scores"] = scores.index_select(1, index)
        return flipped

