"""Data: keypoint specs, annotation formats, top-down samples and DataModules."""

from posekit.data.spec import KeypointSpec

__all__ = ["KeypointSpec"]
