"""A sum of losses, each reading its own outputs (mmpose's MultipleLossWrapper)."""

from __future__ import annotations

from typing import Mapping

from torch import Tensor, nn

from posekit.models.losses.base import KeypointLoss


class CombinedLoss(KeypointLoss):
    """The sum of named keypoint losses, e.g. smooth L1 on ``coords`` plus the JS divergence on
    ``heatmaps`` (DSNT). Each term's own ``joint_weights`` and ``loss_weight`` apply.

    Args:
        losses: name -> :class:`KeypointLoss`.
    """

    def __init__(self, losses: Mapping[str, KeypointLoss]) -> None:
        super().__init__()
        if not losses:
            raise ValueError("model.loss.losses must name at least one loss")
        for name, loss in losses.items():
            if not isinstance(loss, KeypointLoss):
                raise TypeError(
                    f"model.loss.losses.{name} must be a posekit KeypointLoss, got "
                    f"{type(loss).__name__}"
                )
        self.losses = nn.ModuleDict(dict(losses))

    def per_sample(
        self, outputs: dict[str, Tensor], targets: dict[str, Tensor], keypoint_weights: Tensor
    ) -> Tensor:
        """(N,) the sum of the terms' per-sample losses."""
        terms = [
            loss.per_sample(outputs, targets, keypoint_weights) for loss in self.losses.values()
        ]
        return sum(terms[1:], terms[0])
