"""scripts/check_export.py: an exported model against eval.py's keypoints, drift per keypoint."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.tiny_models import load_script, save_tiny_checkpoint
from hydra.errors import ConfigCompositionException

from posekit.analysis.export_check import export_drift
from posekit.analysis.loading import load_run
from posekit.deploy.export import export
from posekit.models.checkpoint import load_model


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "model.ckpt", head="heatmap")


@pytest.fixture(scope="module")
def check_export():
    return load_script("check_export")


def test_a_faithful_export_has_no_drift(checkpoint, check_export, tmp_path, capsys):
    """The graph with flip test and decoding, as the run evaluates: the same keypoints."""
    path = tmp_path / "model.pt"
    export(load_model(checkpoint), path, format="torchscript", with_decode=True, flip_test=True)
    drift = check_export.main([f"exported={path}", f"ckpt_path={checkpoint}", "samples=6",
                               "data.num_workers=0"])
    assert drift < 1e-3
    printed = capsys.readouterr().out
    assert "6 people" in printed and "left_ankle" in printed and "within the tolerance" in printed


def test_raw_outputs_are_decoded_by_the_runs_codec(checkpoint, tmp_path):
    path = tmp_path / "raw.pt"
    export(load_model(checkpoint), path, format="torchscript", flip_test=True)
    run = load_run(checkpoint, num_workers=0)
    drift = export_drift(run, path, "torchscript", first=4)
    assert drift.distances.shape == (4, 17) and drift.max_px < 1e-3
    assert list(drift.table.columns) == ["mean px", "max px"]


def test_drift_is_reported_per_keypoint_and_fails_the_check(checkpoint, check_export, tmp_path,
                                                            capsys):
    """An export without the flip test the run evaluates with: its keypoints move; the table's
    figures are those of the distances, and the script exits with 1."""
    path = tmp_path / "noflip.pt"
    export(load_model(checkpoint), path, format="torchscript", with_decode=True)
    run = load_run(checkpoint, num_workers=0)
    drift = export_drift(run, path, "torchscript", first=5)
    assert drift.max_px > 0.5
    reference = np.stack([run.datamodule.val_set.records[i].bbox for i in range(5)])
    assert drift.keypoints.shape == (5, 17, 2) and reference.shape == (5, 4)
    np.testing.assert_allclose(drift.table["max px"].to_numpy(), drift.distances.max(0))
    np.testing.assert_allclose(drift.table["mean px"].to_numpy(), drift.distances.mean(0))
    with pytest.raises(SystemExit) as stop:
        check_export.main([f"exported={path}", f"ckpt_path={checkpoint}", "samples=5",
                           "data.num_workers=0"])
    assert stop.value.code == 1 and "ABOVE the tolerance" in capsys.readouterr().out


def test_bad_override_is_named(checkpoint, check_export, tmp_path):
    given = [f"exported={tmp_path / 'm.onnx'}", f"ckpt_path={checkpoint}"]
    with pytest.raises(ConfigCompositionException, match=r"Did you mean data.num_workers=0\?"):
        check_export.main([*given, "data.num_wokers=0"])
    # a key of no run's data config: refused (exit 1) naming it and the keys there are
    with pytest.raises(SystemExit, match=r"check_export: \"?data.nonsense is not in the run's "
                                         r"data config \(\[.*'val_ann'"):
        check_export.main([*given, "+data.nonsense=1"])
