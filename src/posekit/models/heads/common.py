"""Layers the heads share: the final conv to K maps with HRNet's init, deconvolution padding."""

from __future__ import annotations

from typing import Sequence

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


def deconv_stack(
    in_channels: int, deconv_channels: Sequence[int], kernel: int = 4
) -> tuple[nn.Sequential, int]:
    """SimpleBaseline's upsampling: per entry of ``deconv_channels`` a stride-2 ConvTranspose2d
    (no bias, HRNet init) + BN + ReLU; (N, C, h, w) -> (N, C', h 2^n, w 2^n).

    Returns:
        the layers (named ``0``, ``1``, ... as mmpose's ``deconv_layers``) and ``C'``.
    """
    padding, output_padding = deconv_padding(kernel)
    layers: list[nn.Module] = []
    channels = in_channels
    for out_channels in deconv_channels:
        deconv = nn.ConvTranspose2d(
            channels,
            out_channels,
            kernel,
            stride=2,
            padding=padding,
            output_padding=output_padding,
            bias=False,
        )
        nn.init.normal_(deconv.weight, std=INIT_STD)
        layers += [deconv, nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
        channels = out_channels
    return nn.Sequential(*layers), channels


def simcc_geometry(
    input_size: tuple[int, int], in_stride: int, split_ratio: float, head: str
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The feature size (w, h) a SimCC-style head reads and its bins (int(W k), int(H k)),
    checked: the input must be divisible by the feature stride and k positive."""
    width, height = input_size
    if width % in_stride or height % in_stride:
        raise ValueError(
            f"{head} input size (W, H) = {tuple(input_size)} is not divisible by the feature "
            f"stride {in_stride} (model.head.in_stride)"
        )
    if split_ratio <= 0:
        raise ValueError(f"split_ratio must be positive, got {split_ratio}")
    feature_size = (width // in_stride, height // in_stride)
    return feature_size, (int(width * split_ratio), int(height * split_ratio))
