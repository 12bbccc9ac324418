"""The loss contract: ``loss(outputs, targets, keypoint_weights) -> scalar``.

Each loss averages over the batch, so ``loss.per_sample(...)`` (N,) has the batch loss as its
mean; evaluation uses it to count every person once under DDP padding.

``outputs`` and ``targets`` are dicts of tensors keyed like the head outputs ("heatmaps", or
"simcc_x" and "simcc_y"); ``keypoint_weights`` is (N, K), 0 for keypoints that must not
contribute (unlabelled, outside the crop).
"""

from __future__ import annotations

import abc
from typing import Sequence

import torch
from torch import Tensor, nn


class KeypointLoss(nn.Module, abc.ABC):
    """Base of the keypoint losses: subclasses give :meth:`per_sample`.

    Args:
        use_target_weight: multiply by ``keypoint_weights``; if False they are ignored.
        loss_weight: factor on the result.
        joint_weights: optional (K,) factors on the keypoint weights, e.g. the keypoint spec's
            ``joint_weights`` (``model.loss.joint_weights='${joint_weights:${data.keypoints}}'``);
            they multiply the (N, K) ``keypoint_weights`` before the loss uses them, as HRNet's
            ``USE_DIFFERENT_JOINTS_WEIGHT`` and mmpose's ``use_dataset_keypoint_weights`` do.
            None: no factors.
    """

    def __init__(
        self,
        use_target_weight: bool = True,
        loss_weight: float = 1.0,
        joint_weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        self.use_target_weight = bool(use_target_weight)
        self.loss_weight = float(loss_weight)
        if joint_weights is None:
            self.joint_weights: Tensor | None = None
        else:
            weights = torch.as_tensor([float(w) for w in joint_weights], dtype=torch.float32)
            if weights.ndim != 1 or not torch.isfinite(weights).all() or (weights < 0).any():
                raise ValueError(
                    "model.loss.joint_weights must be a list of finite numbers >= 0, got "
                    f"{list(joint_weights)}"
                )
            self.register_buffer("joint_weights", weights, persistent=False)
        self.require_target_weight(self.use_target_weight)

    def require_target_weight(self, use_target_weight: bool) -> None:
        """Joint weights act through the keypoint weights: refuse them when those are ignored."""
        if self.joint_weights is not None and not use_target_weight:
            raise ValueError(
                "model.loss.joint_weights needs model.loss.use_target_weight=true (the joint "
                "weights multiply the keypoint weights, which are otherwise ignored)"
            )

    def weights(self, keypoint_weights: Tensor) -> Tensor:
        """(N, K) keypoint weights times the joint weights (when given)."""
        if self.joint_weights is None:
            return keypoint_weights
        if keypoint_weights.shape[-1] != self.joint_weights.shape[0]:
            raise ValueError(
                f"model.loss.joint_weights has {self.joint_weights.shape[0]} values but the "
                f"keypoints number {keypoint_weights.shape[-1]}: give one per keypoint"
            )
        return keypoint_weights * self.joint_weights.to(keypoint_weights)

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
