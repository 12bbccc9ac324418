"""SimCC's KL divergence between bin distributions (batch-averaged, as the official code)."""

from __future__ import annotations

from typing import Sequence

import torch.nn.functional as F
from torch import Tensor

from posekit.models.losses.base import KeypointLoss, check_weights, pair


class KLDiscretLoss(KeypointLoss):
    """SimCC's KL divergence between predicted and target bin distributions, x plus y.

    For "simcc_x" and "simcc_y", each (N, K, bins): ``log_softmax(beta * pred)`` over the
    bins against the target (``softmax(beta * target)`` when ``label_softmax``), KL
    ``sum_j t_j (log t_j - log p_j)`` computed per bin with ``0 * log 0 = 0`` then averaged
    over the bins (as the official SimCC code does), multiplied by the keypoint weight and
    averaged over the batch and the keypoints; the x and y terms are summed.

    Averaging over the batch follows the official SimCC code; mmpose's version sums over the
    batch (dividing by K only), which makes the loss, and the effective learning rate, grow
    with the batch size.

    Args:
        beta: temperature applied to the logits (and to the target with ``label_softmax``).
        label_softmax: turn the target into a distribution with ``softmax(beta * target)``.
        use_target_weight: multiply by ``keypoint_weights``; if False they are ignored.
        loss_weight: factor on the result.
        joint_weights: optional (K,) factors on the keypoint weights (see KeypointLoss).
    """

    def __init__(
        self,
        beta: float = 1.0,
        label_softmax: bool = False,
        use_target_weight: bool = True,
        loss_weight: float = 1.0,
        joint_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__(use_target_weight, loss_weight, joint_weights)
        self.beta = beta
        self.label_softmax = label_softmax

    def _term(
        self,
        outputs: dict[str, Tensor],
        targets: dict[str, Tensor],
        keypoint_weights: Tensor,
        key: str,
    ) -> Tensor:
        """(N,) the weighted KL of one axis per sample, averaged over the keypoints."""
        pred, target = pair(outputs, targets, key)  # (N, K, bins) each
        log_p = F.log_softmax(pred * self.beta, dim=-1)
        if self.label_softmax:
            target = F.softmax(target * self.beta, dim=-1)
        per_keypoint = F.kl_div(log_p, target, reduction="none").mean(dim=-1)  # (N, K)
        if self.use_target_weight:
            check_weights(keypoint_weights, pred)
            per_keypoint = per_keypoint * self.weights(keypoint_weights).to(per_keypoint.dtype)
        return per_keypoint.mean(dim=1)

    def per_sample(
        self, outputs: dict[str, Tensor], targets: dict[str, Tensor], keypoint_weights: Tensor
    ) -> Tensor:
        """(N,) the loss of each sample."""
        loss_x = self._term(outputs, targets, keypoint_weights, "simcc_x")
        loss_y = self._term(outputs, targets, keypoint_weights, "simcc_y")
        return self.loss_weight * (loss_x + loss_y)
