"""Pose heads: heatmap regression (SimpleBaseline / HRNet) and SimCC classification."""

from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

# HRNet / SimpleBaseline initialise the layers producing the outputs with a tiny std.
_INIT_STD = 0.001


def _final_conv(in_channels: int, num_keypoints: int, kernel: int) -> nn.Conv2d:
    """A ``kernel`` x ``kernel`` conv to K channels keeping the spatial size, HRNet init."""
    if kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"final_kernel must be a positive odd number, got {kernel}")
    conv = nn.Conv2d(in_channels, num_keypoints, kernel, padding=kernel // 2)
    nn.init.normal_(conv.weight, std=_INIT_STD)
    nn.init.zeros_(conv.bias)
    return conv


def _deconv_padding(kernel: int) -> tuple[int, int]:
    """(padding, output_padding) making a stride-2 ConvTranspose2d exactly double the size."""
    if kernel == 4:
        return 1, 0
    if kernel == 3:
        return 1, 1
    if kernel == 2:
        return 0, 0
    raise ValueError(f"deconv_kernel must be 2, 3 or 4, got {kernel}")


class HeatmapHead(nn.Module):
    """Optional stride-2 deconvolutions (SimpleBaseline), then a conv to one map per keypoint.

    With ``deconv_channels=()`` this is the HRNet head (a single conv on the stride-4 branch);
    with ``(256, 256, 256)`` on a stride-32 ResNet it is SimpleBaseline's head.

    Args:
        in_channels: channels ``C`` of the backbone feature.
        num_keypoints: ``K``.
        deconv_channels: output channels of each ConvTranspose2d(stride 2) + BN + ReLU block.
        deconv_kernel: kernel of the deconvolutions (2, 3 or 4).
        final_kernel: odd kernel of the final conv.

    Attributes:
        upsample: ``2 ** len(deconv_channels)``, the heatmap size over the feature size.
    """

    def __init__(
        self,
        in_channels: int,
        num_keypoints: int,
        deconv_channels: Sequence[int] = (),
        deconv_kernel: int = 4,
        final_kernel: int = 1,
    ) -> None:
        super().__init__()
        padding, output_padding = _deconv_padding(deconv_kernel)
        layers: list[nn.Module] = []
        channels = in_channels
        for out_channels in deconv_channels:
            deconv = nn.ConvTranspose2d(
                channels,
                out_channels,
                deconv_kernel,
                stride=2,
                padding=padding,
                output_padding=output_padding,
                bias=False,
            )
            nn.init.normal_(deconv.weight, std=_INIT_STD)
            layers += [deconv, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
            channels = out_channels
        self.deconv = nn.Sequential(*layers)
        self.final = _final_conv(channels, num_keypoints, final_kernel)
        self.upsample: int = 2 ** len(deconv_channels)

    def forward(self, feat: Tensor) -> dict[str, Tensor]:
        """(N, C, h, w) -> {"heatmaps": (N, K, h * upsample, w * upsample)}."""
        return {"heatmaps": self.final(self.deconv(feat))}


class SimCCHead(nn.Module):
    """The SimCC head: per-keypoint maps, flattened, classified into x and y bins.

    A conv maps the (N, C, h, w) feature to K maps; each map's ``h * w`` values are flattened
    and two linear layers give ``int(W * split_ratio)`` x logits and ``int(H * split_ratio)``
    y logits, as in the official SimCC HRNet head.

    Args:
        in_channels: channels ``C`` of the backbone feature.
        num_keypoints: ``K``.
        input_size: model input ``(W, H)`` in pixels; both must be divisible by ``in_stride``.
        in_stride: stride of the feature relative to the input.
        split_ratio: bins per input pixel ``k``.
        final_kernel: odd kernel of the conv to K channels.
    """

    def __init__(
        self,
        in_channels: int,
        num_keypoints: int,
        input_size: tuple[int, int],
        in_stride: int,
        split_ratio: float = 2.0,
        final_kernel: int = 1,
    ) -> None:
        super().__init__()
        width, height = input_size
        if width % in_stride or height % in_stride:
            raise ValueError(
                f"SimCC input size (W, H) = {tuple(input_size)} is not divisible by the "
                f"feature stride {in_stride}"
            )
        if split_ratio <= 0:
            raise ValueError(f"split_ratio must be positive, got {split_ratio}")
        self.feature_size: tuple[int, int] = (width // in_stride, height // in_stride)
        self.num_bins: tuple[int, int] = (int(width * split_ratio), int(height * split_ratio))
        flat = self.feature_size[0] * self.feature_size[1]
        self.final = _final_conv(in_channels, num_keypoints, final_kernel)
        self.mlp_x = nn.Linear(flat, self.num_bins[0])
        self.mlp_y = nn.Linear(flat, self.num_bins[1])

    def forward(self, feat: Tensor) -> dict[str, Tensor]:
        """(N, C, h, w) -> {"simcc_x": (N, K, int(W * k)), "simcc_y": (N, K, int(H * k))}."""
        w, h = self.feature_size
        if feat.shape[-2:] != (h, w):
            raise ValueError(
                f"SimCCHead was built for a {h}x{w} (h x w) feature map, got "
                f"{feat.shape[-2]}x{feat.shape[-1]}"
            )
        maps = self.final(feat).flatten(2)  # (N, K, h * w)
        return {"simcc_x": self.mlp_x(maps), "simcc_y": self.mlp_y(maps)}
