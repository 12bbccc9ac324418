"""Learning-rate schedules stepped every iteration: a linear warmup, then step or cosine decay.

The recipes (mmpose, HRNet) state the warmup in iterations and the decay in epochs. The
factories take ``steps_per_epoch`` (optimizer steps, which the LightningModule computes from
the trainer) and convert the epochs once, so a milestone stays at its epoch whatever the data
size, batch size, number of devices or gradient accumulation.

Each factory returns a :class:`~torch.optim.lr_scheduler.LambdaLR` whose factor at step ``t``
is ``warmup(t) * decay(t)``: the warmup and the decay act together from step 0, as mmengine
chains its LinearLR and MultiStepLR / CosineAnnealingLR. The factor is a pure function of the
step, so a resumed run continues the schedule of its (current) config exactly.

Why not torch's schedulers (``tests/models/test_schedules_torch.py`` compares them at every
step): ChainedScheduler(LinearLR, MultiStepLR) equals ``warmup_multistep`` to float rounding,
and with ``eta_min=0`` CosineAnnealingLR equals ``warmup_cosine``, as SequentialLR(ConstantLR,
CosineAnnealingLR) equals RTMPose's flat cosine after its warmup. But torch's chainable forms
multiply step by step from the optimizer's current lr (a resumed run keeps the old config's
curve), CosineAnnealingLR rises again past ``T_max`` (ours holds ``eta_min``), and with
``eta_min > 0`` the chain adds eta_min to the warmed-up lr (as mmengine does), up to 0.5 %
from ``warmup x cosine``.
"""

from __future__ import annotations

import inspect
import math
from bisect import bisect_right
from functools import partial
from typing import Any, Callable, Sequence

import lightning as L
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def linear_warmup_factor(step: int, warmup_iters: int, warmup_ratio: float) -> float:
    """``warmup_ratio`` at step 0 rising linearly to 1 at ``warmup_iters`` (mmengine's LinearLR)."""
    if step >= warmup_iters:
        return 1.0
    return warmup_ratio + (1.0 - warmup_ratio) * step / warmup_iters


def _multistep_factor(
    step: int, milestone_steps: Sequence[int], gamma: float, warmup_iters: int, warmup_ratio: float
) -> float:
    decay = gamma ** bisect_right(milestone_steps, step)
    return linear_warmup_factor(step, warmup_iters, warmup_ratio) * decay


def _cosine_factor(
    step: int,
    total_steps: int,
    min_factor: float,
    warmup_iters: int,
    warmup_ratio: float,
) -> float:
    progress = min(step, total_steps) / total_steps
    decay = min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))
    return linear_warmup_factor(step, warmup_iters, warmup_ratio) * decay


def _check_warmup(warmup_iters: int, warmup_ratio: float) -> None:
    if warmup_iters < 0:
        raise ValueError(f"warmup_iters must be >= 0, got {warmup_iters}")
    if not 0.0 < warmup_ratio <= 1.0:
        raise ValueError(f"warmup_ratio must be in (0, 1], got {warmup_ratio}")


def _check_steps_per_epoch(steps_per_epoch: int) -> None:
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")


def warmup_multistep(
    optimizer: Optimizer,
    steps_per_epoch: int,
    milestones: Sequence[int],
    gamma: float = 0.1,
    warmup_iters: int = 500,
    warmup_ratio: float = 0.001,
) -> LambdaLR:
    """Linear warmup over ``warmup_iters`` steps, then x ``gamma`` at each milestone epoch.

    The lr of epoch ``m`` (0-based) and later is multiplied by ``gamma`` once per milestone
    ``<= m``, as ``MultiStepLR`` stepped per epoch does; step it every iteration.
    """
    _check_steps_per_epoch(steps_per_epoch)
    _check_warmup(warmup_iters, warmup_ratio)
    if list(milestones) != sorted(milestones):
        raise ValueError(f"milestones must be increasing epochs, got {list(milestones)}")
    milestone_steps = [int(m) * steps_per_epoch for m in milestones]
    factor = partial(
        _multistep_factor,
        milestone_steps=milestone_steps,
        gamma=gamma,
        warmup_iters=warmup_iters,
        warmup_ratio=warmup_ratio,
    )
    return LambdaLR(optimizer, factor)


