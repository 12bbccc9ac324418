"""AlphaPose's learning rate around its DPG stage, against its training loop written out."""

from __future__ import annotations

import pytest
import torch

from posekit.config import compose
from posekit.models.restart_schedule import multistep_with_restart


def alphapose_lrs(epochs=270, lr=1e-3, lr_step=(170, 200), dpg_milestone=210, dpg_step=(230, 250)):
    """The lr of each epoch as AlphaPose's scripts/train.py sets it (torch schedulers)."""
    optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(lr_step), gamma=0.1)
    lrs = []
    for i in range(epochs):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
        if i == dpg_milestone:
            for group in optimizer.param_groups:
                group["lr"] = lr
            scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(dpg_step), gamma=0.1)
    return lrs


def test_alphapose_recipe_restarts_the_lr_as_alphapose():
    cfg = compose("train", ["experiment=mobilenetv3_fastposeintegral_halpe136"])
    node = cfg.model.scheduler
    assert node._target_.endswith("multistep_with_restart") and cfg.model.get("scheduler_interval", "epoch") == "epoch"
    optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1e-3)
    scheduler = multistep_with_restart(optimizer, node.milestones, node.gamma, node.restart_epoch,
                                       node.restart_milestones)
    ours = []
    for _ in range(270):
        ours.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert ours == pytest.approx(alphapose_lrs(), rel=1e-12)
    # by hand: 1e-3 to 169, 1e-4 to 199, 1e-5 to 210, 1e-3 again from 211 to the end
    assert (ours[169], ours[170], ours[200], ours[210], ours[211], ours[269]) == pytest.approx(
        (1e-3, 1e-4, 1e-5, 1e-5, 1e-3, 1e-3))
