"""Shared machinery of the keypoint metrics: per-sample list states and de-duplication.

Every metric keeps one row per evaluated person record in torchmetrics list states
(``dist_reduce_fx="cat"``) together with its ``sample_idx``. Under DDP, Lightning's
``DistributedSampler`` pads the last batch by repeating records, so after gathering the states
the same ``sample_idx`` can appear more than once; :func:`unique_sample_positions` keeps the
first occurrence of each, which makes every result equal to that of a single-process run.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from posekit.core.batch import META_KEYS
from posekit.core.spec import KeypointSpec


def unique_sample_positions(sample_idx: Tensor) -> Tensor:
    """Positions of the first occurrence of each distinct sample index, ordered by sample index.

    Args:
        sample_idx: (N,) integer tensor, possibly with repeats.

    Returns:
        (U,) int64 positions into ``sample_idx``; ``sample_idx[positions]`` is sorted and unique.
    """
    if sample_idx.ndim != 1:
        raise ValueError(f"sample_idx must have shape (N,), got {tuple(sample_idx.shape)}")
    unique, inverse = torch.unique(sample_idx, sorted=True, return_inverse=True)
    n = sample_idx.numel()
    order = torch.arange(n, device=sample_idx.device)
    first = torch.full((unique.numel(),), n, dtype=torch.long, device=sample_idx.device)
    return first.scatter_reduce(0, inverse, order, reduce="amin")


class KeypointMetric(Metric):
    """Base of the posekit keypoint metrics; all are updated the same way.

    ``update(pred_keypoints, pred_scores, meta)`` with
      * ``pred_keypoints``: (N, K, 2) predictions in original-image pixel coordinates (0-based),
      * ``pred_scores``: (N, K) keypoint confidences,
      * ``meta``: dict with at least ``"sample_idx"`` (N,) int64, unique per person record of the
        evaluation set, plus the entries a subclass lists in :attr:`meta_keys` among
        ``"gt_keypoints"`` (N, K, 3), ``"bbox"`` (N, 4) xywh, ``"bbox_score"`` (N,),
        ``"image_id"`` (N,), ``"area"`` (N,), ``"scale"`` (N, 2). Other entries are ignored.

    ``compute()`` returns a flat ``dict[str, Tensor]`` of scalar tensors; a value that cannot be
    computed (nothing stored, nothing labelled) is absent, never 0. ``update`` refuses non-finite
    predictions (FloatingPointError).

    Every metric takes the data set's keypoint spec as ``spec`` (the data module passes it when
    it builds the metrics of its config), which fixes :attr:`num_keypoints`. Subclasses set
    :attr:`meta_keys` (the meta entries they store); they read the gathered,
    de-duplicated states with :meth:`_collect` (inside ``compute``) or :meth:`_collect_synced`
    (in public helpers called outside ``compute``).
    """

    full_state_update: ClassVar[bool] = False
    is_differentiable: ClassVar[bool] = False
    higher_is_better: ClassVar[bool] = True
    meta_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, num_keypoints: int | None = None, spec: KeypointSpec | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)  # torchmetrics refuses unknown (misspelt) options
        if spec is not None:
            if num_keypoints is not None and num_keypoints != spec.num_keypoints:
                raise ValueError(
                    f"{type(self).__name__} scores {num_keypoints} keypoints but keypoint spec "
                    f"'{spec.name}' has {spec.num_keypoints}"
                )
            num_keypoints = spec.num_keypoints
        unknown = [key for key in self.meta_keys if key not in META_KEYS or key == "sample_idx"]
        if unknown:
            raise ValueError(
                f"{type(self).__name__}.meta_keys names unknown meta entries {unknown}"
            )
        self.num_keypoints = num_keypoints
        self.add_state("sample_idx", default=[], dist_reduce_fx="cat")
        self.add_state("pred_keypoints", default=[], dist_reduce_fx="cat")
        self.add_state("pred_scores", default=[], dist_reduce_fx="cat")
        for key in self.meta_keys:
            self.add_state(key, default=[], dist_reduce_fx="cat")

    def update(self, pred_keypoints: Tensor, pred_scores: Tensor, meta: dict[str, Tensor]) -> None:
        """Store one batch of predictions and the meta entries this metric needs."""
        name = type(self).__name__
        if pred_keypoints.ndim != 3 or pred_keypoints.shape[-1] != 2:
            raise ValueError(
                f"{name}: pred_keypoints must be (N, K, 2), got {tuple(pred_keypoints.shape)}"
            )
        n, k = pred_keypoints.shape[:2]
        if self.num_keypoints is not None and k != self.num_keypoints:
            raise ValueError(
                f"{name}: expects {self.num_keypoints} keypoints, got pred_keypoints with K={k}"
            )
        if tuple(pred_scores.shape) != (n, k):
            raise ValueError(
                f"{name}: pred_scores must be (N, K) = {(n, k)}, got {tuple(pred_scores.shape)}"
            )
        finite = torch.isfinite(pred_keypoints).all(dim=-1) & torch.isfinite(pred_scores)  # (N, K)
        if not bool(finite.all()):
            row, keypoint = (int(i) for i in torch.nonzero(~finite)[0])
            index = meta.get("sample_idx")
            record = f" (sample_idx {int(index[row])})" if index is not None else ""
            raise FloatingPointError(
                f"{name}: the model predicted a non-finite keypoint or score (NaN or inf) for "
                f"{int((~finite).sum())} keypoints, first at row {row}{record}, keypoint "
                f"{keypoint}; evaluation stops (OKS would count NaN as a perfect match). Check "
                "the checkpoint (diverged training?) and the input images"
            )
        expected_shapes = {
            "sample_idx": (n,),
            "gt_keypoints": (n, k, 3),
            "bbox": (n, 4),
            "bbox_score": (n,),
            "image_id": (n,),
            "area": (n,),
            "scale": (n, 2),
        }
        for key in ("sample_idx", *self.meta_keys):
            if key not in meta:
                raise KeyError(f"{name}: meta lacks '{key}' (has {sorted(meta)})")
            value = torch.as_tensor(meta[key], device=self.device)
            if tuple(value.shape) != expected_shapes[key]:
                raise ValueError(
                    f"{name}: meta['{key}'] must have shape {expected_shapes[key]}, "
                    f"got {tuple(value.shape)}"
                )
            if key in ("sample_idx", "image_id"):
                value = value.long()
            getattr(self, key).append(value.detach())
        self.pred_keypoints.append(pred_keypoints.detach())
        self.pred_scores.append(pred_scores.detach())

    def _collect(self) -> dict[str, Tensor] | None:
        """All stored states concatenated, one row per distinct sample index (first occurrence),
        ordered by sample index; ``None`` when nothing was stored."""
        if isinstance(self.sample_idx, list) and len(self.sample_idx) == 0:
            return None
        states = {
            key: dim_zero_cat(getattr(self, key))
            for key in ("sample_idx", "pred_keypoints", "pred_scores", *self.meta_keys)
        }
        if states["sample_idx"].numel() == 0:
            return None
        keep = unique_sample_positions(states["sample_idx"])
        return {key: value[keep] for key, value in states.items()}

    def _collect_synced(self) -> dict[str, Tensor] | None:
        """:meth:`_collect` over all processes (a no-op gather outside distributed runs)."""
        with self.sync_context(dist_sync_fn=self.dist_sync_fn, process_group=self.process_group):
            return self._collect()

    def predictions(self) -> dict[str, Tensor] | None:
        """The stored predictions and meta (``sample_idx``, ``pred_keypoints`` (N, K, 2) in image
        pixels, ``pred_scores`` (N, K), and :attr:`meta_keys`), gathered over processes, one row
        per sample index, by sample index; ``None`` when nothing was stored."""
        return self._collect_synced()

    def _scalars(self, values: dict[str, float]) -> dict[str, Tensor]:
        return {
            key: torch.tensor(float(v), dtype=torch.float32, device=self.device)
            for key, v in values.items()
        }
