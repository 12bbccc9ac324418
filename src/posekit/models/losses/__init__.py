"""Keypoint losses: each reads the head outputs and the codec's targets by name."""

from posekit.models.losses.base import KeypointLoss
from posekit.models.losses.kl import KLDiscretLoss
from posekit.models.losses.mse import KeypointMSELoss

__all__ = ["KLDiscretLoss", "KeypointLoss", "KeypointMSELoss"]
