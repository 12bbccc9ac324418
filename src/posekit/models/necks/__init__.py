"""Necks between backbone and head, as mmpose has them.

A neck is a Hydra partial built as ``neck(in_channels=<backbone channels>,
in_strides=<backbone strides>)``; it maps the list of backbone features to a list of features
and exposes their ``channels`` and ``strides`` (the main head reads feature 0, and is built with
``channels[0]``). Configs: ``conf/model/neck/``.

* :class:`SelectStages`: keep the features of some strides, in a chosen order.
* :class:`ResizeConcat`: resize several features to one stride and concatenate them
  (HRNetV2's head input: all branches upsampled to stride 4), optionally mixed by a 1x1 conv.
* :class:`ChannelMapper`: a conv + BatchNorm + ReLU per feature to a common channel count.
"""

from posekit.models.necks.channel_mapper import ChannelMapper
from posekit.models.necks.resize_concat import ResizeConcat
from posekit.models.necks.select import SelectStages

__all__ = ["ChannelMapper", "ResizeConcat", "SelectStages"]
