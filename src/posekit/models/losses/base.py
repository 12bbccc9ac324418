"""The loss contract: ``loss(outputs, targets, keypoint_weights) -> scalar``.

Each loss averages over the batch, so ``loss.per_sample(...)`` (N,) has the batch loss as its
mean; evaluation uses it to count every person once under DDP padding.

``outputs`` and ``targets`` are dicts of tensors keyed like the head outputs ("heatmaps", or
"simcc_x" and "simcc_y"); ``keypoint_weights`` is (N, K), 0 for keypoints that must not
contribute (unlabelled, outside the crop).
"""

from __future__ import annotations

import abc

from torch import Tensor, nn


class KeypointLoss(nn.Module, abc.ABC):
    """Base of the keypoint losses: subclasses give :meth:`per_sample`."""

    @abc.abstractmethod
    def per_sample(
        self, outputs: dict[str, Tensor], targets: dict[str, Tensor], keypoint_weights: Tensor
    ) -> Tensor:
        """(N,) the loss of each sample."""

    def forward(
        self, outputs: dict[str, Tensor], targets: dict[str, Tensor], keypoint_weights: Tensor
    ) -> Tensor:
        return self.per_sample(outputs, targets, keypoint_weights).mean()


def pair(
    outputs: dict[str, Tensor], targets: dict[str, Tensor], key: str
) -> tuple[Tensor, Tensor]:
    """The prediction and target under ``key``, checked to exist and to have one shape."""
    for label, found in (("outputs", outputs), ("targets", targets)):
        if key not in found:
            raise KeyError(f"the loss needs '{key}' in {label}, which has keys {sorted(found)}")
    pred, target = outputs[key], targets[key]
    if pred.shape != target.shape:
        raise ValueError(
            f"'{key}': prediction shape {tuple(pred.shape)} differs from target shape "
            f"{tuple(target.shape)}"
        )
    return pred, target


def check_weights(keypoint_weights: Tensor, pred: Tensor) -> None:
    if keypoint_weights.shape != pred.shape[:2]:
        raise ValueError(
            f"keypoint_weights must be (N, K) = {tuple(pred.shape[:2])}, "
            f"got {tuple(keypoint_weights.shape)}"
        )
