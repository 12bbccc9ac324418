"""posekit's per-step schedules against torch's own schedulers, stepped every iteration: the
warmup (mmpose's LinearLR convention: ``start_factor`` at step 0, 1 at ``warmup_iters``) and the
decay chained as mmengine chains them (torch's ChainedScheduler), equal at every step."""

from __future__ import annotations

import pytest
import torch
from torch.optim.lr_scheduler import (
    ChainedScheduler,
    ConstantLR,
    CosineAnnealingLR,
    LinearLR,
    MultiStepLR,
    SequentialLR,
)

from posekit.models.schedules import warmup_cosine, warmup_flat_cosine, warmup_multistep


def optimizer(lr: float = 0.1) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def lrs(make, steps: int) -> list[float]:
    """The lr at each of ``steps`` iterations of a scheduler built by ``make(optimizer)``."""
    opt = optimizer()
    scheduler = make(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return out


@pytest.mark.parametrize("warmup_iters, warmup_ratio", [(20, 0.001), (500, 0.001), (0, 1.0)])
def test_warmup_multistep_is_linear_lr_chained_with_multistep_lr(warmup_iters, warmup_ratio):
    spe, milestones = 7, [3, 5]
    ours = lrs(lambda o: warmup_multistep(o, spe, milestones, 0.1, warmup_iters, warmup_ratio), 60)
    theirs = lrs(lambda o: ChainedScheduler([
        LinearLR(o, warmup_ratio, 1.0, max(warmup_iters, 1)),
        MultiStepLR(o, [m * spe for m in milestones], 0.1)]), 60)
    assert ours == pytest.approx(theirs, rel=1e-12, abs=0)
    # hand-computed points: mmpose's warmup starts at lr x ratio and is linear
    if warmup_iters == 20:
        assert ours[0] == pytest.approx(0.1 * 0.001) and ours[10] == pytest.approx(0.1 * 0.5005)
        assert ours[20] == pytest.approx(0.1) and ours[21] == pytest.approx(0.01)  # epoch 3
        assert ours[35] == pytest.approx(0.001)  # epoch 5


def test_warmup_cosine_is_linear_lr_chained_with_cosine_annealing_lr():
    """Equal with eta_min 0. With eta_min > 0 the chain is not a product: torch (and mmengine,
    whose CosineAnnealingLR has the same recursive form) add eta_min to the warmed-up lr, and
    the lr differs from posekit's ``warmup x cosine`` by up to 0.5 % (relative) here."""
    spe, epochs = 7, 6
    ours = lrs(lambda o: warmup_cosine(o, spe, epochs, 0.0, 20, 0.001), spe * epochs)
    theirs = lrs(lambda o: ChainedScheduler([
        LinearLR(o, 0.001, 1.0, 20), CosineAnnealingLR(o, spe * epochs, 0.0)]), spe * epochs)
    assert ours == pytest.approx(theirs, rel=1e-12, abs=0)
    with_floor = lrs(lambda o: warmup_cosine(o, spe, epochs, 0.001, 20, 0.001), spe * epochs)
    chained = lrs(lambda o: ChainedScheduler([
        LinearLR(o, 0.001, 1.0, 20), CosineAnnealingLR(o, spe * epochs, 0.001)]), spe * epochs)
    assert with_floor[0] == chained[0] and with_floor != pytest.approx(chained, rel=1e-3)


def test_cosine_past_its_end_is_where_torch_differs():
    """Why posekit keeps its own factor: torch's CosineAnnealingLR rises again after T_max (a
    run trained longer than its schedule), posekit's holds eta_min."""
    spe, epochs = 5, 2
    ours = lrs(lambda o: warmup_cosine(o, spe, epochs, 0.0, 1, 1.0), 3 * spe * epochs)
    theirs = lrs(lambda o: CosineAnnealingLR(o, spe * epochs, 0.0), 3 * spe * epochs)
    assert ours[: spe * epochs] == pytest.approx(theirs[: spe * epochs], rel=1e-12, abs=1e-18)
    assert max(ours[spe * epochs:]) == 0.0 and max(theirs[spe * epochs:]) > 0.05


def test_flat_cosine_is_rtmposes_sequence():
    """RTMPose: LinearLR warmup, the lr held, then a cosine to 0.05 x lr from the middle epoch:
    torch's SequentialLR of ConstantLR(1) and CosineAnnealingLR, after a warmup shorter than
    the flat part."""
    spe, epochs, flat = 6, 8, 4
    steps = spe * epochs
    ours = lrs(lambda o: warmup_flat_cosine(o, spe, epochs, flat, 0.05, 10, 1e-5), steps)

    def torch_schedule(o):
        decay = SequentialLR(o, [ConstantLR(o, 1.0, total_iters=0),
                                 CosineAnnealingLR(o, steps - flat * spe, 0.1 * 0.05)],
                             milestones=[flat * spe])
        warm = lrs(lambda w: LinearLR(w, 1e-5, 1.0, 10), steps)  # the warmup's own factors
        return decay, warm

    opt = optimizer()
    decay, warm = torch_schedule(opt)
    theirs = []
    for step in range(steps):
        theirs.append(opt.param_groups[0]["lr"] * warm[step] / 0.1)
        opt.step()
        decay.step()
    assert ours == pytest.approx(theirs, rel=1e-12, abs=0)
