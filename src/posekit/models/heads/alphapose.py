"""AlphaPose's FastPose head: PixelShuffle, two DUC upsampling blocks and a 3x3 conv to K maps.

As ``alphapose/models/fastpose.py`` and ``layers/DUC.py``: on a stride-32 feature of C channels,
``PixelShuffle(2)`` gives C/4 channels at stride 16; each DUC (3x3 conv, BN, ReLU,
``PixelShuffle(2)``) doubles the resolution again, so the maps come out at stride 4 (64x48 for a
256x192 input). AlphaPose's DUCs widen their input twice (ResNet-50: 2048 -> 512 -> DUC(512,
1024) -> 256 -> DUC(256, 512) -> 128 -> conv to K), which is the default here for any backbone.
:class:`FastPoseIntegralHead` reads the maps by AlphaPose's sigmoid integral regression.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from posekit.models.heads.common import INIT_STD
from posekit.models.heads.integral import SymmetricIntegral


class DUC(nn.Module):
    """Dense upsampling convolution: 3x3 conv (no bias), BN, ReLU, then ``PixelShuffle(r)``:
    (N, C, h, w) -> (N, planes / r^2, h r, w r)."""

    def __init__(self, inplanes: int, planes: int, upscale_factor: int = 2) -> None:
        super().__init__()
        if planes % upscale_factor**2:
            raise ValueError(
                f"DUC output channels {planes} are not divisible by upscale_factor^2 = "
                f"{upscale_factor**2} (model.head.duc_channels)"
            )
        self.conv = nn.Conv2d(inplanes, planes, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(planes, momentum=0.1)
        self.relu = nn.ReLU(inplace=True)
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

    def forward(self, x: Tensor) -> Tensor:
        return self.pixel_shuffle(self.relu(self.bn(self.conv(x))))


class FastPoseHead(nn.Module):
    """PixelShuffle(2), two DUC blocks and a 3x3 conv: heatmaps at 8x the feature's resolution.

    Args:
        in_channels: channels ``C`` of the backbone feature; divisible by 4.
        num_keypoints: ``K``.
        duc_channels: conv output channels of the two DUCs; None: twice each DUC's input
            channels, as AlphaPose's FastPose.

    Attributes:
        upsample: 8, the heatmap size over the feature size.
    """

    upsample = 8

    def __init__(
        self,
        in_channels: int,
        num_keypoints: int,
        duc_channels: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if in_channels % 4:
            raise ValueError(
                f"FastPoseHead's PixelShuffle(2) needs input channels divisible by 4, got "
                f"{in_channels} (the backbone feature at model.backbone.out_stride)"
            )
        channels = in_channels // 4
        if duc_channels is None:
            duc_channels = (2 * channels, channels)
        if len(duc_channels) != 2:
            raise ValueError(f"model.head.duc_channels must list 2 values, got {duc_channels}")
        self.shuffle = nn.PixelShuffle(2)
        self.duc1 = DUC(channels, duc_channels[0])
        self.duc2 = DUC(duc_channels[0] // 4, duc_channels[1])
        self.conv_out = nn.Conv2d(duc_channels[1] // 4, num_keypoints, 3, padding=1)
        nn.init.normal_(self.conv_out.weight, std=INIT_STD)  # AlphaPose's _initialize
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, feat: Tensor) -> dict[str, Tensor]:
        """(N, C, h, w) -> {"heatmaps": (N, K, 8h, 8w)}."""
        return {"heatmaps": self.conv_out(self.duc2(self.duc1(self.shuffle(feat))))}


def _expected_index(probs: Tensor) -> Tensor:
    """(N, K, L) -> (N, K) ``sum_i i p_i``; through :class:`SymmetricIntegral` when a gradient
    is wanted, plain tensor ops otherwise (same values; traceable for export)."""
    if torch.is_grad_enabled() and probs.requires_grad:
        return SymmetricIntegral.apply(probs).squeeze(-1)
    index = torch.arange(probs.shape[-1], dtype=probs.dtype, device=probs.device)
    return (probs * index).sum(dim=-1)


def sigmoid_integral(logits: Tensor) -> tuple[Tensor, Tensor]:
    """AlphaPose's integral regression with ``norm_type='sigmoid'`` (``_integral_tensor``).

    logits (N, K, h, w) -> coords (N, K, 2) as ``(x / w - 0.5, y / h - 0.5)`` of the expected
    cell under ``sigmoid / sum(sigmoid)``, and confidence (N, K), the sigmoid's maximum.
    """
    n, k, h, w = logits.shape
    probs = logits.reshape(n, k, -1).sigmoid()
    confidence = probs.amax(dim=2)
    heatmaps = (probs / probs.sum(dim=2, keepdim=True)).reshape(n, k, h, w)
    x = _expected_index(heatmaps.sum(dim=2)) / w - 0.5  # (N, K)
    y = _expected_index(heatmaps.sum(dim=3)) / h - 0.5
    return torch.stack([x, y], dim=-1), confidence


class FastPoseIntegralHead(FastPoseHead):
    """FastPose's maps read by integral regression (AlphaPose's L1JointRegression models).

    (N, C, h, w) -> {"coords": (N, K, 2) normalised as the AlphaPose integral codec,
    "confidence": (N, K)}.
    """

    def forward(self, feat: Tensor) -> dict[str, Tensor]:
        coords, confidence = sigmoid_integral(super().forward(feat)["heatmaps"])
        return {"coords": coords, "confidence": confidence}
