"""The heatmap head (SimpleBaseline / HRNet): one Gaussian map per keypoint."""

from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

from posekit.models.heads.common import deconv_stack, final_conv


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
        self.deconv, channels = deconv_stack(in_channels, deconv_channels, deconv_kernel)
        self.final = final_conv(channels, num_keypoints, final_kernel)
        self.upsample: int = 2 ** len(deconv_channels)

    def forward(self, feat: Tensor) -> dict[str, Tensor]:
        """(N, C, h, w) -> {"heatmaps": (N, K, h * upsample, w * upsample)}."""
        return {"heatmaps": self.final(self.deconv(feat))}
