"""Sweeps: the value a sweeper optimises, and one table of a multirun's results.

``SweepSummary`` is a Hydra callback (registered in conf/hydra/default.yaml): at the end of a
multirun it reads each job folder's ``.hydra/overrides.yaml`` and ``metrics.json`` and writes
``summary.csv`` into the sweep folder (one row per job: its overrides, then its metrics), and
prints the columns that differ between jobs beside the metrics; jobs that differ only by their
seed are summarised by the mean and 95 % interval over the seeds (``seeds.csv``).
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from posekit.runs import comparison
from posekit.runs.folders import job_order
from posekit.runs.statistics import over_seeds, without_seed

log = logging.getLogger(__name__)


def objective_value(cfg: DictConfig, metrics: dict[str, Any]) -> float | None:
    """What ``train.py`` returns to a sweeper: ``metrics[cfg.optimized_metric]``.

    Without ``optimized_metric`` (plain runs and grid sweeps) the data set's main metric is
    returned when there is one, else ``None``. With it, a missing metric is an error that names
    the metrics there are: a sweeper must not optimise a value that was never measured. A
    non-finite metric (kept as a string in metrics.json) is returned as that float, which
    Optuna records as a failed trial.
    """
    name = cfg.get("optimized_metric")
    if name is None:
        value = metrics.get(cfg.data.get("monitor"))
        return None if value is None else float(value)
    if name not in metrics:
        raise KeyError(
            f"optimized_metric '{name}' was not measured by this run (did validation run? "
            f"trainer.limit_val_batches, check_val_every_n_epoch); it has {sorted(metrics)}"
        )
    return float(metrics[name])


def job_overrides(job_dir: Path) -> dict[str, str]:
    """``key -> value`` of a job's ``.hydra/overrides.yaml`` (``+`` / ``~`` prefixes kept)."""
    items = yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text()) or []
    overrides = {}
    for item in items:
        key, _, value = str(item).partition("=")
        overrides[key] = value
    return overrides


def job_metrics(job_dir: Path) -> dict[str, Any]:
    """A job's ``metrics.json``, or ``{}`` when it wrote none (it failed or is still running)."""
    path = job_dir / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else {}


@dataclass
class Job:
    """One job folder of a sweep: its name (the job number), overrides and metrics."""

    name: str
    overrides: dict[str, str]
    metrics: dict[str, Any]

    def row(self) -> dict[str, Any]:
        return {"job": self.name, **self.overrides, **self.metrics}


def collect_sweep(sweep_dir: Path) -> list[Job]:
    """The job folders of ``sweep_dir`` (those with ``.hydra/overrides.yaml``), by job number."""
    folders = sorted(
        (p.parent.parent for p in sweep_dir.glob("*/.hydra/overrides.yaml")), key=job_order
    )
    return [Job(f.name, job_overrides(f), job_metrics(f)) for f in folders]


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(key for row in rows for key in row))


def write_summary(jobs: list[Job], path: Path) -> Path:
    """One CSV row per job: ``job``, its overrides, its metrics (empty where a job lacks one)."""
    rows = [job.row() for job in jobs]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=_columns(rows), restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def format_table(jobs: list[Job], metric_prefix: str = "val/") -> str:
    """A plain-text table: the job, the overrides whose values differ between jobs, and the
    metrics whose names start with ``metric_prefix``."""
    overrides = _columns([job.overrides for job in jobs])
    varying = [k for k in overrides if len({job.overrides.get(k) for job in jobs}) > 1]
    metrics = [k for k in _columns([job.metrics for job in jobs]) if k.startswith(metric_prefix)]
    frame = pd.DataFrame([job.row() for job in jobs]).reindex(columns=["job", *varying, *metrics])
    return comparison.format_table(frame, index=False)


def seed_summary(jobs: list[Job], metric_prefix: str = "val/") -> pd.DataFrame | None:
    """Jobs whose overrides differ only by ``seed``: per setting, the number of seeds and each
    metric's mean and 95 % interval half-width; None when no setting has two seeds."""
    rows = [{"overrides": [f"{k}={v}" for k, v in job.overrides.items()], **job.metrics}
            for job in jobs]
    metrics = [k for k in _columns([job.metrics for job in jobs]) if k.startswith(metric_prefix)]
    return over_seeds(rows, lambda row: without_seed(row["overrides"]), metrics)


class SweepSummary(Callback):
    """Hydra callback: ``summary.csv`` in the sweep folder and a printed table, after a multirun.

    Args:
        filename: name of the CSV file written into ``hydra.sweep.dir``.
        metric_prefix: the printed table shows the metrics whose names start with it (the CSV
            has them all).
    """

    def __init__(self, filename: str = "summary.csv", metric_prefix: str = "val/") -> None:
        self.filename = filename
        self.metric_prefix = metric_prefix

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = collect_sweep(sweep_dir)
        if not jobs:
            log.warning(f"no job folders with .hydra/overrides.yaml in {sweep_dir}: no summary")
            return
        path = write_summary(jobs, sweep_dir / self.filename)
        print(f"\nSweep summary ({len(jobs)} jobs), written to {path}:")
        print(format_table(jobs, self.metric_prefix))
        seeds = seed_summary(jobs, self.metric_prefix)
        if seeds is not None:
            seeds.to_csv(sweep_dir / "seeds.csv")
            print(f"\nover seeds (mean and 95% t interval):\n{comparison.format_table(seeds)}")
