"""The regression head (DeepPose, mmpose's GlobalAveragePooling + RegressionHead)."""

from __future__ import annotations

from torch import Tensor, nn

# mmpose initialises the regression heads' linear layers with Normal(std=0.01), bias 0
LINEAR_INIT_STD = 0.01


def pooled_linear(in_channels: int, out_features: int) -> nn.Linear:
    """The linear layer on the globally pooled feature, with mmpose's initialisation."""
    linear = nn.Linear(in_channels, out_features)
    nn.init.normal_(linear.weight, std=LINEAR_INIT_STD)
    nn.init.zeros_(linear.bias)
    return linear


class RegressionHead(nn.Module):
    """Global average pooling of the feature, then one linear layer to K x 2 coordinates.

    The coordinates are normalised by the input size, as the targets of
    :class:`~posekit.codecs.regression.RegressionCodec`.

    Args:
        in_channels: channels ``C`` of the backbone feature (2048 for ResNet-50's last stage).
        num_keypoints: ``K``.
    """

    def __init__(self, in_channels: int, num_keypoints: int) -> None:
        super().__init__()
        self.num_keypoints = num_keypoints
        self.fc = pooled_linear(in_channels, num_keypoints * 2)

    def forward(self, feat: Tensor) -> dict[str, Tensor]:
        """(N, C, h, w) -> {"coords": (N, K, 2)}."""
        pooled = feat.mean(dim=(2, 3))  # (N, C)
        return {"coords": self.fc(pooled).view(-1, self.num_keypoints, 2)}
