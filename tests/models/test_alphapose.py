"""AlphaPose's FastPose head: PixelShuffle and DUC shapes, AlphaPose's channel rule."""

from __future__ import annotations

import pytest
import torch

from posekit.models.heads.alphapose import DUC, FastPoseHead


def test_duc_is_conv_bn_relu_then_pixel_shuffle():
    duc = DUC(8, 16).eval()
    x = torch.randn(2, 8, 3, 5)
    out = duc(x)
    assert out.shape == (2, 4, 6, 10)
    # PixelShuffle(2): out[c, 2i + a, 2j + b] = in[4c + 2a + b, i, j]
    inner = torch.relu(duc.bn(duc.conv(x)))
    torch.testing.assert_close(out[:, 1, 2 * 1 + 1, 2 * 3 + 0], inner[:, 4 * 1 + 2 * 1 + 0, 1, 3])


def test_fastpose_head_follows_alphapose_channels():
    # ResNet-50 (2048 channels): 512 -> DUC(512, 1024) -> 256 -> DUC(256, 512) -> 128 -> K
    head = FastPoseHead(2048, 17)
    assert (head.duc1.conv.in_channels, head.duc1.conv.out_channels) == (512, 1024)
    assert (head.duc2.conv.in_channels, head.duc2.conv.out_channels) == (256, 512)
    assert head.conv_out.in_channels == 128 and head.conv_out.kernel_size == (3, 3)
    # MobileNetV3-Large at stride 32 (960 channels), 256x192 input: 8x6 -> 64x48 maps
    out = FastPoseHead(960, 136)(torch.randn(1, 960, 8, 6))
    assert out["heatmaps"].shape == (1, 136, 64, 48)


def test_fastpose_head_rejects_channels_it_cannot_shuffle():
    with pytest.raises(ValueError, match="divisible by 4"):
        FastPoseHead(30, 17)
    with pytest.raises(ValueError, match="model.head.duc_channels"):
        FastPoseHead(32, 17, duc_channels=(18, 8))

