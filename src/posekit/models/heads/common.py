"""Layers the heads share: the final conv to K maps with HRNet's init, deconvolution padding."""

from __future__ import annotations

from torch import nn

# HRNet / SimpleBaseline initialise the layers producing the outputs with a tiny std.
INIT_STD = 0.001


def final_conv(in_channels: int, num_keypoints: int, kernel: int) -> nn.Conv2d:
    """A ``kernel`` x ``kernel`` conv to K channels keeping the spatial size, HRNet init."""
    if kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"final_kernel must be a positive odd number, got {kernel}")
    conv = nn.Conv2d(in_channels, num_keypoints, kernel, padding=kernel // 2)
    nn.init.normal_(conv.weight, std=INIT_STD)
    nn.init.zeros_(conv.bias)
    return conv


def deconv_padding(kernel: int) -> tuple[int, int]:
    """(padding, output_padding) making a stride-2 ConvTranspose2d exactly double the size."""
    if kernel == 4:
        return 1, 0
    if kernel == 3:
        return 1, 1
    if kernel == 2:
        return 0, 0
    raise ValueError(f"deconv_kernel must be 2, 3 or 4, got {kernel}")
