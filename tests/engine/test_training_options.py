"""Training options: warmup schedules per iteration, EMA of the weights, mixed precision with
gradient clipping, early stopping composed with the default callbacks."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import torch
from helpers import compose_config
from helpers.tiny_run import TINY
from hydra.utils import instantiate

from posekit.engine.ema import ema_weight, exp_momentum_ema
from posekit.engine.tasks import evaluate, train
from posekit.models.checkpoint import read_checkpoint
from posekit.models.schedules import (
    linear_warmup_factor,
    warmup_cosine,
    warmup_multistep,
)


def lrs(scheduler, steps: int) -> list[float]:
    values = []
    for _ in range(steps):
        values.append(scheduler.get_last_lr()[0])
        scheduler.optimizer.step()
        scheduler.step()
    return values


def optimizer(lr: float = 1.0) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def test_warmup_multistep_converts_milestone_epochs_to_steps():
    scheduler = warmup_multistep(optimizer(), steps_per_epoch=3, milestones=[2, 3], gamma=0.1,
                                 warmup_iters=4, warmup_ratio=0.001)
    values = lrs(scheduler, 11)
    assert values[:4] == pytest.approx([linear_warmup_factor(t, 4, 0.001) for t in range(4)])
    assert values[0] == pytest.approx(0.001)
    assert values[4:6] == pytest.approx([1.0, 1.0])  # epoch 1
    assert values[6:9] == pytest.approx([0.1] * 3)  # epoch 2: first milestone
    assert values[9:] == pytest.approx([0.01] * 2)  # epoch 3: second milestone
    with pytest.raises(ValueError, match="increasing"):
        warmup_multistep(optimizer(), steps_per_epoch=3, milestones=[3, 2])


def test_warmup_cosine_reaches_eta_min_at_the_last_epoch():
    scheduler = warmup_cosine(optimizer(lr=0.1), steps_per_epoch=5, epochs=4, eta_min=0.001,
                              warmup_iters=5, warmup_ratio=0.01)
    values = lrs(scheduler, 25)
    half = 0.001 + (0.1 - 0.001) * 0.5 * (1 + math.cos(math.pi * 10 / 20))
    assert values[0] == pytest.approx(0.1 * 0.01 * 1.0)
    assert values[10] == pytest.approx(half)
    assert values[20:] == pytest.approx([0.001] * 5)


@pytest.mark.slow
def test_warmup_schedule_steps_every_iteration_in_a_run(tmp_path):
    """2 epochs of 2 steps: warmup over steps 0-1, x0.1 from epoch 1 (step 2) on."""
    overrides = [*TINY, "trainer.max_epochs=2", "model/scheduler=warmup_multistep",
                 "model.scheduler.milestones=[1]", "model.scheduler.warmup_iters=2"]
    train(compose_config("train", overrides, tmp_path))
    logged = pd.read_csv(tmp_path / "csv" / "version_0" / "metrics.csv")
    lr = logged.dropna(subset=["lr-Adam"]).set_index("step")["lr-Adam"]
    assert lr.to_dict() == pytest.approx({0: 1e-6, 1: 1e-3 * 0.5005, 2: 1e-4, 3: 1e-4})


def test_exp_momentum_ema_follows_mmengine():
    assert ema_weight(0, decay=0.9998, gamma=2000) == pytest.approx(
        0.0002 + 0.9998 * math.exp(-1 / 2000))
    assert ema_weight(10**6, decay=0.9998, gamma=2000) == pytest.approx(0.0002)
    update = exp_momentum_ema(decay=0.5, gamma=1.0)
    averaged, current = [torch.zeros(3)], [torch.ones(3)]
    update(averaged, current, torch.tensor(1))
    # mmengine: momentum (1 - decay) + decay * exp(-(step + 1) / gamma) on the new weights
    assert averaged[0] == pytest.approx(torch.full((3,), 0.5 + 0.5 * math.exp(-2)))
    counts = [torch.tensor(3)]
    update(counts, [torch.tensor(7)], torch.tensor(1))  # integer buffers take the current value
    assert counts[0].item() == 7
    with pytest.raises(ValueError, match="decay"):
        exp_momentum_ema(decay=1.0)


@pytest.mark.slow
def test_ema_weights_are_validated_and_checkpointed(tmp_path):
    overrides = [*TINY, "trainer.max_epochs=2", "callbacks=[default,ema]",
                 "callbacks.ema.multi_avg_fn.decay=0.5", "callbacks.ema.multi_avg_fn.gamma=1"]
    train(compose_config("train", overrides, tmp_path / "run"))
    best = next((tmp_path / "run" / "checkpoints").glob("best_epoch*.ckpt"))
    checkpoint = read_checkpoint(best)
    averaged, raw = checkpoint["state_dict"], checkpoint["current_model_state"]
    assert any(not torch.equal(averaged[k], raw[k]) for k in averaged)

    # what was validated during training is what the checkpoint's state_dict (eval.py) gives
    epoch = int(best.stem.removeprefix("best_epoch"))
    logged = pd.read_csv(tmp_path / "run" / "csv" / "version_0" / "metrics.csv")
    during = logged[logged["epoch"] == epoch].dropna(subset=["val/loss"]).iloc[0]
    evaluated = evaluate(compose_config("eval", [f"ckpt_path={best}", "data.num_workers=0",
                                                 "trainer.limit_val_batches=2",
                                                 "data.val_batch_size=8"], tmp_path / "eval"))
    for name in ("val/loss", "val/PCK-AUC@0.5"):
        assert evaluated[name] == pytest.approx(during[name], abs=1e-6), name


@pytest.mark.slow
def test_ema_warmup_bf16_mixed_precision_and_clipping_together_on_cpu(tmp_path):
    """README: callbacks=[default,ema] model/scheduler=warmup_multistep
    trainer.precision=bf16-mixed trainer.gradient_clip_val=1.0"""
    options = ["callbacks=[default,ema]", "model/scheduler=warmup_multistep",
               "trainer.precision=bf16-mixed", "trainer.gradient_clip_val=1.0"]
    cfg = compose_config("train", [*TINY, "debug=fast_dev_run", *options], tmp_path)
    metrics = train(cfg)
    assert math.isfinite(metrics["train/loss"]) and 0 <= metrics["val/PCK@0.05"] <= 1


def test_early_stopping_composes_with_the_default_callbacks(tmp_path: Path):
    cfg = compose_config("train", ["callbacks=[default,early_stopping]"], tmp_path)
    callbacks = {name: instantiate(node) for name, node in cfg.callbacks.items()}
    assert {"model_checkpoint", "lr_monitor", "random_state", "early_stopping"} <= set(callbacks)
    assert callbacks["early_stopping"].monitor == cfg.data.monitor


def test_clipping_precision_and_determinism_reach_the_trainer(tmp_path: Path):
    overrides = ["trainer.gradient_clip_val=0.5", "trainer.gradient_clip_algorithm=value",
                 "trainer.precision=bf16-mixed", "trainer.deterministic=true", "trainer=cpu"]
    try:
        trainer = instantiate(compose_config("train", overrides, tmp_path).trainer)
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(False)
    assert (trainer.gradient_clip_val, trainer.gradient_clip_algorithm) == (0.5, "value")
    assert trainer.precision == "bf16-mixed"
