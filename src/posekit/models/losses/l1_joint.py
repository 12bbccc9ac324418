"""AlphaPose's L1JointRegression loss on integral-regression coordinates."""

from __future__ import annotations

from torch import Tensor

from posekit.models.losses.base import KeypointLoss, check_weights, pair


class L1JointRegressionLoss(KeypointLoss):
    """``sum over keypoints and x, y of w_k |pred - target|`` per sample (AlphaPose's
    ``weighted_l1_loss`` with ``size_average``: the batch sum over N), on ``coords`` (N, K, 2).
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__(loss_weight=loss_weight)

    def per_sample(
        self, outputs: dict[str, Tensor], targets: dict[str, Tensor], keypoint_weights: Tensor
    ) -> Tensor:
        """(N,) the loss of each sample."""
        pred, target = pair(outputs, targets, "coords")  # (N, K, 2)
        check_weights(keypoint_weights, pred)
        error = (pred - target).abs().sum(dim=-1) * keypoint_weights.to(pred.dtype)  # (N, K)
        return self.loss_weight * error.sum(dim=1)
