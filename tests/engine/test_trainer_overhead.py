"""What the trainer does per step, kept off the hot path: the training loss is logged as the
mean of a window, and the progress bar redraws a few times a second."""

from __future__ import annotations

import lightning as L
import torch
from helpers import compose_config
from hydra.utils import instantiate

from posekit.engine.progress import ThrottledRichProgressBar
from posekit.models.checkpoint import build_model


class StepLosses(L.Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(float(outputs["loss"]))


def tiny_fit(tmp_path, steps: int, log_every: int, callbacks: list) -> L.Trainer:
    cfg = compose_config("train", [
        "data.input_size=[48,64]", "data.num_workers=0", "data.batch_size=4",
        "model/backbone=resnet18_s8",
    ], tmp_path)
    model, datamodule = build_model(cfg), instantiate(cfg.data)
    trainer = L.Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=steps,
                        limit_val_batches=0, logger=False, enable_checkpointing=False,
                        enable_model_summary=False, num_sanity_val_steps=0,
                        log_every_n_steps=log_every, callbacks=callbacks)
    trainer.fit(model, datamodule=datamodule)
    return trainer


def test_training_loss_is_the_mean_of_the_last_window(tmp_path):
    """5 steps, a log every 2: windows [0, 1], [2, 3] and, at the epoch's end, [4]."""
    recorder = StepLosses()
    trainer = tiny_fit(tmp_path, steps=5, log_every=2, callbacks=[recorder])
    assert len(recorder.losses) == 5
    logged = trainer.callback_metrics["train/loss"]
    assert logged.device.type == "cpu"
    assert float(logged) == torch.tensor(recorder.losses[4]).item()
    # no logging step before the epoch's end: one window of both steps
    trainer = tiny_fit(tmp_path, steps=2, log_every=50, callbacks=[recorder := StepLosses()])
    expected = sum(recorder.losses) / 2
    assert abs(float(trainer.callback_metrics["train/loss"]) - expected) < 1e-6


def test_progress_bar_updates_at_most_its_rate_and_at_the_last_batch(tmp_path, monkeypatch):
    bar = ThrottledRichProgressBar(updates_per_second=1e-6)  # one update per epoch at most
    updates: list[int] = []
    original = ThrottledRichProgressBar._update_metrics

    def counting(self, trainer, pl_module):
        updates.append(trainer.fit_loop.epoch_loop.batch_progress.current.completed)
        original(self, trainer, pl_module)

    monkeypatch.setattr(ThrottledRichProgressBar, "_update_metrics", counting)
    tiny_fit(tmp_path, steps=4, log_every=1, callbacks=[bar])
    # the first batch (nothing drawn yet) and the last one; then the epoch end
    assert updates[:2] == [0, 3], updates
    assert bar.progress is None or bar.progress.tasks[bar.train_progress_bar_id].completed == 4
