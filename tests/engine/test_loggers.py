"""Loggers: CSV, TensorBoard and W&B (offline) get the losses, metrics, learning rate and the
validation gallery; each training in one process is a W&B run of its own."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import REPO, compose_config
from helpers.tiny_run import TINY
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from posekit.config import compose
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
    assert "root: " in (version / "hparams.yaml").read_text()  # train() logged the config

    (run_a,), (run_b,) = wandb_runs(run_dirs[0]), wandb_runs(run_dirs[1])
    assert run_a.name.split("-")[-1] != run_b.name.split("-")[-1]  # two run ids
    assert list(run_a.rglob("media/images/val/predictions_*.png"))
    assert list(run_a.glob("run-*.wandb"))  # the history, for `wandb sync`



def logged_run(tmp_path: Path, overrides: list[str]) -> tuple[Path, dict[str, int]]:
    """The loggers of ``train.py <overrides>`` given the config and model sizes (as ``train``
    gives them, without training), named as under a Hydra job with these overrides; returns
    the run folder and the parameter counts as Lightning's own model summary counts them."""
    from hydra.core.hydra_config import HydraConfig
    from lightning.pytorch.utilities.model_summary import ModelSummary

    from posekit.engine.loggers import log_hyperparameters, name_runs
    from posekit.engine.tasks import build_trainer, finish_wandb
    from posekit.models.checkpoint import build_model

    cfg = compose_config("train", overrides, tmp_path)
    HydraConfig.instance().set_config(compose("train", overrides, return_hydra_config=True))
    try:
        name_runs(cfg)
    finally:
        HydraConfig.instance().cfg = None
    model = build_model(cfg)
    trainer = build_trainer(cfg)
    log_hyperparameters(cfg, model, trainer)
    for logger in trainer.loggers:
        logger.finalize("success")
    finish_wandb(trainer)
    summary = ModelSummary(model)
    sizes = {"model/params/total": summary.total_parameters,
             "model/params/trainable": summary.trainable_parameters,
             "model/params/non_trainable": summary.total_parameters - summary.trainable_parameters}
    return tmp_path, sizes


def test_tensorboard_and_csv_hparams_hold_the_config_and_model_sizes(tmp_path):
    """lightning-hydra-template's log_hyperparameters: hparams.yaml is the resolved config."""
    import yaml

    overrides = ["model/backbone=resnet18_s8", "seed=3", "logger=many_loggers", "~logger.wandb"]
    run_dir, sizes = logged_run(tmp_path, overrides)
    for folder in ("tensorboard", "csv"):
        (path,) = (run_dir / folder).rglob("hparams.yaml")
        saved = yaml.safe_load(path.read_text())
        assert saved["data"]["root"] == str(REPO / "data" / "sample") and saved["seed"] == 3
        assert saved["model"]["backbone"]["out_stride"] == 8
        assert {key: saved[key] for key in sizes} == sizes and sizes["model/params/total"] > 0


def test_the_wandb_run_carries_the_config_and_is_named_by_the_overrides(tmp_path, wandb_offline):
    """The offline run file holds the config and sizes; the run is named by the experiment
    (here the task) and the overrides that change the run (not logger=, not paths.*)."""
    import json

    from helpers.wandb_records import wandb_records

    overrides = ["model/backbone=resnet18_s8", "seed=3", "logger=wandb", "paths.log_dir=/x"]
    run_dir, sizes = logged_run(tmp_path, overrides)
    (run,) = wandb_runs(run_dir)
    records = wandb_records(next(run.glob("run-*.wandb")))
    (name,) = [r.run.display_name for r in records if r.WhichOneof("record_type") == "run"]
    assert name == "train_model/backbone=resnet18_s8,seed=3"
    config = {item.key: json.loads(item.value_json)
              for r in records if r.WhichOneof("record_type") == "config"
              for item in r.config.update}
    assert config["data"]["root"] == str(REPO / "data" / "sample") and config["seed"] == 3
    assert {key: config[key] for key in sizes} == sizes
