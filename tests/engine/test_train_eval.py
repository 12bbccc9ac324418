"""End to end through the entry points: `python train.py` on the sample, then `python eval.py`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

from posekit.engine.results import score_results

pytestmark = pytest.mark.slow


def run(script: str, *overrides: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, str(REPO / script), *overrides],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory) -> Path:
    """The default training on the sample, cut to 2 epochs of 3 batches."""
    run_dir = tmp_path_factory.mktemp("train_run")
    run(
        "train.py",
        f"hydra.run.dir={run_dir}",
        "trainer.max_epochs=2",
        "trainer.limit_train_batches=3",
        "data.num_workers=0",
    )
    return run_dir


def test_train_leaves_metrics_checkpoints_config_and_picture(sample_run):
    metrics = json.loads((sample_run / "metrics.json").read_text())
    for name in ("val/PCK@0.05", "val/PCK@0.1", "val/PCK@0.2", "val/AP", "val/AR", "train/loss"):
        assert isinstance(metrics[name], float), name
    assert 0.0 <= metrics["val/PCK@0.05"] <= metrics["val/PCK@0.1"] <= metrics["val/PCK@0.2"] <= 1.0
    checkpoints = sorted(p.name for p in (sample_run / "checkpoints").glob("*.ckpt"))
    assert "last.ckpt" in checkpoints and any(name.startswith("best_epoch") for name in checkpoints)
    assert (sample_run / ".hydra" / "config.yaml").is_file()
    assert (sample_run / "val_predictions.png").stat().st_size > 1000


def test_eval_reproduces_the_best_checkpoint_metrics(sample_run, tmp_path):
    best = next((sample_run / "checkpoints").glob("best_epoch*.ckpt"))
    result = run("eval.py", f"ckpt_path={best}", f"hydra.run.dir={tmp_path}", "data.num_workers=0")
    evaluated = json.loads((tmp_path / "metrics.json").read_text())
    trained = json.loads((sample_run / "metrics.json").read_text())
    assert evaluated["val/boxes"] == trained["val/boxes"] == "gt" and "val/boxes" in result.stdout
    predictions = json.loads((tmp_path / "predictions.json").read_text())  # COCO results format
    assert len(predictions) == 121 and len(predictions[0]["keypoints"]) == 3 * 17
    assert set(predictions[0]) == {"image_id", "category_id", "keypoints", "score"}
    rescored = score_results("sample", tmp_path / "predictions.json",
                             annotations=REPO / "data" / "sample" / "annotations" / "val.json")
    assert rescored["AP"] == pytest.approx(evaluated["val/AP"], abs=1e-6)
    for name in ("val/PCK@0.05", "val/PCK@0.2", "val/AP"):
        assert evaluated[name] == pytest.approx(trained[name], abs=1e-6), name
        assert name in result.stdout
    # without flip test the numbers change: the flag reaches the model
    run("eval.py", f"ckpt_path={best}", f"hydra.run.dir={tmp_path / 'noflip'}", "flip_test=false",
        "data.num_workers=0")
    unflipped = json.loads((tmp_path / "noflip" / "metrics.json").read_text())
    assert unflipped["val/PCK-AUC@0.5"] != pytest.approx(evaluated["val/PCK-AUC@0.5"], abs=1e-9)


def test_mpii_experiment_runs_at_full_size(fixtures_dir, mpii_root, tmp_path):
    """The command of the foundation issue's 'done when', on the MPII fixture."""
    run(
        "train.py",
        "experiment=hrnet_simcc_mpii",
        f"data.root={mpii_root}",
        "model.backbone.pretrained=false",
        "trainer.fast_dev_run=true",
        "data.num_workers=0",
        f"hydra.run.dir={tmp_path}",
    )


def test_missing_data_root_fails_at_once_with_the_layout(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "train.py"), "experiment=hrnet_simcc_mpii",
         f"data.root={tmp_path / 'missing'}", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode != 0
    assert "mpii_gt_val.mat" in result.stderr and "does not exist" in result.stderr


def test_pretrained_weights_unavailable_is_explained(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = subprocess.run(
        [sys.executable, str(REPO / "train.py"), "model/backbone=resnet18_s8",
         "model.backbone.pretrained=true", "debug=fast_dev_run", f"hydra.run.dir={tmp_path}"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**__import__("os").environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")},
    )
    assert result.returncode != 0
    assert "model.backbone.pretrained=false" in result.stderr
