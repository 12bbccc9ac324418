"""A backbone of your own, outside posekit: copy this file and change the network.

posekit needs four things of a backbone (the backbone protocol,
``posekit.models.backbone_protocol``):

* ``forward(images)`` returns a list of feature maps, one per entry of ``strides``;
* ``strides`` and ``channels``: the stride and channels of each returned map (the first feeds
  the head; auxiliary heads and necks pick theirs by stride);
* ``input_multiple``: input height and width must be multiples of it;
* optionally ``stages()``: the stem and the stages, so that ``model.freeze_backbone_stages=N``
  can freeze the first ones.

Its config is ``conf/model/backbone/example_custom.yaml``; train it on the sample with
``python train.py model/backbone=example_custom`` from the repository root.
"""

from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn


def conv_bn_relu(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """A 3x3 conv (stride 1 or 2), BatchNorm and ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class TinyBackbone(nn.Module):
    """A plain conv net: a stride-2 stem, then stages halving the resolution (strides 4, 8, 16)
    and doubling the width.

    Args:
        width: channels of the stride-4 stage (the stride-8 one has twice as many, ...).
        out_stride: stride of the feature the head reads (4, 8 or 16).
        extra_strides: strides of further features returned after it (auxiliary heads, necks).
    """

    def __init__(self, width: int = 32, out_stride: int = 8, extra_strides: Sequence[int] = ()):
        super().__init__()
        available = {4: width, 8: 2 * width, 16: 4 * width}  # stride -> channels
        self.strides = (int(out_stride), *(int(s) for s in extra_strides))
        missing = [s for s in self.strides if s not in available]
        if missing:
            raise ValueError(
                f"TinyBackbone has no feature of stride {missing}; choose among {list(available)}"
            )
        self.channels = tuple(available[s] for s in self.strides)
        self.input_multiple = max(self.strides)
        self.stem = conv_bn_relu(3, width // 2, stride=2)  # stride 2
        layers, channels = [], width // 2
        for stride in sorted(available):
            if stride > max(self.strides):  # keep only the stages the features need
                break
            layers.append(nn.Sequential(
                conv_bn_relu(channels, available[stride], stride=2),
                conv_bn_relu(available[stride], available[stride], stride=1),
            ))
            channels = available[stride]
        self.layers = nn.ModuleList(layers)

    def stages(self) -> list[nn.Module]:
        """The stem, then the stages at strides 4, 8, 16 (for freezing the first ones)."""
        return [self.stem, *self.layers]

    def forward(self, x: Tensor) -> list[Tensor]:
        """(N, 3, H, W) -> [(N, channels[i], H / strides[i], W / strides[i]) for each stride]."""
        x = self.stem(x)
        by_stride = {}
        for index, layer in enumerate(self.layers):
            x = layer(x)
            by_stride[4 * 2**index] = x
        return [by_stride[s] for s in self.strides]
