"""The mean of a per-sample value (the validation loss) that DDP padding does not change."""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from posekit.metrics.base import unique_sample_positions


class SampleMean(Metric):
    """Mean of one value per sample over the distinct sample indices.

    Under DDP the distributed sampler repeats samples to pad the last batch; averaging per
    process and then over processes (``self.log(..., sync_dist=True)``) counts them twice and
    weighs the processes equally. Here the values are gathered with their ``sample_idx`` and
    each sample counts once, so the result equals a single-process run's.

    ``update(values, sample_idx)``: ``values`` (N,) floats, ``sample_idx`` (N,) integers.
    ``compute()``: a scalar tensor, or ``None`` when no sample was stored (absent, never 0).
    """

    full_state_update: ClassVar[bool] = False
    is_differentiable: ClassVar[bool] = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("sample_idx", default=[], dist_reduce_fx="cat")
        self.add_state("values", default=[], dist_reduce_fx="cat")

    def update(self, values: Tensor, sample_idx: Tensor) -> None:
        if values.ndim != 1 or values.shape != sample_idx.shape:
            raise ValueError(
                f"values and sample_idx must both be (N,), got {tuple(values.shape)} and "
                f"{tuple(sample_idx.shape)}"
            )
        self.values.append(values.detach().double())
        self.sample_idx.append(sample_idx.detach().long())

    def compute(self) -> Tensor | None:
        if isinstance(self.values, list) and not self.values:
            return None
        values = dim_zero_cat(self.values)
        if values.numel() == 0:
            return None
        keep = unique_sample_positions(dim_zero_cat(self.sample_idx))
        return values[keep].mean().float()
