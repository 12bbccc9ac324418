"""Keypoint losses: each reads the head outputs and the codec's targets by name."""

from posekit.models.losses.base import KeypointLoss
from posekit.models.losses.combined import CombinedLoss
from posekit.models.losses.integral import JSDiscretLoss
from posekit.models.losses.kl import KLDiscretLoss
from posekit.models.losses.mse import KeypointMSELoss
from posekit.models.losses.ohkm import KeypointOHKMMSELoss
from posekit.models.losses.regression import RegressionLoss
from posekit.models.losses.rle import RealNVP, RLELoss

__all__ = [
    "CombinedLoss",
    "JSDiscretLoss",
    "KLDiscretLoss",
    "KeypointLoss",
    "KeypointMSELoss",
    "KeypointOHKMMSELoss",
    "RLELoss",
    "RealNVP",
    "RegressionLoss",
]
