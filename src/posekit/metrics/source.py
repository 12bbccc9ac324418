"""One source's metric inside a mixture: the model predicts the mixture's keypoints, the metric
scores the source's own keypoints with the source's own protocol."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn

from posekit.metrics.base import KeypointMetric


class SourceMetric(nn.Module):
    """Feeds ``metric`` (built for the source's keypoint set) the batches of one validation
    dataloader and names its results ``<source>/<name>``.

    Args:
        metric: the source's metric, e.g. its data config's ``CocoKeypointAP``.
        source: the source's name in the mixture (the prefix of the results).
        keypoint_index: (K_source,) the position in the predicted (target) keypoints of each
            source keypoint; predictions and ``gt_keypoints`` (both in target order) are taken
            at these positions.
        dataloader_idx: the validation dataloader whose batches this metric scores.
        sample_offset: subtracted from ``sample_idx`` (the mixture numbers people of all its
            validation sets uniquely; the metric sees positions in the source's own set).
    """

    def __init__(
        self,
        metric: KeypointMetric,
        source: str,
        keypoint_index: Sequence[int],
        dataloader_idx: int = 0,
        sample_offset: int = 0,
    ) -> None:
        super().__init__()
        self.metric = metric
        self.source = source
        self.dataloader_idx = dataloader_idx
        self.sample_offset = sample_offset
        index = torch.as_tensor(list(keypoint_index), dtype=torch.long)  # (K_source,)
        self.register_buffer("keypoint_index", index, persistent=False)

    def update(self, pred_keypoints: Tensor, pred_scores: Tensor, meta: dict[str, Tensor]) -> None:
        """pred_keypoints (N, K_target, 2), pred_scores (N, K_target), meta in target order."""
        index = self.keypoint_index
        source_meta = dict(meta)
        source_meta["sample_idx"] = meta["sample_idx"] - self.sample_offset
        if "gt_keypoints" in meta:
            source_meta["gt_keypoints"] = meta["gt_keypoints"][:, index]
        self.metric.update(pred_keypoints[:, index], pred_scores[:, index], source_meta)

    def compute(self) -> dict[str, Tensor]:
        return {f"{self.source}/{name}": value for name, value in self.metric.compute().items()}

    def reset(self) -> None:
        self.metric.reset()
