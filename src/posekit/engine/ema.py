"""The exponential moving average of the weights that mmpose's RTMPose recipes use.

Lightning's ``WeightAveraging`` callback keeps the averaged copy (conf/callbacks/ema.yaml);
this module gives it the averaging rule as a ``multi_avg_fn``.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

MultiAvgFn = Callable[[list[Tensor], list[Tensor], Tensor], None]


def ema_weight(num_averaged: int, decay: float, gamma: float) -> float:
    """Weight of the current model in update ``num_averaged`` (mmengine's ExpMomentumEMA).

    ``(1 - decay) + decay * exp(-(1 + n) / gamma)``: near 1 at first, so the average follows
    the quickly changing early weights, then falling to ``1 - decay`` over about ``gamma``
    updates. A plain EMA with decay 0.9998 would still be mostly the random initial weights
    after a few thousand steps.
    """
    momentum = 1.0 - decay
    return (1.0 - momentum) * math.exp(-(1.0 + num_averaged) / gamma) + momentum


def exp_momentum_ema(decay: float = 0.9998, gamma: float = 2000.0) -> MultiAvgFn:
    """A ``multi_avg_fn`` for ``torch.optim.swa_utils.AveragedModel`` (and Lightning's
    ``WeightAveraging``): ``average += w * (current - average)`` with ``w = ema_weight(...)``.

    Integer buffers (BatchNorm's ``num_batches_tracked``) take the current value.
    """
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"decay must be in [0, 1), got {decay}")
    if gamma <= 0:
        raise ValueError(f"gamma must be positive, got {gamma}")

    @torch.no_grad()
    def update(averaged: list[Tensor], current: list[Tensor], num_averaged: Tensor) -> None:
        # AveragedModel passes tensors grouped by device and dtype
        if torch.is_floating_point(averaged[0]):
            weight = ema_weight(int(num_averaged), decay, gamma)
            torch._foreach_lerp_(averaged, current, weight)
        else:
            torch._foreach_copy_(averaged, current)

    return update
