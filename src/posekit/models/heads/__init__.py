"""Pose heads, and the contract every head follows.

A head is built as ``head(in_channels=C, num_keypoints=K, **its config)`` (Hydra
``_partial_: true``: the LightningModule fills in ``C`` from the backbone, or neck, and ``K``
from the keypoint spec) and maps a feature (N, C, h, w) to a dict of named outputs. The names
are its codec's ``output_keys``: the codec encodes targets under those names, decodes and flips
those outputs, and the loss reads ``outputs[name]`` against ``targets[name]``. A new family is
a head, a codec and a loss in their own files plus configs; the LightningModule does not change.
"""

from posekit.models.heads.heatmap import HeatmapHead
from posekit.models.heads.integral import IntegralHead
from posekit.models.heads.regression import RegressionHead
from posekit.models.heads.rle import RLEHead
from posekit.models.heads.simcc import SimCCHead

__all__ = ["HeatmapHead", "IntegralHead", "RLEHead", "RegressionHead", "SimCCHead"]