def warmup_cosine(
    optimizer: Optimizer,
    steps_per_epoch: int,
    epochs: int,
    eta_min: float = 0.0,
    warmup_iters: int = 500,
    warmup_ratio: float = 0.001,
) -> LambdaLR:
    """Linear warmup over ``warmup_iters`` steps and a cosine from each group's lr to ``eta_min``
    over ``epochs`` epochs (per step; constant at ``eta_min`` afterwards)."""
    _check_steps_per_epoch(steps_per_epoch)
    _check_warmup(warmup_iters, warmup_ratio)
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    total_steps = epochs * steps_per_epoch
    factors = []
    for group in optimizer.param_groups:
        base_lr = group.get("initial_lr", group["lr"])
        if base_lr <= 0:
            raise ValueError(f"warmup_cosine needs a positive lr, got {base_lr}")
        factors.append(
            partial(
                _cosine_factor,
                total_steps=total_steps,
                min_factor=eta_min / base_lr,
                warmup_iters=warmup_iters,
                warmup_ratio=warmup_ratio,
            )
        )
    return LambdaLR(optimizer, factors)


def _flat_cosine_factor(
    step: int,
    flat_steps: int,
    total_steps: int,
    min_factor: float,
    warmup_iters: int,
    warmup_ratio: float,
) -> float:
    progress = min(max(step - flat_steps, 0), total_steps - flat_steps) / (total_steps - flat_steps)
    decay = min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))
    return linear_warmup_factor(step, warmup_iters, warmup_ratio) * decay


def warmup_flat_cosine(
    optimizer: Optimizer,
    steps_per_epoch: int,
    epochs: int,
    flat_epochs: int,
    eta_min_ratio: float = 0.05,
    warmup_iters: int = 1000,
    warmup_ratio: float = 1.0e-5,
) -> LambdaLR:
    """RTMPose's schedule: linear warmup over ``warmup_iters`` steps, the lr held until epoch
    ``flat_epochs``, then a cosine to ``eta_min_ratio`` x lr at epoch ``epochs`` (per step).

    As mmpose's LinearLR(start_factor=1e-5, end=1000 iters) followed by
    CosineAnnealingLR(eta_min=0.05 x base_lr, begin=epochs // 2, T_max=epochs // 2,
    convert_to_iter_based=True) in the RTMPose configs.
    """
    _check_steps_per_epoch(steps_per_epoch)
    _check_warmup(warmup_iters, warmup_ratio)
    if not 0 <= flat_epochs < epochs:
        raise ValueError(f"flat_epochs must lie in [0, epochs={epochs}), got {flat_epochs}")
    if not 0.0 <= eta_min_ratio <= 1.0:
        raise ValueError(f"eta_min_ratio must lie in [0, 1], got {eta_min_ratio}")
    factor = partial(
        _flat_cosine_factor,
        flat_steps=flat_epochs * steps_per_epoch,
        total_steps=epochs * steps_per_epoch,
        min_factor=eta_min_ratio,
        warmup_iters=warmup_iters,
        warmup_ratio=warmup_ratio,
    )
    return LambdaLR(optimizer, factor)


def optimizer_steps_per_epoch(trainer: L.Trainer) -> int:
    """Optimizer steps in one training epoch of ``trainer`` (this process's share of the data,
    ``limit_train_batches`` and gradient accumulation included)."""
    if trainer.max_epochs == -1:
        raise ValueError("schedules in epochs need trainer.max_epochs; it is -1 (train by steps)")
    if trainer.train_dataloader is None:
        trainer.fit_loop.setup_data()  # as Trainer.estimated_stepping_batches does
    batches = trainer.num_training_batches
    if not math.isfinite(batches):
        raise ValueError("schedules in epochs need a training data loader with a length")
    return max(1, math.ceil(batches / trainer.accumulate_grad_batches))


def scheduler_arguments(factory: Callable[..., Any], module: L.LightningModule) -> dict[str, int]:
    """``{"steps_per_epoch": ...}`` of the module's trainer for factories that take it (the ones
    above), else ``{}``."""
    if "steps_per_epoch" not in inspect.signature(factory).parameters:
        return {}
    return {"steps_per_epoch": optimizer_steps_per_epoch(module.trainer)}
