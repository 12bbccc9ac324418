"""DSNT's Jensen-Shannon regulariser between normalised heatmaps (mmpose's JSDiscretLoss)."""

from __future__ import annotations

from typing import Sequence

from torch import Tensor

from posekit.models.losses.base import KeypointLoss, check_weights, pair

_EPS = 1e-24  # mmpose / dsntnn: log(q + 1e-24)


def _kl(p: Tensor, q: Tensor) -> Tensor:
    """Elementwise ``p (log p - log(q + eps))`` with ``0 log 0 = 0`` (torch's kl_div)."""
    log_p = p.clamp_min(1e-45).log()
    return (p * (log_p - (q + _EPS).log())).where(p > 0, p.new_zeros(()))


class JSDiscretLoss(KeypointLoss):
    """Jensen-Shannon divergence between predicted and target heatmaps, as mmpose's
    JSDiscretLoss (from dsntnn): with ``m = (p + t) / 2``, ``0.5 (KL(p || m) + KL(t || m))``
    per pixel, both maps first multiplied by the keypoint weight; summed over keypoints and
    pixels and averaged over the batch (``size_average``) or summed.

    Args:
        key: the heatmaps compared (each (N, K, h, w) summing to 1).
        size_average: average over the batch (else sum).
        use_target_weight: multiply by ``keypoint_weights``; if False they are ignored.
        loss_weight: factor on the result.
        joint_weights: optional (K,) factors on the keypoint weights (see KeypointLoss).
    """

    def __init__(
        self,
        key: str = "heatmaps",
        size_average: bool = True,
        use_target_weight: bool = True,
        loss_weight: float = 1.0,
        joint_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__(use_target_weight, loss_weight, joint_weights)
        self.key = key
        self.size_average = size_average

    def per_sample(
        self, outputs: dict[str, Tensor], targets: dict[str, Tensor], keypoint_weights: Tensor
    ) -> Tensor:
        """(N,) the loss of each sample (times N when ``size_average`` is off)."""
        pred, target = pair(outputs, targets, self.key)  # (N, K, h, w) each
        if self.use_target_weight:
            check_weights(keypoint_weights, pred)
            w = self.weights(keypoint_weights)[:, :, None, None].to(pred.dtype)  # (N, K, 1, 1)
            pred, target = pred * w, target * w
        mean = 0.5 * (pred + target)
        js = 0.5 * (_kl(pred, mean) + _kl(target, mean))  # (N, K, h, w)
        per_sample = js.flatten(1).sum(dim=1)  # (N,)
        if not self.size_average:
            per_sample = per_sample * pred.shape[0]
        return self.loss_weight * per_sample
