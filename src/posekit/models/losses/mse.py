"""HRNet's keypoint MSE on heatmaps."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from posekit.models.losses.base import KeypointLoss, check_weights, pair


class KeypointMSELoss(KeypointLoss):
    """HRNet's JointsMSELoss on heatmaps.

    ``0.5 * mean((w * pred - w * target) ** 2)`` over the batch, the keypoints and the
    pixels: as in HRNet, prediction and target are both multiplied by the keypoint weight
    ``w`` before the squared error, so the weight acts squared.

    Args:
        use_target_weight: multiply by ``keypoint_weights``; if False they are ignored.
        loss_weight: factor on the result.
        joint_weights: optional (K,) factors on the keypoint weights (see KeypointLoss).
    """

    def per_keypoint(
        self, outputs: dict[str, Tensor], targets: dict[str, Tensor], keypoint_weights: Tensor
    ) -> Tensor:
        """(N, K) ``0.5 * mean((w * pred - w * target) ** 2)`` over each heatmap's pixels."""
        pred, target = pair(outputs, targets, "heatmaps")  # (N, K, H, W) each
        if self.use_target_weight:
            check_weights(keypoint_weights, pred)
            w = self.weights(keypoint_weights)[:, :, None, None].to(pred.dtype)  # (N, K, 1, 1)
            pred, target = pred * w, target * w
        return 0.5 * F.mse_loss(pred, target, reduction="none").flatten(2).mean(dim=2)

    def per_sample(
        self, outputs: dict[str, Tensor], targets: dict[str, Tensor], keypoint_weights: Tensor
    ) -> Tensor:
        """(N,) the loss of each sample: the mean over keypoints (all heatmaps have one size)."""
        return self.loss_weight * self.per_keypoint(outputs, targets, keypoint_weights).mean(dim=1)
