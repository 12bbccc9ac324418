"""Evaluation metrics (torchmetrics, so they aggregate correctly under DDP) and the protocols
that score results files. A data config names its metrics (``metrics:`` Hydra nodes); metrics
never import data or models.
"""

from posekit.metrics.base import KeypointMetric, unique_sample_positions
from posekit.metrics.coco import CocoKeypointAP
from posekit.metrics.crowdpose import CrowdPoseAP
from posekit.metrics.oks import oks_matrix, oks_nms
from posekit.metrics.pck import MMPosePCK, PCKMetric
from posekit.metrics.pckh import MPIIPCKh
from posekit.metrics.source import SourceMetric

__all__ = [
    "CocoKeypointAP",
    "CrowdPoseAP",
    "KeypointMetric",
    "MMPosePCK",
    "MPIIPCKh",
    "PCKMetric",
    "SourceMetric",
    "oks_matrix",
    "oks_nms",
    "unique_sample_positions",
]
