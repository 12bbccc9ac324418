"""The SimCC head: per-keypoint maps, flattened, classified into x and y bins."""

from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

from posekit.models.heads.common import deconv_stack, final_conv, simcc_geometry


class SimCCHead(nn.Module):
    """The SimCC head: per-keypoint maps, flattened, classified into x and y bins.

    A conv maps the (N, C, h, w) feature to K maps; each map's ``h * w`` values are flattened
    and two linear layers give ``int(W * split_ratio)`` x logits and ``int(H * split_ratio)``
    y logits, as in the official SimCC HRNet head. With ``deconv_channels`` the feature is first
    upsampled by SimpleBaseline's deconvolutions (mmpose's SimCC ResNet-50: (256, 256, 256)).

    Args:
        in_channels: channels ``C`` of the backbone feature.
        num_keypoints: ``K``.
        input_size: model input ``(W, H)`` in pixels; both must be divisible by ``in_stride``.
        in_stride: stride of the feature relative to the input.
        split_ratio: bins per input pixel ``k``.
        final_kernel: odd kernel of the conv to K channels.
        deconv_channels: output channels of stride-2 deconvolutions before that conv.
        deconv_kernel: their kernel (2, 3 or 4).
    """

    def __init__(
        self,
        in_channels: int,
        num_keypoints: int,
        input_size: tuple[int, int],
        in_stride: int,
        split_ratio: float = 2.0,
        final_kernel: int = 1,
        deconv_channels: Sequence[int] = (),
        deconv_kernel: int = 4,
    ) -> None:
        super().__init__()
        self.feature_size, self.num_bins = simcc_geometry(
            input_size, in_stride, split_ratio, "SimCC"
        )
        self.deconv, channels = deconv_stack(in_channels, deconv_channels, deconv_kernel)
        flat = self.feature_size[0] * self.feature_size[1] * 4 ** len(deconv_channels)
        self.final = final_conv(channels, num_keypoints, final_kernel)
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
        maps = self.final(self.deconv(feat)).flatten(2)  # (N, K, h * w * 4^len(deconv))
        return {"simcc_x": self.mlp_x(maps), "simcc_y": self.mlp_y(maps)}
