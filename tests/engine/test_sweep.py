"""Sweeps: grid multiruns, the Optuna sweeper, the summary table and the SLURM launcher config."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import yaml
from helpers import compose_config
from helpers.tiny_run import run_script
from hydra.utils import instantiate
from omegaconf import OmegaConf, open_dict

from posekit.config import compose
from posekit.engine.sweep import (
    collect_sweep,
    format_table,
    objective_value,
    write_summary,
)

FAST = [
    "debug=fast_dev_run",
    "model/backbone=resnet18_s8",
    "data.input_size=[48,64]",
    "data.batch_size=8",
    "data.val_batch_size=8",
]


def fake_job(sweep: Path, name: str, overrides: list[str], metrics: dict | None) -> None:
    (sweep / name / ".hydra").mkdir(parents=True)
    (sweep / name / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if metrics is not None:
        (sweep / name / "metrics.json").write_text(json.dumps(metrics))


def test_summary_rows_by_job_number_with_overrides_and_metrics(tmp_path):
    for number in (10, 2):
        fake_job(tmp_path, str(number), ["trainer=cpu", f"model.codec.split_ratio={number}"],
                 {"val/PCK@0.05": number / 100, "train/loss": 0.5})
    fake_job(tmp_path, "3", ["trainer=cpu", "model.codec.split_ratio=3"], None)  # failed job
    jobs = collect_sweep(tmp_path)
    assert [job.name for job in jobs] == ["2", "3", "10"]

    path = write_summary(jobs, tmp_path / "summary.csv")
    rows = list(csv.DictReader(path.open()))
    assert [row["model.codec.split_ratio"] for row in rows] == ["2", "3", "10"]
    assert rows[0]["val/PCK@0.05"] == "0.02" and rows[1]["val/PCK@0.05"] == ""

    table = format_table(jobs).splitlines()
    assert table[0].split() == ["job", "model.codec.split_ratio", "val/PCK@0.05"]  # varying only
    assert table[3].split() == ["10", "10", "0.1000"]


def test_objective_value_is_the_optimized_metric_or_a_clear_error(tmp_path):
    cfg = compose_config("train", [], tmp_path)
    metrics = {"val/PCK@0.05": 0.5, "val/AP": 0.25, "val/loss": "nan"}
    assert objective_value(cfg, metrics) == 0.5  # data.monitor without optimized_metric
    assert objective_value(cfg, {}) is None
    with open_dict(cfg):
        cfg.optimized_metric = "val/AP"
        assert objective_value(cfg, metrics) == 0.25
        cfg.optimized_metric = "val/loss"
        assert math.isnan(objective_value(cfg, metrics))  # Optuna records a failed trial
        cfg.optimized_metric = "val/PCKh"
    with pytest.raises(KeyError, match="val/PCKh.*val/AP"):
        objective_value(cfg, metrics)


@pytest.mark.slow
def test_grid_multirun_writes_job_folders_and_summary(tmp_path):
    """README: python train.py -m model.codec.split_ratio=1,2,3 (two values, fast_dev_run)."""
    result = run_script("train.py", "-m", "model.codec.split_ratio=1,2", *FAST,
                        f"hydra.sweep.dir={tmp_path}")
    for job, ratio in (("0", "1"), ("1", "2")):
        hydra_dir = tmp_path / job / ".hydra"
        assert f"model.codec.split_ratio={ratio}" in (hydra_dir / "overrides.yaml").read_text()
        assert (hydra_dir / "config.yaml").is_file()
        assert "val/PCK@0.05" in json.loads((tmp_path / job / "metrics.json").read_text())
    rows = list(csv.DictReader((tmp_path / "summary.csv").open()))
    assert [row["model.codec.split_ratio"] for row in rows] == ["1", "2"]
    assert all(float(row["val/PCK@0.05"]) >= 0 for row in rows)
    assert "Sweep summary (2 jobs)" in result.stdout and "model.codec.split_ratio" in result.stdout


@pytest.mark.slow
def test_optuna_search_runs_trials_and_reports_the_best(tmp_path):
    """README: python train.py hparams_search=sample_optuna (two trials, fast_dev_run)."""
    run_script("train.py", "hparams_search=sample_optuna", "hydra.sweeper.n_trials=2", *FAST,
               f"hydra.sweep.dir={tmp_path}")
    best = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert set(best["best_params"]) == {"model.optimizer.lr", "model.codec.split_ratio",
                                        "model.codec.sigma"}
    rows = list(csv.DictReader((tmp_path / "summary.csv").open()))
    assert len(rows) == 2
    assert best["best_value"] == pytest.approx(max(float(row["val/PCK@0.05"]) for row in rows))
    assert all(1e-4 <= float(row["model.optimizer.lr"]) <= 1e-2 for row in rows)


def test_slurm_launcher_config_follows_the_trainer(tmp_path):
    """README: python train.py -m hydra/launcher=slurm ... (composed, not submitted)."""
    overrides = ["hydra/launcher=slurm", "hydra.launcher.partition=gpu", "trainer=ddp",
                 "trainer.devices=4", "trainer.num_nodes=2", "experiment=hrnet_heatmap_coco",
                 "data.root=/data/coco", f"hydra.sweep.dir={tmp_path}"]
    cfg = compose("train", overrides, return_hydra_config=True)
    launcher = instantiate(cfg.hydra.launcher)  # the submitit plugin's SlurmLauncher
    params = launcher.params
    assert type(launcher).__name__ == "SlurmLauncher"
    assert params["tasks_per_node"] == params["gpus_per_node"] == 4  # one task per GPU
    assert params["nodes"] == 2 and params["partition"] == "gpu"
    assert params["submitit_folder"] == f"{tmp_path}/.submitit/%j"
    assert OmegaConf.select(cfg, "hydra.launcher.timeout_min") > 0
