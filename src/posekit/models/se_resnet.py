"""AlphaPose's FastPose backbone: a ResNet with squeeze-excitation in each stage's first block.

AlphaPose's ``SEResnet`` (``alphapose/models/layers/SE_Resnet.py``) is torchvision's ResNet
whose first block of each stage (the one with the downsampling shortcut) carries an ``SELayer``
of reduction 1 after its last BatchNorm, before the shortcut is added. timm's ResNet has the same
architecture and names and calls a block's ``se`` at that place, so :class:`SEResNet` is timm's
ResNet with those four modules added; a FastPose file's ``preact.layer1.0.se.fc.0.weight`` is
then ``layer1.0.se.fc.0.weight`` here.
"""

from __future__ import annotations

from torch import Tensor, nn

from posekit.models.backbone import TimmBackbone

RESNET_STAGES = ("layer1", "layer2", "layer3", "layer4")


class SqueezeExcitation(nn.Module):
    """AlphaPose's ``SELayer`` with reduction 1: ``x * sigmoid(fc(mean over h, w of x))``,
    ``fc`` = Linear(C, C), ReLU, Linear(C, C), Sigmoid (tensor names ``fc.0``, ``fc.2``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Sequential(
            nn.Linear(channels, channels),
            nn.ReLU(inplace=True),
            nn.Linear(channels, channels),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, h, w) -> (N, C, h, w), each channel scaled by its gate in (0, 1)."""
        return x * self.fc(x.mean(dim=(2, 3)))[:, :, None, None]


class SEResNet(TimmBackbone):
    """timm's ResNet (``name``: resnet50, ...) with AlphaPose's squeeze-excitation in the first
    block of each stage it keeps (FastPose's ``preact``); arguments as :class:`TimmBackbone`."""

    def _add_modules(self) -> None:
        model = self._timm_model
        for stage in RESNET_STAGES:
            blocks = getattr(model, stage, None)
            if blocks is None:  # a stage past out_stride, pruned by the feature wrapper
                continue
            first = blocks[0]
            last_bn = getattr(first, "bn3", None) or first.bn2  # Bottleneck or BasicBlock
            first.se = SqueezeExcitation(last_bn.num_features)
