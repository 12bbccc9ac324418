"""Coordinate losses of the regression families: L1, smooth L1, MSE with keypoint weights."""

from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from torch import Tensor

from posekit.models.losses.base import KeypointLoss, check_weights, pair

_CRITERIA = {
    "l1": lambda pred, target, beta: (pred - target).abs(),
    "smooth_l1": lambda pred, target, beta: F.smooth_l1_loss(
        pred, target, reduction="none", beta=beta
    ),
    "mse": lambda pred, target, beta: (pred - target).square(),
}
_REDUCTIONS = ("mean", "sum")


class RegressionLoss(KeypointLoss):
    """An elementwise error between predicted and target coordinates ``key`` (N, K, D).

    With target weights, prediction and target are both multiplied by the keypoint weight
    before the error, as mmpose's L1Loss / SmoothL1Loss / MSELoss do. Per sample, the errors
    are averaged (``reduction="mean"``, mmpose: the batch loss is the mean over N, K and D) or
    summed (``"sum"``, AlphaPose's L1JointRegression: the sum over K and D, averaged over the
    batch) over the keypoints and coordinates.

    Args:
        criterion: "l1", "smooth_l1" (``0.5 d^2 / beta`` below ``beta``, else ``|d| - beta/2``)
            or "mse".
        key: the output and target compared.
        beta: the smooth L1 threshold (PyTorch's and mmpose's default 1).
        reduction: "mean" or "sum" over keypoints and coordinates.
        use_target_weight: multiply by ``keypoint_weights``; if False they are ignored.
        loss_weight: factor on the result.
        joint_weights: optional (K,) factors on the keypoint weights (see KeypointLoss).
    """

    def __init__(
        self,
        criterion: str = "smooth_l1",
        key: str = "coords",
        beta: float = 1.0,
        reduction: str = "mean",
        use_target_weight: bool = True,
        loss_weight: float = 1.0,
        joint_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__(use_target_weight, loss_weight, joint_weights)
        if criterion not in _CRITERIA:
            raise ValueError(
                f"model.loss.criterion must be one of {sorted(_CRITERIA)}, got {criterion!r}"
            )
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"model.loss.reduction must be one of {_REDUCTIONS}, got {reduction!r}"
            )
        self.criterion = criterion
        self.key = key
        self.beta = float(beta)
        self.reduction = reduction

    def per_sample(
        self, outputs: dict[str, Tensor], targets: dict[str, Tensor], keypoint_weights: Tensor
    ) -> Tensor:
        """(N,) the loss of each sample."""
        pred, target = pair(outputs, targets, self.key)  # (N, K, D) each
        if self.use_target_weight:
            check_weights(keypoint_weights, pred)
            w = self.weights(keypoint_weights)[:, :, None].to(pred.dtype)  # (N, K, 1)
            pred, target = pred * w, target * w
        error = _CRITERIA[self.criterion](pred, target, self.beta).flatten(1)  # (N, K * D)
        per_sample = error.mean(dim=1) if self.reduction == "mean" else error.sum(dim=1)
        return self.loss_weight * per_sample
