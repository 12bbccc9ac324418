"""Checkpoint files that are never left half-written, and a last checkpoint on SIGTERM.

Lightning's ``TorchCheckpointIO`` writes through fsspec's transaction, which puts the bytes in
a temporary file under TMPDIR and moves them: across file systems that move is a copy, so a
kill or a full disk can leave a truncated ``last.ckpt``. :class:`AtomicCheckpointIO` writes
beside the target and renames (:func:`posekit.core.io.write_atomic`): the previous file stays
until the new one is complete, and partial files are removed.

SLURM sends SIGTERM at a time limit or preemption; Lightning then stops with a ``SystemExit``
of code 0. :class:`SigtermCheckpoint` writes ``last.ckpt`` at that moment and
:func:`sigterm_exit` turns the stop into a non-zero exit that says how to resume.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

from posekit.core.io import write_atomic

log = logging.getLogger(__name__)

SIGTERM_EXIT_CODE = 143  # 128 + SIGTERM, what a shell reports for a process ended by SIGTERM


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` to memory, then :func:`~posekit.core.io.write_atomic` beside the target;
    leftovers of earlier interrupted writes of the same file are removed after a success."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        path = Path(path)
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        write_atomic(path, buffer.getvalue())
        for leftover in path.parent.glob(f".{path.name}.*.tmp"):  # from a kill -9 mid-write
            leftover.unlink(missing_ok=True)


class SigtermCheckpoint(L.Callback):
    """On SIGTERM, write ``<dirpath>/last.ckpt`` (atomically, through the trainer's checkpoint
    plugin) before Lightning stops, so that ``ckpt_path=last`` resumes from this step."""

    def __init__(self, dirpath: str | Path) -> None:
        self.path = Path(dirpath) / "last.ckpt"
        self.saved: Path | None = None

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        if not isinstance(exception, SIGTERMException) or trainer.state.fn != TrainerFn.FITTING:
            return
        trainer.save_checkpoint(self.path)  # the full training state (not weights only)
        self.saved = self.path
        log.warning(
            "SIGTERM at epoch %d, step %d: wrote %s", trainer.current_epoch, trainer.global_step,
            self.path,
        )


def sigterm_exit(output_dir: str | Path, saved: Path | None) -> SystemExit:
    """The exit (code 143) for a training stopped by SIGTERM, with the command that resumes."""
    if saved is not None:
        message = (
            f"training stopped by SIGTERM; {saved} holds the last step. Resume with: "
            f"python train.py ckpt_path=last hydra.run.dir={output_dir} (plus this run's "
            "overrides)"
        )
    else:
        message = "training stopped by SIGTERM before any training step; nothing to resume"
    log.error(message)
    return SystemExit(SIGTERM_EXIT_CODE)
