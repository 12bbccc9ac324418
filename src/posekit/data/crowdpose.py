"""CrowdPose: COCO-format annotations with a crowd index per image, scored by crowd level."""

from __future__ import annotations

from pathlib import Path

from posekit.data.coco import CocoDataModule
from posekit.data.spec import KeypointSpec
from posekit.metrics import CrowdPoseAP


class CrowdPoseDataModule(CocoDataModule):
    """CrowdPose in its download layout; validation AP as crowdposetools computes it
    (see :mod:`posekit.metrics.crowdpose`), on ground-truth boxes or a detections file."""

    def __init__(
        self, *args, crowd_easy_below: float = 0.2, crowd_hard_from: float = 0.8, **kwargs
    ) -> None:
        self.crowd_easy_below = crowd_easy_below
        self.crowd_hard_from = crowd_hard_from
        super().__init__(*args, **kwargs)

    @classmethod
    def protocol_metric(
        cls,
        ann_file: str | Path,
        spec: KeypointSpec,
        use_detections: bool = False,
        use_area: bool = False,
        crowd_easy_below: float = 0.2,
        crowd_hard_from: float = 0.8,
        **_: object,
    ) -> CrowdPoseAP:
        return CrowdPoseAP(
            ann_file=str(ann_file),
            sigmas=spec.sigmas,
            use_detections=use_detections,
            use_area=use_area,
            easy_below=crowd_easy_below,
            hard_from=crowd_hard_from,
        )

    def protocol_options(self) -> dict[str, object]:
        return {
            **super().protocol_options(),
            "crowd_easy_below": self.crowd_easy_below,
            "crowd_hard_from": self.crowd_hard_from,
        }
