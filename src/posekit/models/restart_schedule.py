"""A step schedule with one restart: AlphaPose's learning rate around its DPG stage.

AlphaPose (scripts/train.py) decays the lr x``gamma`` at ``LR_STEP`` epochs; after the epoch
``DPG_MILESTONE`` it sets the lr back to ``LR`` and starts a new ``MultiStepLR`` with milestones
``DPG_STEP``, which counts its epochs from 0 again: with ``DPG_STEP`` [230, 250] and 270 epochs
the lr stays at ``LR`` to the end.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Sequence

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def multistep_with_restart(
    optimizer: Optimizer,
    milestones: Sequence[int],
    gamma: float = 0.1,
    restart_epoch: int | None = None,
    restart_milestones: Sequence[int] = (),
) -> LambdaLR:
    """Per-epoch factor ``gamma ** (milestones passed)`` (torch's MultiStepLR) until
    ``restart_epoch``; from it on the factor starts again at 1 and passes
    ``restart_milestones`` counted from ``restart_epoch`` (AlphaPose: ``DPG_MILESTONE + 1``)."""
    milestones, restart = sorted(int(m) for m in milestones), sorted(int(m) for m in restart_milestones)

    def factor(epoch: int) -> float:
        if restart_epoch is not None and epoch >= restart_epoch:
            return gamma ** bisect_right(restart, epoch - restart_epoch)
        return gamma ** bisect_right(milestones, epoch)

    return LambdaLR(optimizer, factor)
