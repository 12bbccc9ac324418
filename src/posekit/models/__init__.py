"""Backbones, heads and losses for top-down keypoint estimation."""

from posekit.models.backbone import TimmBackbone
from posekit.models.heads import HeatmapHead, SimCCHead
from posekit.models.losses import KeypointMSELoss, KLDiscretLoss

__all__ = ["HeatmapHead", "KLDiscretLoss", "KeypointMSELoss", "SimCCHead", "TimmBackbone"]
