"""Resize several features to one stride and concatenate them (HRNetV2's head input)."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.models.necks.select import select_indices


class ResizeConcat(nn.Module):
    """Features of ``strides`` resized to ``out_stride`` and concatenated along the channels.

    HRNetV2 (Sun et al. 2019, "High-Resolution Representations for Labeling Pixels and
    Regions"): the branches of the last stage are upsampled bilinearly to the highest
    resolution and concatenated, then a 1x1 convolution mixes them (``fuse_channels``); mmpose
    does the first part with ``FeatureMapProcessor(concat=True)`` (bilinear,
    ``align_corners=False``, to the size of the first feature) and the mixing in its head
    (``conv_out_channels``).

    Args:
        in_channels: channels of the backbone features.
        in_strides: their strides.
        strides: the strides to concatenate (``None``: all, in the backbone's order).
        out_stride: the stride of the result (``None``: the smallest selected stride).
        mode: ``F.interpolate`` mode for the resizing.
        align_corners: for the bilinear modes.
        fuse_channels: if set, a 1x1 conv + BatchNorm + ReLU to this many channels after the
            concatenation (HRNetV2's mixing layer).

    Attributes:
        channels: ``(sum of the selected channels,)``, or ``(fuse_channels,)``.
        strides: ``(out_stride,)``.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        in_strides: Sequence[int],
        strides: Sequence[int] | None = None,
        out_stride: int | None = None,
        mode: str = "bilinear",
        align_corners: bool = False,
        fuse_channels: int | None = None,
    ) -> None:
        super().__init__()
        self.indices = select_indices(in_strides, strides, "model.neck.strides")
        selected = [int(in_strides[i]) for i in self.indices]
        self.out_stride = int(out_stride) if out_stride is not None else min(selected)
        self.mode = mode
        self.align_corners = align_corners if mode in ("bilinear", "bicubic") else None
        concat = sum(int(in_channels[i]) for i in self.indices)
        self.fuse: nn.Module = nn.Identity()
        if fuse_channels is not None:
            self.fuse = nn.Sequential(
                nn.Conv2d(concat, fuse_channels, 1),
                nn.BatchNorm2d(fuse_channels),
                nn.ReLU(inplace=True),
            )
        self.channels: tuple[int, ...] = (int(fuse_channels or concat),)
        self.strides: tuple[int, ...] = (self.out_stride,)
        self._first_stride = selected[0]

    def forward(self, features: list[Tensor]) -> list[Tensor]:
        """Backbone features -> [(N, channels[0], H / out_stride, W / out_stride)]."""
        first = features[self.indices[0]]
        scale = self._first_stride / self.out_stride
        size = (round(first.shape[-2] * scale), round(first.shape[-1] * scale))
        resized = [
            f if f.shape[-2:] == size else F.interpolate(
                f, size=size, mode=self.mode, align_corners=self.align_corners
            )
            for f in (features[i] for i in self.indices)
        ]
        return [self.fuse(torch.cat(resized, dim=1))]
