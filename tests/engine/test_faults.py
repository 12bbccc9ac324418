"""Faults: SIGTERM leaves last.ckpt and a non-zero exit; a run folder holds one training;
resuming keeps the settings history; checkpoint writes are atomic; run folders are unique."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from helpers import CONF, REPO
from omegaconf import OmegaConf

from posekit.config import register_resolvers
from posekit.engine.checkpoint_io import SIGTERM_EXIT_CODE, AtomicCheckpointIO
from posekit.models.checkpoint import read_checkpoint

SHORT = ["trainer.limit_train_batches=2", "trainer.limit_val_batches=1", "data.num_workers=0"]


def test_checkpoint_writes_beside_the_target_and_keep_the_old_file(tmp_path, monkeypatch):
    io_plugin = AtomicCheckpointIO()
    target = tmp_path / "checkpoints" / "last.ckpt"
    io_plugin.save_checkpoint({"step": torch.tensor(1)}, target)
    stale = target.parent / ".last.ckpt.abc123.tmp"  # what a kill -9 mid-write leaves
    stale.write_bytes(b"partial")
    renames = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (renames.append(Path(a)), real_replace(a, b)))
    io_plugin.save_checkpoint({"step": torch.tensor(2)}, target)
    assert renames[0].parent == target.parent  # written beside the target, not in TMPDIR
    assert not stale.exists()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space left"):
        io_plugin.save_checkpoint({"step": torch.tensor(3)}, target)
    assert read_checkpoint(target)["step"].item() == 2  # the previous file, whole
    assert sorted(p.name for p in target.parent.iterdir()) == ["last.ckpt"]


def test_default_run_folders_are_unique_per_process():
    register_resolvers()
    run_dir = yaml.safe_load((CONF / "hydra" / "default.yaml").read_text())["run"]["dir"]
    assert run_dir.endswith("_${pid:}")
    assert OmegaConf.create({"d": "${pid:}"}).d == os.getpid()


def train(run_dir: Path, *overrides: str, sigterm_after_checkpoint: bool = False,
          to_group: bool = False):
    """``train.py`` in ``run_dir``; SIGTERM once ``last.ckpt`` exists if asked, to the process
    alone or (``to_group``, as SLURM sends it) to its whole process group, workers included."""
    command = [sys.executable, str(REPO / "train.py"), f"hydra.run.dir={run_dir}", *SHORT,
               *overrides]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=to_group)
    killed_at = None
    if sigterm_after_checkpoint:
        last = run_dir / "checkpoints" / "last.ckpt"
        deadline = time.monotonic() + 300
        while not last.is_file() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.5)
        time.sleep(1.0)
        killed_at = time.time()
        if to_group:
            os.killpg(process.pid, signal.SIGTERM)
        else:
            process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=600)
    return process.returncode, output, killed_at


@pytest.mark.slow
def test_sigterm_then_refused_folder_then_resume_with_history(tmp_path):
    run_dir = tmp_path / "run"
    code, output, killed_at = train(
        run_dir, "trainer.max_epochs=100", sigterm_after_checkpoint=True
    )
    last = run_dir / "checkpoints" / "last.ckpt"
    assert code == SIGTERM_EXIT_CODE, output[-3000:]
    assert f"Resume with: python train.py ckpt_path=last hydra.run.dir={run_dir}" in output
    assert last.stat().st_mtime >= killed_at  # written at the SIGTERM, not only at an epoch end
    stopped = read_checkpoint(last)
    first_overrides = (run_dir / ".hydra" / "overrides.yaml").read_text()

    # a second training in the folder is refused and leaves the first run's files alone
    code, output, _ = train(run_dir, "trainer.max_epochs=100")
    assert code != 0 and "already holds another run's checkpoints" in output
    assert (run_dir / ".hydra" / "overrides.yaml").read_text() == first_overrides

    # resuming with a new learning rate warns and keeps the previous start's files
    epochs = stopped["epoch"] + 2
    code, output, _ = train(run_dir, "ckpt_path=last", f"trainer.max_epochs={epochs}",
                            "model.optimizer.lr=0.0005")
    assert code == 0, output[-3000:]
    assert "settings that differ" in output and "model.optimizer.lr: 0.001 -> 0.0005" in output
    assert (run_dir / ".hydra" / "history" / "0" / "overrides.yaml").read_text() == first_overrides
    assert "model.optimizer.lr=0.0005" in (run_dir / ".hydra" / "overrides.yaml").read_text()
    assert (run_dir / "metrics.json").is_file()


def test_a_second_training_in_a_folder_in_use_is_refused_with_the_holders_pid(tmp_path):
    """Two trainings started into one folder seconds apart: the second is refused at once (the
    first holds the folder's lock for its whole run), and the folder is free once it ends."""
    from posekit.engine.run_folder import RunFolderError, guard_run_folder

    run_dir = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; "
         "from posekit.engine.run_folder import lock_run_folder; "
         f"lock_run_folder(Path({str(run_dir)!r})); print('locked', flush=True); "
         "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        hydra = {"run": {"dir": str(run_dir)}, "output_subdir": ".hydra"}
        config = OmegaConf.create({"task_name": "train", "ckpt_path": None, "hydra": hydra})
        in_use = rf"in use by another training \(pid {holder.pid}\)"
        with pytest.raises(RunFolderError, match=in_use):
            guard_run_folder(config)
    finally:
        holder.communicate("", timeout=30)
    guard_run_folder(config)  # the first training ended: the folder is free
    assert (run_dir / ".train.lock").read_text().strip() == str(os.getpid())


@pytest.mark.slow
def test_sigterm_to_the_process_group_with_workers_stops_as_a_single_process_does(tmp_path):
    """SLURM signals every process of the job, data loader workers included."""
    run_dir = tmp_path / "run"
    code, output, killed_at = train(run_dir, "data.num_workers=2", "trainer.max_epochs=100",
                                    sigterm_after_checkpoint=True, to_group=True)
    assert code == SIGTERM_EXIT_CODE, output[-3000:]
    assert "killed by signal" not in output
    assert f"Resume with: python train.py ckpt_path=last hydra.run.dir={run_dir}" in output
    assert (run_dir / "checkpoints" / "last.ckpt").stat().st_mtime >= killed_at
