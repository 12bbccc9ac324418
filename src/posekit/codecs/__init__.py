"""Codecs: keypoints <-> training targets, network outputs -> keypoints."""

from posekit.codecs.base import Codec
from posekit.codecs.heatmap import MSRAHeatmapCodec
from posekit.codecs.integral import IntegralRegressionCodec
from posekit.codecs.regression import RegressionCodec
from posekit.codecs.rle import RLECodec
from posekit.codecs.simcc import SimCCCodec
from posekit.codecs.udp import UDPHeatmapCodec

__all__ = [
    "Codec",
    "IntegralRegressionCodec",
    "MSRAHeatmapCodec",
    "RLECodec",
    "RegressionCodec",
    "SimCCCodec",
    "UDPHeatmapCodec",
]
