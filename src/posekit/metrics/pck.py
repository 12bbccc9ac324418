"""PCK (percentage of correct keypoints) normalised by the person box size."""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import torch
from torch import Tensor

from posekit.metrics.base import KeypointMetric

AUC_MAX_ALPHA = 0.5
AUC_NUM_ALPHAS = 51  # alpha in {0.00, 0.01, ..., 0.50}
AUC_KEY = "PCK-AUC@0.5"


class PCKMetric(KeypointMetric):
    """PCK@alpha with the box normaliser ``max(bbox w, bbox h)`` (mmpose's convention).

    A labelled keypoint (gt visibility > 0) of a sample with a positive normaliser is correct
    when ``||pred - gt||_2 / max(w, h) <= alpha``. PCK pools all such keypoints of all samples:
    ``PCK = correct / labelled``. With nothing labelled (e.g. detected boxes, which carry no
    ground truth) ``compute()`` returns ``{}``: absent, never 0. :class:`MMPosePCK` is mmpose's
    variant (per-keypoint mean, strict threshold) under its own name.

    ``compute()`` returns ``{f"PCK@{alpha:g}": ..., "PCK-AUC@0.5": ...}`` where
    ``PCK-AUC@0.5`` is the mean of PCK@alpha over the 51 thresholds alpha = 0.00, 0.01, ..., 0.50.
    All values are fractions in [0, 1].
    """

    meta_keys: ClassVar[tuple[str, ...]] = ("gt_keypoints", "bbox")
    norms: ClassVar[tuple[str, ...]] = ("bbox",)

    def __init__(
        self, thresholds: Sequence[float] = (0.05, 0.1, 0.2), norm: str = "bbox", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        if norm not in self.norms:
            raise ValueError(
                f"PCKMetric: unknown norm '{norm}', expected one of {list(self.norms)}"
            )
        self.thresholds = tuple(float(alpha) for alpha in thresholds)
        if not self.thresholds:
            raise ValueError("PCKMetric: thresholds is empty")
        if any(alpha < 0 for alpha in self.thresholds):
            raise ValueError(f"PCKMetric: thresholds must be >= 0, got {list(self.thresholds)}")
        keys = [f"PCK@{alpha:g}" for alpha in self.thresholds]
        if len(set(keys)) != len(keys):
            raise ValueError(f"PCKMetric: thresholds give repeated keys {keys}")
        self.norm = norm

    def _normalised_errors(self, states: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Normalised errors (N, K) float64 and the mask of keypoints that count (N, K) bool."""
        pred = states["pred_keypoints"].double()  # (N, K, 2)
        gt = states["gt_keypoints"].double()  # (N, K, 3)
        wh = states["bbox"].double()[:, 2:]  # (N, 2)
        normaliser = wh.max(dim=1).values  # (N,)
        valid = (gt[..., 2] > 0) & (normaliser > 0)[:, None]  # (N, K)
        error = torch.linalg.vector_norm(pred - gt[..., :2], dim=-1)  # (N, K)
        safe = torch.where(normaliser > 0, normaliser, torch.ones_like(normaliser))
        return error / safe[:, None], valid

    def _correct_counts(
        self, states: dict[str, Tensor] | None, alphas: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Correct keypoints per threshold and keypoint (A, K), labelled keypoints (K,)."""
        if states is None:
            empty = torch.zeros(0, dtype=torch.float64, device=self.device)
            return empty.expand(alphas.numel(), 0), empty
        error, valid = self._normalised_errors(states)
        correct = (error[None] <= alphas[:, None, None]) & valid[None]  # (A, N, K)
        return correct.sum(dim=1).double(), valid.sum(dim=0).double()

    def compute(self) -> dict[str, Tensor]:
        alphas = torch.tensor(self.thresholds, dtype=torch.float64, device=self.device)
        # (i * 0.5) / 50 is the double nearest to i / 100, so the grid points are exact
        auc_alphas = (
            torch.arange(AUC_NUM_ALPHAS, dtype=torch.float64, device=self.device) * AUC_MAX_ALPHA
        )
        auc_alphas = auc_alphas / (AUC_NUM_ALPHAS - 1)
        correct, labelled = self._correct_counts(self._collect(), torch.cat([alphas, auc_alphas]))
        total = labelled.sum()
        if total == 0:
            return {}  # nothing labelled: PCK cannot be computed
        pck = correct.sum(dim=1) / total
        values = {f"PCK@{alpha:g}": float(pck[i]) for i, alpha in enumerate(self.thresholds)}
        values[AUC_KEY] = float(pck[len(self.thresholds) :].mean())
        return self._scalars(values)

    def per_keypoint(self, alpha: float) -> Tensor:
        """PCK@alpha of each keypoint, (K,) float32; NaN for a keypoint never labelled.

        Reads the same states as ``compute()`` (gathered over processes under DDP).
        """
        alphas = torch.tensor([float(alpha)], dtype=torch.float64, device=self.device)
        correct, labelled = self._correct_counts(self._collect_synced(), alphas)
        return (correct[0] / labelled).float()


class MMPosePCK(PCKMetric):
    """PCK@alpha as mmpose's ``PCKAccuracy`` (``keypoint_pck_accuracy``) computes it.

    Differs from :class:`PCKMetric` in two ways: a keypoint is correct when its normalised error
    is strictly below alpha (``< alpha``), and the result is the mean over keypoints of each
    keypoint's accuracy (keypoints never labelled are left out) instead of one pooled ratio.
    Same normaliser ``max(bbox w, bbox h)`` and validity rule. ``compute()`` returns
    ``{f"PCK-mmpose@{alpha:g}": ...}`` (fractions), ``{}`` when nothing is labelled.
    """

    def compute(self) -> dict[str, Tensor]:
        states = self._collect()
        if states is None:
            return {}
        error, valid = self._normalised_errors(states)  # (N, K), (N, K)
        labelled = valid.sum(dim=0)  # (K,)
        if not bool((labelled > 0).any()):
            return {}
        values = {}
        for alpha in self.thresholds:
            correct = ((error < alpha) & valid).sum(dim=0)  # (K,)
            per_keypoint = correct[labelled > 0].double() / labelled[labelled > 0]
            values[f"PCK-mmpose@{alpha:g}"] = float(per_keypoint.mean())
        return self._scalars(values)
