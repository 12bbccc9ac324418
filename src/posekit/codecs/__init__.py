"""Codecs: keypoints <-> training targets, network outputs -> keypoints."""

from posekit.codecs.base import Codec
from posekit.codecs.heatmap import MSRAHeatmapCodec
from posekit.codecs.simcc import SimCCCodec

__all__ = ["Codec", "MSRAHeatmapCodec", "SimCCCodec"]
