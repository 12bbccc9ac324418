"""Online hard keypoint mining on heatmaps (the official HRNet JointsOHKMMSELoss)."""

from __future__ import annotations

from typing import Sequence

from torch import Tensor

from posekit.models.losses.mse import KeypointMSELoss


class KeypointOHKMMSELoss(KeypointMSELoss):
    """HRNet's JointsOHKMMSELoss: per keypoint ``0.5 * mean((w * pred - w * target) ** 2)``
    over its heatmap pixels; per sample the mean of its ``topk`` largest keypoint losses;
    averaged over the batch.

    Args:
        topk: how many of the hardest keypoints count (HRNet: 8); at most K.
        use_target_weight: multiply by ``keypoint_weights``; if False they are ignored.
        loss_weight: factor on the result.
        joint_weights: optional (K,) factors on the keypoint weights (see KeypointLoss).
    """

    def __init__(
        self,
        topk: int = 8,
        use_target_weight: bool = True,
        loss_weight: float = 1.0,
        joint_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__(use_target_weight, loss_weight, joint_weights)
        if int(topk) < 1:
            raise ValueError(f"model.loss.topk must be >= 1, got {topk}")
        self.topk = int(topk)

    def per_sample(
        self, outputs: dict[str, Tensor], targets: dict[str, Tensor], keypoint_weights: Tensor
    ) -> Tensor:
        """(N,) the loss of each sample."""
        per_keypoint = self.per_keypoint(outputs, targets, keypoint_weights)  # (N, K)
        if per_keypoint.shape[1] < self.topk:
            raise ValueError(
                f"model.loss.topk={self.topk} exceeds the {per_keypoint.shape[1]} keypoints: "
                "lower it"
            )
        hardest = per_keypoint.topk(self.topk, dim=1).values  # (N, topk)
        return self.loss_weight * hardest.sum(dim=1) / self.topk
