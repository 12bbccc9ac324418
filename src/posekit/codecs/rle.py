"""RLE (residual log-likelihood estimation): regression targets, with the predicted sigma
giving the keypoint scores."""

from __future__ import annotations

from typing import Sequence

import torch

from posekit.codecs.base import flip_index_tensor
from posekit.codecs.regression import RegressionCodec, flip_coords


class RLECodec(RegressionCodec):
    """The regression targets of :class:`RegressionCodec`, for a head that also predicts sigma.

    The head returns ``coords`` (N, K, 2), normalised as the targets, and ``sigma`` (N, K, 2),
    the logits of the normalised scale of the error (its sigmoid is sigma, as in mmpose's
    RLEHead). Only ``coords`` has a target; ``sigma`` is read by the loss and the decoding.

    Decoding: keypoints = coords x (W, H); score = mean over x and y of ``1 - sigmoid(sigma)``
    (mmpose's RegressionLabel with sigma). The flip test mirrors the coordinates exactly, swaps
    sigma with its keypoint and averages sigma after the sigmoid, as mmpose's RLEHead does
    (the average is stored back as a logit, so decoding stays one rule).
    """

    def decode(self, outputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        keypoints = self.to_pixels(outputs["coords"])  # (N, K, 2)
        if "sigma" not in outputs:
            raise KeyError(
                f"RLECodec decodes 'coords' and 'sigma'; the head returned {sorted(outputs)}: "
                "pair model.codec=rle with model.head=rle"
            )
        sigma = outputs["sigma"].float().sigmoid()  # (N, K, 2)
        return keypoints, (1.0 - sigma).mean(dim=-1)

    def flip_outputs(
        self, outputs: dict[str, torch.Tensor], flip_index: Sequence[int]
    ) -> dict[str, torch.Tensor]:
        index = flip_index_tensor(flip_index, outputs["sigma"].shape[1], outputs["sigma"].device)
        return {
            "coords": flip_coords(outputs["coords"], flip_index, self.input_size[0]),
            "sigma": outputs["sigma"].index_select(1, index),
        }

    def flip_average(
        self,
        outputs: dict[str, torch.Tensor],
        flipped_crop_outputs: dict[str, torch.Tensor],
        flip_index: Sequence[int],
    ) -> dict[str, torch.Tensor]:
        flipped = self.flip_outputs(flipped_crop_outputs, flip_index)
        sigma = 0.5 * (outputs["sigma"].sigmoid() + flipped["sigma"].sigmoid())  # (N, K, 2)
        return {
            "coords": 0.5 * (outputs["coords"] + flipped["coords"]),
            "sigma": torch.logit(sigma),
        }
