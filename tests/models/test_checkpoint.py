"""Checkpoint files: read with weights only, refused with the file named when damaged or when
they would run code, written atomically, and posekit 0.1 checkpoints still loading."""

from __future__ import annotations

import pathlib

import pytest
import torch
from helpers.tiny_models import save_tiny_checkpoint

from posekit import analysis as pa
from posekit.metrics import CocoKeypointAP, PCKMetric
from posekit.models.checkpoint import CheckpointError, load_model, read_checkpoint


class Payload:
    """A pickle that touches a file when unpickled: what a crafted checkpoint could do."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "crafted.ckpt"
    torch.save({"state_dict": {}, "extra": Payload(marker)}, path)
    with pytest.raises(CheckpointError, match=r"crafted.ckpt was refused: .*never unpickles code"):
        read_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all\n", "truncated"])
def test_damaged_files_are_named(tmp_path, content):
    path = tmp_path / "bad.ckpt"
    if content == "truncated":
        save_tiny_checkpoint(path)
        path.write_bytes(path.read_bytes()[:1000])
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=r"bad.ckpt (is empty|cannot be read)"):
        read_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="missing.ckpt"):
        read_checkpoint(tmp_path / "missing.ckpt")


def test_saving_is_atomic_and_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    path = save_tiny_checkpoint(tmp_path / "model.ckpt")
    before = path.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        save_tiny_checkpoint(path, seed=1)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ckpt"]  # no partial file left


def as_version_0_1(config: dict) -> dict:
    """A current run config written as posekit 0.1 saved it."""
    text = repr(config).replace("posekit.core.spec.", "posekit.data.spec.")
    old = eval(text)  # a dict of plain values  # noqa: S307
    model, data = old["model"], old["data"]
    for key in ("neck", "aux_heads", "aux_codecs"):
        model.pop(key)
    model["gallery_size"] = 8
    data.pop("metrics"), data.pop("aux_codecs")
    data.update(pck_thresholds=[0.05, 0.2], use_area=True)
    return old


def test_a_version_0_1_checkpoint_still_loads_and_builds_its_metrics(tmp_path):
    path = save_tiny_checkpoint(tmp_path / "model.ckpt")
    checkpoint = read_checkpoint(path)
    checkpoint["posekit_config"] = as_version_0_1(checkpoint["posekit_config"])
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)
    model = load_model(old)
    torch.testing.assert_close(model.state_dict(), load_model(path).state_dict())
    run = pa.load_run(old)
    metrics = run.datamodule.build_metrics()
    assert [type(m) for m in metrics] == [PCKMetric, CocoKeypointAP]
    assert metrics[0].thresholds == (0.05, 0.2)
    assert str(metrics[1].ann_file).endswith("data/sample/annotations/val.json")


class SystemCall:
    """A pickle that calls os.system: torch names its module blocked rather than unsupported."""

    def __reduce__(self):
        import os

        return (os.system, ("true",))


def test_the_refusal_names_the_global_the_file_asked_for(tmp_path):
    path = tmp_path / "crafted.ckpt"
    torch.save({"state_dict": {}, "extra": SystemCall()}, path)
    with pytest.raises(CheckpointError, match=r"crafted.ckpt was refused: loading it would run "
                                              r"code \(GLOBAL (posix|nt|os)\.system\)"):
        read_checkpoint(path)
