"""The core every layer may read: keypoint specs, crop geometry, the batch contract, file I/O.

Nothing here imports another posekit package.
"""

from posekit.core.spec import KeypointSpec

__all__ = ["KeypointSpec"]
