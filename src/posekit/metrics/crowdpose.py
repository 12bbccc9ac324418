"""CrowdPose AP: COCO-style OKS AP plus AP by crowd index, as crowdposetools computes it.

crowdposetools (the official CrowdPose evaluation, not on PyPI) is pycocotools' keypoint
evaluation with three changes, reproduced here on top of pycocotools' ``COCOeval``:

* the OKS scale and the area-range test use 0.53 x the ground-truth box area
  (``CocoKeypointAP(use_area=False)``), with the CrowdPose sigmas;
* it reports AP, AP50, AP75, AR, AR50, AR75 (no medium/large split);
* AP easy / medium / hard: the images are split by their ``crowdIndex`` (< 0.2 easy,
  < 0.8 medium, else hard: the thresholds of crowdposetools' ``summarize``, which the published
  numbers come from; the paper's text says 0.1 for easy), the evaluation is re-run on each
  group's images, and the number is the mean of the whole precision array over IoU thresholds,
  recall thresholds and categories, rounded to 4 decimals (-1 for a group without people).
"""

from __future__ import annotations

import contextlib
import io
from typing import Any, ClassVar, Sequence

import numpy as np
from pycocotools.cocoeval import COCOeval

from posekit.metrics.coco import CocoKeypointAP

CROWD_KEYS = ("AP", "AP50", "AP75", "AR", "AR50", "AR75", "AP_easy", "AP_medium", "AP_hard")


class CrowdPoseAP(CocoKeypointAP):
    """The CrowdPose protocol. Args as :class:`CocoKeypointAP` (``use_area`` defaults to False)
    plus ``easy_below`` and ``hard_from``, the crowd-index thresholds of the three groups.

    ``compute()`` returns ``AP, AP50, AP75, AR, AR50, AR75, AP_easy, AP_medium, AP_hard``.
    Every image of the annotation file needs a ``crowdIndex``.
    """

    stat_keys: ClassVar[tuple[str, ...]] = CROWD_KEYS

    def __init__(
        self,
        ann_file: str,
        sigmas: Sequence[float] | None = None,
        easy_below: float = 0.2,
        hard_from: float = 0.8,
        use_area: bool = False,
        **kwargs: Any,
    ) -> None:
        if not 0.0 <= easy_below <= hard_from <= 1.0:
            raise ValueError(
                "CrowdPoseAP: need 0 <= easy_below <= hard_from <= 1, "
                f"got {easy_below}, {hard_from}"
            )
        super().__init__(ann_file, sigmas, use_area=use_area, **kwargs)
        self.easy_below = float(easy_below)
        self.hard_from = float(hard_from)
        self.groups = self._crowd_groups()

    def _crowd_groups(self) -> dict[str, list[int]]:
        groups: dict[str, list[int]] = {"easy": [], "medium": [], "hard": []}
        for i, image in enumerate(self._coco.dataset["images"]):
            if "crowdIndex" not in image:
                raise ValueError(
                    f"{self.ann_file}: images[{i}] (id {image.get('id')}) has no 'crowdIndex'; "
                    "CrowdPose AP easy/medium/hard needs the official CrowdPose annotations "
                    "(or use data=custom for a COCO-format set without crowd index)"
                )
            index = float(image["crowdIndex"])
            if index < self.easy_below:
                group = "easy"
            else:
                group = "medium" if index < self.hard_from else "hard"
            groups[group].append(image["id"])
        return groups

    def _summaries(self, evaluator: COCOeval) -> dict[str, float]:
        stats = evaluator.stats  # pycocotools' order: AP, AP50, AP75, APm, APl, AR, AR50, AR75, ...
        values = {key: float(stats[i]) for key, i in zip(CROWD_KEYS[:6], (0, 1, 2, 5, 6, 7))}
        for group, image_ids in self.groups.items():
            evaluator.params.imgIds = image_ids
            with contextlib.redirect_stdout(io.StringIO()):
                evaluator.evaluate()
                evaluator.accumulate()
            precision = evaluator.eval["precision"][:, :, :, 0, :]  # (T, R, K, M), area 'all'
            values[f"AP_{group}"] = round(float(np.mean(precision)), 4)
        return values
