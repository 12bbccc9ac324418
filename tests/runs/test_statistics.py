"""Intervals over seeds and the paired bootstrap over people; the eval.py and sweep reports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import REPO, compose_config
from scipy import stats

from posekit.engine.evaluate_many import report_noise
from posekit.engine.sweep import Job, seed_summary
from posekit.runs.statistics import (
    over_seeds,
    paired_bootstrap,
    seed_interval,
    without_seed,
)

SAMPLE_VAL = REPO / "data" / "sample" / "annotations" / "val.json"


def test_the_seed_interval_is_students_t_interval_of_the_mean():
    values = [0.756, 0.706, 0.731]
    mean, half = seed_interval(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values),
                                 scale=stats.sem(values))
    assert mean == pytest.approx((low + high) / 2) and half == pytest.approx((high - low) / 2)
    with pytest.raises(ValueError, match="at least 2"):
        seed_interval([0.7])


def test_runs_differing_only_by_seed_are_pooled():
    rows = [{"overrides": ["model=simcc", "seed=1"], "val/AP": 0.70},
            {"overrides": ["model=simcc", "seed=2"], "val/AP": 0.76},
            {"overrides": ["model=heatmap", "seed=1"], "val/AP": 0.60}]
    table = over_seeds(rows, lambda row: without_seed(row["overrides"]), ["val/AP"])
    assert list(table.index) == ["model=simcc"] and table.loc["model=simcc", "seeds"] == 2
    assert table.loc["model=simcc", "val/AP"] == pytest.approx(0.73)
    # n = 2: t(0.975, 1) = 12.706, sd / sqrt(2) = 0.0424 / 1.414 = 0.03: half-width 0.3812
    assert table.loc["model=simcc", "val/AP ±95%"] == pytest.approx(12.7062 * 0.03, rel=1e-4)
    assert over_seeds(rows[1:], lambda row: without_seed(row["overrides"]), ["val/AP"]) is None


def test_the_sweep_summary_pools_seeds():
    jobs = [Job("0", {"seed": "1"}, {"val/AP": 0.7}), Job("1", {"seed": "2"}, {"val/AP": 0.8})]
    table = seed_summary(jobs)
    assert list(table.index) == ["(defaults)"] and table.loc["(defaults)", "seeds"] == 2


def test_the_paired_bootstrap_finds_a_shift_and_calls_zero_mean_noise_noise():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.3, 0.9, 400)
    shifted = paired_bootstrap(a, a + 0.05)
    assert shifted.mean == pytest.approx(0.05) and shifted.low == pytest.approx(0.05)
    assert not shifted.inside_noise and "beyond the noise" in shifted.describe()
    noise = rng.normal(0.0, 0.1, 400)
    noisy = paired_bootstrap(a, a + noise - noise.mean())  # mean difference exactly 0
    assert noisy.inside_noise
    # the percentile interval is close to the normal one for 400 people
    half = 1.96 * noise.std(ddof=1) / np.sqrt(400)
    assert noisy.low == pytest.approx(-half, abs=0.003)
    assert noisy.high == pytest.approx(half, abs=0.003)


def predictions_file(folder: Path, shift: float) -> None:
    """The sample's validation truth as predictions, every keypoint moved by ``shift`` px."""
    truth = json.loads(SAMPLE_VAL.read_text())
    results = []
    for person in truth["annotations"]:
        keypoints = np.array(person["keypoints"], dtype=float).reshape(-1, 3)
        keypoints[:, :2] += shift
        keypoints[:, 2] = 1.0
        results.append({"image_id": person["image_id"], "category_id": 1,
                        "keypoints": keypoints.ravel().tolist(), "score": 1.0})
    folder.mkdir(parents=True)
    (folder / "predictions.json").write_text(json.dumps(results))


def test_eval_comparisons_report_seeds_and_the_paired_bootstrap(tmp_path, capsys):
    cfg = compose_config("eval", ["ckpt_path=x.ckpt"], tmp_path)
    for name, shift in (("a", 0.0), ("b", 0.0), ("c", 3.0)):
        predictions_file(tmp_path / name, shift)
    rows = [{"run": "a", "model": "simcc", "overrides": "seed=1", "val/AP": 1.0},
            {"run": "b", "model": "simcc", "overrides": "seed=2", "val/AP": 0.9},
            {"run": "c", "model": "heatmap", "overrides": "seed=1", "val/AP": 0.5}]
    report_noise(cfg, rows, tmp_path)
    printed = capsys.readouterr().out
    seeds = pd.read_csv(tmp_path / "seeds.csv", index_col="setting")
    assert list(seeds.index) == ["simcc (defaults)"]
    assert seeds["val/AP"].item() == pytest.approx(0.95)
    paired = pd.read_csv(tmp_path / "paired_bootstrap.csv", index_col="run")
    assert paired.loc["b", "mean OKS difference"] == 0.0 and paired.loc["b", "inside the noise"]
    assert paired.loc["c", "high"] < 0 and not paired.loc["c", "inside the noise"]
    assert paired.loc["c", "people"] == 121  # every annotated person of the sample, paired
    assert "c - a, mean OKS per person: -" in printed and "beyond the noise" in printed
