"""Freezing backbone stages (BatchNorm kept in eval mode) and the backbone's learning rate."""

from __future__ import annotations

import lightning as L
import pandas as pd
import pytest
import torch
from helpers import REPO, compose_config
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from posekit.engine.tasks import train
from posekit.models.backbone import TimmBackbone

FAST = ["data.input_size=[48,64]", "data.num_workers=0", "data.batch_size=4", "seed=0"]


def one_step(overrides: list[str], tmp_path) -> tuple[L.LightningModule, dict, dict]:
    """A model of the config, its state before and after one optimizer step on the sample."""
    cfg = compose_config("train", [*FAST, *overrides], tmp_path)
    L.seed_everything(0)
    model, datamodule = instantiate(cfg.model), instantiate(cfg.data)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = L.Trainer(accelerator="cpu", max_steps=1, limit_val_batches=0, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=datamodule)
    return model, before, model.state_dict()


def changed(before: dict, after: dict, prefix: str) -> dict[str, bool]:
    """name -> whether the tensor moved, for the float tensors under ``prefix``."""
    return {k: not torch.equal(before[k], after[k]) for k in before
            if k.startswith(prefix) and before[k].is_floating_point()}


def test_frozen_stages_do_not_change_and_the_backbone_has_its_own_lr(tmp_path):
    """README: python train.py model.freeze_backbone_stages=1 model.backbone_lr_mult=0.1"""
    model, before, after = one_step(
        ["model.freeze_backbone_stages=1", "model.backbone_lr_mult=0.1"], tmp_path
    )
    body = "backbone.body.model."
    for part in ("conv1.", "bn1.", "layer1."):  # the stem and stage 1: weights and BN statistics
        moved = changed(before, after, body + part)
        assert moved and not any(moved.values()), part
    # stage 2 trains (timm zero-inits each block's last BN scale, so at the first step only
    # those scales, the shortcut and the BN statistics move)
    moved = changed(before, after, body + "layer2.")
    assert moved[body + "layer2.0.bn2.weight"] and moved[body + "layer2.0.downsample.0.weight"]
    assert moved[body + "layer2.0.bn1.running_mean"]
    assert any(changed(before, after, "head.").values())
    assert not any(p.requires_grad for p in model.backbone.body.model.layer1.parameters())
    groups = {g["name"]: g for g in model.trainer.optimizers[0].param_groups}
    assert groups["backbone"]["initial_lr"] == pytest.approx(1e-3 * 0.1)
    assert groups["head"]["initial_lr"] == pytest.approx(1e-3)
    layer2 = set(map(id, model.backbone.body.model.layer2.parameters()))
    assert set(map(id, groups["backbone"]["params"])) == layer2  # the frozen ones stay out
    head = {id(p) for name, p in model.named_parameters() if not name.startswith("backbone.")}
    assert set(map(id, groups["head"]["params"])) == head


def test_the_lr_monitor_logs_both_groups(tmp_path):
    cfg = compose_config("train", [*FAST, "model.backbone_lr_mult=0.1", "trainer.max_epochs=1",
                                   "trainer.limit_train_batches=1", "trainer.limit_val_batches=1",
                                   "validate_best=false", "model/scheduler=multistep"], tmp_path)
    train(cfg)
    logged = pd.read_csv(tmp_path / "csv" / "version_0" / "metrics.csv")
    assert logged["lr-Adam/backbone"].dropna().iloc[0] == pytest.approx(1e-4)
    assert logged["lr-Adam/head"].dropna().iloc[0] == pytest.approx(1e-3)


def test_a_frozen_backbone_stays_in_eval_mode_and_only_the_head_trains(tmp_path):
    """README: python train.py model.freeze_backbone=true"""
    model, before, after = one_step(["model.freeze_backbone=true"], tmp_path)
    assert not any(changed(before, after, "backbone.").values())
    assert all(not m.training for m in model.backbone.modules()
               if isinstance(m, torch.nn.BatchNorm2d))
    model.train()  # a later train() (Lightning calls it every epoch) keeps them in eval mode
    assert not any(m.training for m in model.backbone.modules()
                   if isinstance(m, torch.nn.BatchNorm2d))
    assert model.head.training
    (group,) = model.trainer.optimizers[0].param_groups
    assert {id(p) for p in group["params"]} == {id(p) for p in model.head.parameters()}


def test_stages_of_timm_backbones_follow_mmpose_frozen_stages():
    hrnet = TimmBackbone("hrnet_w18_small", out_stride=4)
    stem, stage1, *rest = hrnet.stages()
    model = hrnet.body
    assert {id(p) for p in stem.parameters()} == {
        id(p) for m in (model.conv1, model.bn1, model.conv2, model.bn2) for p in m.parameters()}
    # mmpose's HRNet: stage 1 is layer1 with transition1, stage i: stage<i> + transition<i>
    assert {id(p) for p in stage1.parameters()} == {
        id(p) for m in (model.layer1, model.transition1) for p in m.parameters()}
    assert len(rest) == 3


def test_bad_freeze_options_name_the_key_and_the_fix(tmp_path, monkeypatch):
    cfg = compose_config("train", ["model.freeze_backbone_stages=3"], tmp_path)
    with pytest.raises(InstantiationException, match=r"freeze_backbone_stages=3: TimmBackbone "
                       r".* has a stem and 2 stages; choose -1..2"):
        instantiate(cfg.model)
    monkeypatch.syspath_prepend(str(REPO))
    cfg = compose_config("train", ["model/backbone=example_custom",
                                   "model.backbone_lr_mult=0"], tmp_path)
    with pytest.raises(ValueError, match="model.backbone_lr_mult must be > 0"):
        instantiate(cfg.model).configure_optimizers()
