"""A conv + BatchNorm + ReLU per feature to a common channel count (mmdet/mmpose ChannelMapper)."""

from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

from posekit.models.necks.select import select_indices


class ChannelMapper(nn.Module):
    """Map each selected feature to ``out_channels`` channels, keeping its stride.

    Args:
        in_channels: channels of the backbone features.
        in_strides: their strides.
        out_channels: the channels of every output.
        strides: the strides to map (``None``: all, in the backbone's order).
        kernel_size: odd kernel of the convs (mmpose's ChannelMapper: 3; 1 for a projection).
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        in_strides: Sequence[int],
        out_channels: int,
        strides: Sequence[int] | None = None,
        kernel_size: int = 3,
    ) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"model.neck.kernel_size must be odd and positive, got {kernel_size}")
        self.indices = select_indices(in_strides, strides, "model.neck.strides")
        self.convs = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(int(in_channels[i]), out_channels, kernel_size,
                          padding=kernel_size // 2, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
            )
            for i in self.indices
        )
        self.channels: tuple[int, ...] = (int(out_channels),) * len(self.indices)
        self.strides: tuple[int, ...] = tuple(int(in_strides[i]) for i in self.indices)

    def forward(self, features: list[Tensor]) -> list[Tensor]:
        """Backbone features -> [(N, out_channels, H / strides[i], W / strides[i])]."""
        return [conv(features[i]) for conv, i in zip(self.convs, self.indices)]
