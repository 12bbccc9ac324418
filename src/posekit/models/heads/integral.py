"""The integral regression head: heatmaps, normalised, and their expectation (IPR / DSNT /
debiased IPR as mmpose's IntegralRegressionHead and DSNTHead; AlphaPose's sigmoid variant)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from posekit.models.heads.heatmap import HeatmapHead

_NORMS = ("softmax", "sigmoid")


class SymmetricIntegral(torch.autograd.Function):
    """AlphaPose's ``IngetralCoordinate``: ``sum_j j * marginal[..., j]`` (N, K, w) ->
    (N, K, 1), the expected bin index, whose training gradient is replaced by
    ``+-AMPLITUDE`` per bin (- for bins left of the expectation, + otherwise; + everywhere when
    the expectation lies beyond the last bin) times the incoming gradient. The one
    implementation of it: the integral head's ``symmetric_gradient`` and AlphaPose's
    FastPose integral head both call it."""

    AMPLITUDE = 2.0

    @staticmethod
    def forward(ctx, marginal: Tensor) -> Tensor:  # noqa: D102
        index = torch.arange(marginal.shape[-1], dtype=marginal.dtype, device=marginal.device)
        coord = (marginal * index).sum(dim=-1, keepdim=True)  # (N, K, 1)
        ctx.save_for_backward(index, coord)
        return coord

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # noqa: D102
        index, coord = ctx.saved_tensors
        sign = torch.where(index < coord, -1.0, 1.0).to(grad.dtype)  # (N, K, w)
        sign = torch.where(coord > index.shape[0], torch.ones_like(sign), sign)
        return grad * sign * SymmetricIntegral.AMPLITUDE


class IntegralHead(nn.Module):
    """Heatmaps (SimpleBaseline deconvolutions + a conv), normalised, and their expectation.

    ``norm="softmax"`` (mmpose IPR / DSNT): ``softmax(beta * maps)`` over the pixels; with
    ``debias`` (Gu et al. 2021, as mmpose's head) the expectation ``J`` becomes
    ``C / (C - 1) * (J - 1 / (2 C))`` with ``C = sum exp(maps)``. ``norm="sigmoid"``
    (AlphaPose's L1JointRegression): ``sigmoid(maps)`` divided by its sum; its maximum is the
    keypoint score (output ``scores``), and with ``symmetric_gradient`` the expectation uses
    AlphaPose's replacement gradient in training.

    The expectation of column j is ``j / w`` (row i: ``i / h``): heatmap pixel j sits at input
    pixel ``j * W / w``, so ``coords`` are in units of the input size, as the codec's targets.

    Args:
        in_channels: channels ``C`` of the backbone feature.
        num_keypoints: ``K``.
        input_size: model input (W, H) in pixels.
        in_stride: stride of the feature (``model.backbone.out_stride``).
        heatmap_size: (w, h) the codec's heatmaps have (``model.codec.heatmap_size``).
        deconv_channels, deconv_kernel, final_kernel: as :class:`HeatmapHead`.
        norm: "softmax" or "sigmoid".
        beta: factor on the maps before the softmax.
        debias: the debiased expectation (softmax only).
        symmetric_gradient: AlphaPose's training gradient of the expectation.
    """

    def __init__(
        self,
        in_channels: int,
        num_keypoints: int,
        input_size: Sequence[int],
        in_stride: int,
        heatmap_size: Sequence[int],
        deconv_channels: Sequence[int] = (256, 256, 256),
        deconv_kernel: int = 4,
        final_kernel: int = 1,
        norm: str = "softmax",
        beta: float = 1.0,
        debias: bool = False,
        symmetric_gradient: bool = False,
    ) -> None:
        super().__init__()
        if norm not in _NORMS:
            raise ValueError(f"model.head.norm must be one of {_NORMS}, got {norm!r}")
        if debias and norm != "softmax":
            raise ValueError("model.head.debias needs model.head.norm=softmax")
        width, height = (int(v) for v in input_size)
        if width % in_stride or height % in_stride:
            raise ValueError(
                f"data.input_size {[width, height]} is not divisible by model.backbone.out_stride "
                f"{in_stride}"
            )
        upsample = 2 ** len(deconv_channels)
        produced = [width // in_stride * upsample, height // in_stride * upsample]
        if produced != [int(v) for v in heatmap_size]:
            raise ValueError(
                f"the integral head makes {produced[0]}x{produced[1]} (w x h) heatmaps "
                f"(input {width}x{height} / model.backbone.out_stride {in_stride} x "
                f"2^{len(deconv_channels)} deconvolutions) but model.codec.heatmap_size is "
                f"{list(heatmap_size)}: change model.codec.heatmap_size, "
                "model.head.deconv_channels or model.backbone.out_stride"
            )
        self.maps = HeatmapHead(
            in_channels, num_keypoints, deconv_channels, deconv_kernel, final_kernel
        )
        self.norm = norm
        self.beta = float(beta)
        self.debias = bool(debias)
        self.symmetric_gradient = bool(symmetric_gradient)

    def forward(self, feat: Tensor) -> dict[str, Tensor]:
        """(N, C, h', w') -> {"coords": (N, K, 2), "heatmaps": (N, K, h, w) summing to 1,
        and for ``norm="sigmoid"`` "scores": (N, K)}."""
        maps = self.maps(feat)["heatmaps"]  # (N, K, h, w)
        n, k, h, w = maps.shape
        flat = maps.flatten(2)  # (N, K, h * w)
        outputs: dict[str, Tensor] = {}
        if self.norm == "softmax":
            probs = (flat * self.beta).softmax(dim=-1)
        else:
            sigmoid = flat.sigmoid()
            outputs["scores"] = sigmoid.amax(dim=-1)
            probs = sigmoid / sigmoid.sum(dim=-1, keepdim=True)
        heatmaps = probs.view(n, k, h, w)
        x = self._expectation(heatmaps.sum(dim=2)) / w  # (N, K, 1)
        y = self._expectation(heatmaps.sum(dim=3)) / h  # (N, K, 1)
        if self.debias:
            total = flat.exp().sum(dim=-1, keepdim=True)  # (N, K, 1)
            x = total / (total - 1) * (x - 1 / (2 * total))
            y = total / (total - 1) * (y - 1 / (2 * total))
        outputs.update(coords=torch.cat([x, y], dim=-1), heatmaps=heatmaps)
        return outputs

    def _expectation(self, marginal: Tensor) -> Tensor:
        """(N, K, n) marginal -> (N, K, 1) expected bin index."""
        if self.symmetric_gradient and self.training:
            return SymmetricIntegral.apply(marginal)
        index = torch.arange(marginal.shape[-1], dtype=marginal.dtype, device=marginal.device)
        return (marginal * index).sum(dim=-1, keepdim=True)
