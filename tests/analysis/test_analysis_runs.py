"""The analysis package on real runs: rebuild, predict, reproduce metrics.json, compare."""

import json
import os

import pytest

from posekit.analysis import (
    compare_runs,
    default_run,
    evaluate_predictions,
    load_run,
    per_keypoint_table,
    predict_dataset,
    resolve_path,
)
from posekit.data.datamodule import DataLayoutError

pytestmark = pytest.mark.slow

CHECKED = ("val/PCK@0.05", "val/PCK@0.2", "val/PCK-AUC@0.5", "val/AP")


@pytest.mark.parametrize(("job", "outputs"), [
    ("0", {"simcc_x": (17, 192), "simcc_y": (17, 256)}),
    ("1", {"heatmaps": (17, 32, 24)}),
])
def test_predictions_reproduce_the_runs_metrics(trained_sweep, job, outputs):
    run = load_run(trained_sweep / job, num_workers=0)
    assert run.name == f"sweep/{job}" and run.checkpoint.name.startswith("best")
    predictions = predict_dataset(run.model, run.datamodule, keep_outputs=[5])
    assert predictions.keypoints.shape == (121, 17, 2)
    assert predictions.gt_keypoints.shape == (121, 17, 3)
    assert list(predictions.sample_idx) == list(range(121))
    saved = json.loads((trained_sweep / job / "metrics.json").read_text())
    metrics = evaluate_predictions(predictions, run.datamodule)
    for name in CHECKED:
        assert metrics[name] == pytest.approx(saved[name], abs=1e-6), name
    table = per_keypoint_table(predictions, run.spec)
    assert table.loc["all", "PCK@0.05"] == pytest.approx(saved["val/PCK@0.05"], abs=1e-6)
    sample = predictions.samples[5]
    assert {key: value.shape for key, value in sample.outputs.items()} == outputs
    assert sample.image.shape == (128, 96, 3)


def test_load_run_replaces_data_settings_and_says_what_is_wrong(trained_sweep, tmp_path):
    with pytest.raises(DataLayoutError, match="does not exist"):
        load_run(trained_sweep / "0", data_root=tmp_path / "elsewhere")
    with pytest.raises(KeyError, match="data.batch_sise is not in"):
        load_run(trained_sweep / "0", batch_sise=4)
    with pytest.raises(FileNotFoundError, match="no run folder or checkpoint"):
        load_run(tmp_path / "missing")


def test_the_newest_run_is_found_from_a_notebooks_folder(trained_sweep, tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    (repo / "conf").mkdir(parents=True)
    (repo / "train.py").touch()
    (repo / "notebooks").mkdir()
    (repo / "logs" / "train" / "runs").mkdir(parents=True)
    for job in ("0", "1"):
        (repo / "logs" / "train" / "runs" / f"run{job}").symlink_to(trained_sweep / job)
    os.utime(trained_sweep / "1" / "checkpoints" / "last.ckpt")  # job 1 is the newest
    monkeypatch.chdir(repo / "notebooks")
    assert default_run() == repo / "logs" / "train" / "runs" / "run1"
    assert resolve_path("logs/train/runs/run0") == repo / "logs" / "train" / "runs" / "run0"


def test_compare_runs_expands_a_sweep_and_recomputes_on_request(trained_sweep):
    comparison = compare_runs([trained_sweep])
    table = comparison.table
    assert list(table.index) == ["sweep/0", "sweep/1"] and comparison.curves is None
    assert list(table["model"]) == ["simcc", "heatmap"]
    assert list(table["overrides"]) == ["model=simcc", "model=heatmap"]
    assert set(table["source"]) == {"metrics.json"}
    for job in ("0", "1"):
        saved = json.loads((trained_sweep / job / "metrics.json").read_text())
        assert table.loc[f"sweep/{job}", "val/PCK@0.05"] == saved["val/PCK@0.05"]
    recomputed = compare_runs([trained_sweep / "1"], recompute=True, num_workers=0)
    assert recomputed.table.loc["sweep/1", "source"] == "recomputed"
    assert recomputed.table.loc["sweep/1", "val/PCK@0.05"] == pytest.approx(
        table.loc["sweep/1", "val/PCK@0.05"], abs=1e-6
    )
    assert recomputed.curves.loc[0.05, "sweep/1"] == pytest.approx(
        table.loc["sweep/1", "val/PCK@0.05"], abs=1e-6
    )
    assert len(recomputed.plot().axes[1].lines) == 1
