"""`python eval.py` over several checkpoints: a sweep folder, a list, a run folder.

The configs are composed as `python eval.py ckpt_path=...` composes them, and go through the
function eval.py calls (tests/test_train_eval.py runs eval.py itself).
"""

import json

import pandas as pd
import pytest
from helpers import compose_config

from posekit.engine.evaluate_many import evaluate_all, given_paths

pytestmark = pytest.mark.slow

CHECKED = ("val/PCK@0.05", "val/PCK-AUC@0.5", "val/AP")


def trained(sweep, job: str) -> dict:
    return json.loads((sweep / job / "metrics.json").read_text())


def test_a_sweep_folder_is_evaluated_job_by_job_into_one_table(trained_sweep, tmp_path, capsys):
    # `python eval.py ckpt_path=<sweep folder>`: eval.py calls evaluate_all with this config
    cfg = compose_config("eval", [f"ckpt_path={trained_sweep}", "data.num_workers=0"], tmp_path)
    evaluate_all(cfg)
    printed = capsys.readouterr().out
    assert "2 checkpoints:" in printed and "sweep/1" in printed
    table = pd.read_csv(tmp_path / "comparison.csv", index_col="run")
    assert list(table.index) == ["sweep/0", "sweep/1"]
    assert list(table["head"]) == ["SimCCHead", "HeatmapHead"]
    best = str(trained_sweep / "1" / "checkpoints" / "best")
    assert table.loc["sweep/1", "checkpoint"].startswith(best)
    for job in ("0", "1"):
        evaluated = json.loads((tmp_path / f"sweep_{job}" / "metrics.json").read_text())
        for name in CHECKED:
            assert evaluated[name] == pytest.approx(trained(trained_sweep, job)[name], abs=1e-6)
            assert table.loc[f"sweep/{job}", name] == pytest.approx(evaluated[name], abs=1e-6)
    assert not (tmp_path / "metrics.json").exists()


def test_a_list_mixes_checkpoints_and_run_folders(trained_sweep, tmp_path):
    last = trained_sweep / "0" / "checkpoints" / "last.ckpt"
    cfg = compose_config(
        "eval",
        [f"ckpt_path=[{last},{trained_sweep / '1'}]", "data.num_workers=0",
         "trainer.limit_val_batches=1"],  # 64 of the 121 people: only the wiring is checked here
        tmp_path,
    )
    assert given_paths(cfg.ckpt_path) == [str(last), str(trained_sweep / "1")]
    results = evaluate_all(cfg)
    assert list(results) == ["sweep/0", "sweep/1"]
    table = pd.read_csv(tmp_path / "comparison.csv", index_col="run")
    assert table.loc["sweep/0", "checkpoint"] == str(last)
    for job in ("0", "1"):
        evaluated = json.loads((tmp_path / f"sweep_{job}" / "metrics.json").read_text())
        assert evaluated["val/PCK@0.05"] == results[f"sweep/{job}"]["val/PCK@0.05"]


def test_a_run_folder_is_its_best_checkpoint_evaluated_alone(trained_sweep, tmp_path):
    overrides = [f"ckpt_path={trained_sweep / '0'}", "data.num_workers=0"]
    cfg = compose_config("eval", overrides, tmp_path)
    metrics = evaluate_all(cfg)
    expected = trained(trained_sweep, "0")["val/PCK@0.05"]
    assert metrics["val/PCK@0.05"] == pytest.approx(expected, abs=1e-6)
    assert json.loads((tmp_path / "metrics.json").read_text())["val/AP"] == metrics["val/AP"]
    assert not (tmp_path / "comparison.csv").exists()
