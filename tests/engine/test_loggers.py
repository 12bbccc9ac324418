"""Loggers: CSV, TensorBoard and W&B (offline) get the losses, metrics, learning rate and the
validation gallery; each training in one process is a W&B run of its own."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import compose_config
from helpers.tiny_run import TINY
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from posekit.engine.tasks import train

LOGGED = ("train/loss", "val/loss", "val/PCK@0.05", "lr-Adam")


@pytest.fixture
def wandb_offline(tmp_path, monkeypatch) -> None:
    """W&B without network or account: offline, every file under tmp_path."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for name in ("WANDB_DIR", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "wandb_home"))


def wandb_runs(run_dir: Path) -> list[Path]:
    return sorted((run_dir / "wandb").glob("offline-run-*"))


@pytest.mark.slow
def test_all_loggers_record_the_run_and_each_run_is_its_own_wandb_run(tmp_path, wandb_offline):
    import wandb

    run_dirs = [tmp_path / "job0", tmp_path / "job1"]
    for run_dir in run_dirs:  # as the jobs of a multirun: one process, one after the other
        train(compose_config("train", [*TINY, "logger=many_loggers"], run_dir))
        assert wandb.run is None  # finished, not left open for the next job

    first = run_dirs[0]
    csv = pd.read_csv(first / "csv" / "version_0" / "metrics.csv")
    assert set(LOGGED) <= set(csv.columns)

    (version,) = {events.parent for events in (first / "tensorboard").rglob("events.out.*")}
    accumulator = EventAccumulator(str(version), size_guidance={"images": 0})
    accumulator.Reload()
    assert set(LOGGED) <= set(accumulator.Tags()["scalars"])
    assert "val/predictions" in accumulator.Tags()["images"]

    (run_a,), (run_b,) = wandb_runs(run_dirs[0]), wandb_runs(run_dirs[1])
    assert run_a.name.split("-")[-1] != run_b.name.split("-")[-1]  # two run ids
    assert list(run_a.rglob("media/images/val/predictions_*.png"))
    assert list(run_a.glob("run-*.wandb"))  # the history, for `wandb sync`
