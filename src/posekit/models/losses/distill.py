"""Feature distillation loss: mean squared difference to the teacher's features."""

from __future__ import annotations

from torch import Tensor

from posekit.models.losses.base import KeypointLoss, pair


class FeatureDistillLoss(KeypointLoss):
    """``mean over (C, h, w) of (student - teacher)^2`` per sample, times ``loss_weight``.

    Reads ``outputs["features"]`` against ``targets["features"]``, both (N, C, h, w); the
    keypoint weights do not apply to features and are ignored.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__(loss_weight=loss_weight)

    def per_sample(
        self, outputs: dict[str, Tensor], targets: dict[str, Tensor], keypoint_weights: Tensor
    ) -> Tensor:
        """(N,) the loss of each sample."""
        student, teacher = pair(outputs, targets, "features")
        return self.loss_weight * (student - teacher).square().flatten(1).mean(dim=1)
