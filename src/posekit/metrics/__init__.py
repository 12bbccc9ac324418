"""Evaluation metrics; torchmetrics-based so they aggregate correctly under DDP."""

from posekit.metrics.base import KeypointMetric, unique_sample_positions
from posekit.metrics.coco import CocoKeypointAP, oks_matrix, oks_nms
from posekit.metrics.crowdpose import CrowdPoseAP
from posekit.metrics.pck import PCKMetric
from posekit.metrics.pckh import MPIIPCKh, write_mpii_gt_mat

__all__ = [
    "CocoKeypointAP",
    "CrowdPoseAP",
    "KeypointMetric",
    "MPIIPCKh",
    "PCKMetric",
    "oks_matrix",
    "oks_nms",
    "unique_sample_positions",
    "write_mpii_gt_mat",
]
