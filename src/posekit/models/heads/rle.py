"""The RLE head (mmpose's RLEHead): regression of coordinates and of their error scale."""

from __future__ import annotations

from torch import Tensor, nn

from posekit.models.heads.regression import pooled_linear


class RLEHead(nn.Module):
    """Global average pooling, then one linear layer to K x 4: (x, y, sigma_x, sigma_y).

    ``coords`` are normalised by the input size; ``sigma`` are logits (the loss and the codec
    take their sigmoid), as mmpose's RLEHead.

    Args:
        in_channels: channels ``C`` of the backbone feature.
        num_keypoints: ``K``.
    """

    def __init__(self, in_channels: int, num_keypoints: int) -> None:
        super().__init__()
        self.num_keypoints = num_keypoints
        self.fc = pooled_linear(in_channels, num_keypoints * 4)

    def forward(self, feat: Tensor) -> dict[str, Tensor]:
        """(N, C, h, w) -> {"coords": (N, K, 2), "sigma": (N, K, 2) logits}."""
        out = self.fc(feat.mean(dim=(2, 3))).view(-1, self.num_keypoints, 4)  # (N, K, 4)
        return {"coords": out[..., :2], "sigma": out[..., 2:]}
