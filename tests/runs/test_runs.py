"""Finding run and sweep folders, their best checkpoints, names and descriptions (fake folders)."""

import os
from pathlib import Path

import pytest
import torch
import yaml

from posekit.runs.comparison import (
    comparison_frame,
    distinct_overrides,
    format_table,
    write_comparison,
)
from posekit.runs.folders import (
    best_checkpoint,
    checkpoint_labels,
    describe_run,
    expand_checkpoints,
    expand_runs,
    newest_run,
    run_labels,
)


def make_run(folder: Path, checkpoints=("best_epoch003.ckpt", "last.ckpt"), overrides=()) -> Path:
    (folder / "checkpoints").mkdir(parents=True)
    for name in checkpoints:
        torch.save({"state_dict": {}}, folder / "checkpoints" / name)
    (folder / ".hydra").mkdir()
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))
    return folder


def test_a_sweep_folder_expands_to_its_jobs_in_job_order(tmp_path):
    for job in ("10", "2", "0"):
        make_run(tmp_path / "sweep" / job)
    (tmp_path / "sweep" / "notes").mkdir()  # not a run: ignored
    assert [p.name for p in expand_runs(tmp_path / "sweep")] == ["0", "2", "10"]
    assert expand_checkpoints(tmp_path / "sweep") == [
        tmp_path / "sweep" / job / "checkpoints" / "best_epoch003.ckpt" for job in ("0", "2", "10")
    ]


def test_checkpoints_run_folders_and_sweeps_mix(tmp_path):
    run = make_run(tmp_path / "run")
    last = run / "checkpoints" / "last.ckpt"
    assert expand_runs([last, run]) == [run, run]
    assert expand_checkpoints([last, run]) == [last, run / "checkpoints" / "best_epoch003.ckpt"]
    with pytest.raises(FileNotFoundError, match="neither a checkpoint"):
        expand_checkpoints([tmp_path / "missing"])


def test_best_checkpoint_falls_back_to_last_and_reads_the_recorded_best(tmp_path):
    only_last = make_run(tmp_path / "a", checkpoints=("last.ckpt",))
    assert best_checkpoint(only_last).name == "last.ckpt"
    several = make_run(tmp_path / "b", checkpoints=("best_epoch001.ckpt", "best_epoch007.ckpt"))
    with pytest.raises(ValueError, match="several best checkpoints"):
        best_checkpoint(several)
    state = {"best_model_path": "/elsewhere/checkpoints/best_epoch001.ckpt"}
    torch.save({"callbacks": {"ModelCheckpoint{'monitor': 'val/AP'}": state}},
               several / "checkpoints" / "last.ckpt")
    assert best_checkpoint(several).name == "best_epoch001.ckpt"
    with pytest.raises(FileNotFoundError, match="no checkpoints"):
        best_checkpoint(tmp_path)


def test_newest_run_is_the_one_with_the_latest_checkpoint(tmp_path):
    old, new = make_run(tmp_path / "runs" / "b_old"), make_run(tmp_path / "runs" / "a_new")
    os.utime(old / "checkpoints" / "last.ckpt", (1e9, 1e9))
    os.utime(old / "checkpoints" / "best_epoch003.ckpt", (1e9, 1e9))
    assert newest_run(tmp_path / "runs") == new
    with pytest.raises(FileNotFoundError, match="train a model first"):
        newest_run(tmp_path / "nothing")


def test_labels_are_short_unique_and_keep_the_sweep_name(tmp_path):
    assert run_labels([tmp_path / "x" / "r1", tmp_path / "y" / "r2"]) == ["r1", "r2"]
    assert run_labels([tmp_path / "x" / "r1", tmp_path / "y" / "r1"]) == ["x/r1", "y/r1"]
    assert run_labels([tmp_path / "sweep" / "0"]) == ["sweep/0"]
    run = tmp_path / "run" / "checkpoints"
    assert checkpoint_labels([run / "best.ckpt", run / "last.ckpt", tmp_path / "loose.ckpt"]) == [
        "run:best", "run:last", "loose"
    ]


def test_describe_run_reads_the_hydra_files(tmp_path):
    run = make_run(tmp_path / "run", overrides=["model=heatmap", "seed=1"])
    (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump({
        "data": {"input_size": [96, 128], "root": "${paths.data_dir}/x"},
        "model": {"head": {"_target_": "posekit.models.heads.HeatmapHead"},
                  "backbone": {"name": "resnet18", "out_stride": 4}},
    }))
    (run / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump(
        {"hydra": {"runtime": {"choices": {"experiment": None, "model": "heatmap"}}}}
    ))
    assert describe_run(run) == {
        "experiment": None, "model": "heatmap", "head": "HeatmapHead",
        "backbone": "resnet18/s4", "input (WxH)": "96x128",
        "overrides": ["model=heatmap", "seed=1"],
    }


def test_comparison_frame_orders_columns_and_keeps_only_differing_overrides(tmp_path):
    rows = [
        {"run": "a", "model": "simcc", "head": None, "overrides": ["model=simcc", "seed=1"],
         "checkpoint": "a.ckpt", "val/PCK@0.2": 0.5, "val/AP": 0.25},
        {"run": "b", "model": "heatmap", "head": None, "overrides": ["model=heatmap", "seed=1"],
         "checkpoint": "b.ckpt", "val/PCK@0.2": 0.75, "val/AP": 0.5},
    ]
    frame = comparison_frame(rows)
    assert list(frame.columns) == ["model", "overrides", "checkpoint", "val/AP", "val/PCK@0.2"]
    assert list(frame["overrides"]) == ["model=simcc", "model=heatmap"]
    text = format_table(frame)
    assert "checkpoint" not in text and "0.7500" in text
    written = write_comparison(frame, tmp_path).read_text().splitlines()
    assert written[0] == "run,model,overrides,checkpoint,val/AP,val/PCK@0.2"
    assert written[2] == "b,heatmap,model=heatmap,b.ckpt,0.5,0.75"
    assert distinct_overrides([["x=1"]]) == ["x=1"]
