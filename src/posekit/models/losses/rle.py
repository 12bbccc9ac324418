"""RLE's residual log-likelihood loss with its RealNVP flow (the RLE paper's code, mmpose's
RLELoss)."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, nn

from posekit.models.losses.base import KeypointLoss, check_weights, pair

_Q_DISTRIBUTIONS = ("laplace", "gaussian")
# the flow's coupling layers: alternating masks, 3 pairs (the RLE code's RealNVP)
_MASKS = [[0.0, 1.0], [1.0, 0.0]] * 3


class RealNVP(nn.Module):
    """The 2-D RealNVP flow of the RLE code: six affine coupling layers, a standard normal prior.

    Each layer i keeps the coordinate where ``mask[i]`` is 1 and maps the other one as
    ``z = (x - t(x_kept)) * exp(-s(x_kept))``, with ``s`` (tanh-bounded) and ``t`` small MLPs
    (2 -> 64 -> 64 -> 2, LeakyReLU), applied from the last layer to the first.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mask", torch.tensor(_MASKS))
        self.s = nn.ModuleList(
            nn.Sequential(
                nn.Linear(2, 64), nn.LeakyReLU(), nn.Linear(64, 64), nn.LeakyReLU(),
                nn.Linear(64, 2), nn.Tanh(),
            )
            for _ in _MASKS
        )
        self.t = nn.ModuleList(
            nn.Sequential(
                nn.Linear(2, 64), nn.LeakyReLU(), nn.Linear(64, 64), nn.LeakyReLU(),
                nn.Linear(64, 2),
            )
            for _ in _MASKS
        )
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight, gain=0.01)

    def log_prob(self, x: Tensor) -> Tensor:
        """log density (M,) of points x (M, 2) under the flow."""
        z, log_det = x, x.new_zeros(x.shape[0])
        for i in reversed(range(len(self.t))):
            mask = self.mask[i]
            kept = mask * z
            s = self.s[i](kept) * (1 - mask)
            t = self.t[i](kept) * (1 - mask)
            z = (1 - mask) * (z - t) * torch.exp(-s) + kept
            log_det = log_det - s.sum(dim=1)
        prior = -0.5 * z.square().sum(dim=1) - math.log(2 * math.pi)  # standard normal, 2-D
        return prior + log_det


class RLELoss(KeypointLoss):
    """Residual log-likelihood of the coordinate error under the flow, as mmpose's RLELoss.

    With ``sigma = sigmoid(outputs["sigma"])`` and ``e = (coords - target) / (sigma + 1e-9)``
    per keypoint and axis (coordinates normalised by the input size):
    ``log(sigma_a) - log p_flow(e)`` on each axis a (the flow's 2-D log density is subtracted
    once per axis, as the RLE code's broadcast does) plus, with ``residual``, the log-likelihood
    of ``e`` under q: Laplace ``log(2 sigma) + |e|`` or Gaussian
    ``log(sigma sqrt(2 pi)) + e^2 / 2`` on each axis. Multiplied by the keypoint weight and
    summed over keypoints and axes; averaged over the batch (``size_average``) or summed.

    The flow is a submodule: its parameters train with the model and move to its device.

    Args:
        residual: add q's term (the flow learns the residual distribution).
        q_distribution: "laplace" or "gaussian".
        size_average: average over the batch (else sum).
        use_target_weight: multiply by ``keypoint_weights``; if False they are ignored.
        loss_weight: factor on the result.
        joint_weights: optional (K,) factors on the keypoint weights (see KeypointLoss).
    """

    def __init__(
        self,
        residual: bool = True,
        q_distribution: str = "laplace",
        size_average: bool = True,
        use_target_weight: bool = True,
        loss_weight: float = 1.0,
        joint_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__(use_target_weight, loss_weight, joint_weights)
        if q_distribution not in _Q_DISTRIBUTIONS:
            raise ValueError(
                f"model.loss.q_distribution must be one of {_Q_DISTRIBUTIONS}, "
                f"got {q_distribution!r}"
            )
        self.residual = residual
        self.q_distribution = q_distribution
        self.size_average = size_average
        self.flow = RealNVP()

    def per_sample(
        self, outputs: dict[str, Tensor], targets: dict[str, Tensor], keypoint_weights: Tensor
    ) -> Tensor:
        """(N,) the loss of each sample (times N when ``size_average`` is off)."""
        pred, target = pair(outputs, targets, "coords")  # (N, K, 2) each
        if "sigma" not in outputs:
            raise KeyError(f"RLELoss needs 'sigma' in outputs, which has keys {sorted(outputs)}")
        sigma = outputs["sigma"].sigmoid()  # (N, K, 2)
        error = (pred - target) / (sigma + 1e-9)  # (N, K, 2)
        log_phi = self.flow.log_prob(error.reshape(-1, 2)).view(*error.shape[:2], 1)  # (N, K, 1)
        loss = sigma.log() - log_phi  # (N, K, 2)
        if self.residual:
            if self.q_distribution == "laplace":
                loss = loss + torch.log(2 * sigma) + error.abs()
            else:
                loss = loss + torch.log(sigma * math.sqrt(2 * math.pi)) + 0.5 * error.square()
        if self.use_target_weight:
            check_weights(keypoint_weights, pred)
            loss = loss * self.weights(keypoint_weights)[:, :, None].to(loss.dtype)
        per_sample = loss.flatten(1).sum(dim=1)  # (N,)
        if not self.size_average:
            per_sample = per_sample * pred.shape[0]
        return self.loss_weight * per_sample
