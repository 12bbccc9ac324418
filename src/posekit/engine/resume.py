"""Resuming a stopped run: which checkpoint ``ckpt_path`` names, and the random state.

``ckpt_path=last`` means the ``last.ckpt`` of this run's checkpoint folder, so a run is resumed
in its own folder: ``python train.py ckpt_path=last hydra.run.dir=<run folder>`` (with the
run's other overrides). A missing checkpoint is an error rather than a fresh start: a mistyped
folder must not silently train from scratch.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.trainer.states import TrainerFn
from omegaconf import DictConfig, OmegaConf

RNG_KEY = "posekit_rng_states"


def resolve_ckpt_path(cfg: DictConfig) -> str | None:
    """The checkpoint file ``cfg.ckpt_path`` names: ``None`` (start afresh), ``last`` (this run
    folder's ``<last_checkpoint.dirpath>/last.ckpt``) or a path. Raises FileNotFoundError
    when that file does not exist."""
    ckpt_path = cfg.get("ckpt_path")
    if ckpt_path is None:
        return None
    if str(ckpt_path) == "last":
        dirpath = OmegaConf.select(cfg, "callbacks.last_checkpoint.dirpath")
        if dirpath is None:
            raise ValueError("ckpt_path=last needs the last_checkpoint callback (in callbacks)")
        path = Path(dirpath) / "last.ckpt"
        if not path.is_file():
            raise FileNotFoundError(
                f"ckpt_path=last resumes {path}, which does not exist. Resume a run in its own "
                "folder: python train.py ckpt_path=last hydra.run.dir=<run folder> (plus the "
                "run's overrides), or pass ckpt_path=<file.ckpt>."
            )
        return str(path)
    path = Path(str(ckpt_path))
    if not path.is_file():
        raise FileNotFoundError(f"ckpt_path={ckpt_path}: no such checkpoint file")
    return str(path)


def collect_rng_states() -> dict[str, Any]:
    """The global random states of python, numpy and torch (CPU and every CUDA device), as
    tensors, tuples and numbers (what ``torch.load(weights_only=True)`` reads)."""
    kind, keys, position, has_gauss, cached_gauss = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, cached_gauss),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore what :func:`collect_rng_states` returned."""
    random.setstate(states["python"])
    kind, keys, position, has_gauss, cached_gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached_gauss))
    torch.set_rng_state(states["torch"])
    if states["cuda"] and len(states["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(states["cuda"])


class RandomStateCheckpoint(L.Callback):
    """Saves the global random states in each checkpoint and restores them when ``fit`` resumes.

    Lightning saves the model, optimizer, scheduler and loop states, not the random generators,
    so a resumed run would draw other shuffles and augmentations than the uninterrupted run.
    With this callback, ``seed`` and ``data.num_workers=0`` the resumed run repeats the
    uninterrupted one exactly (``trainer.deterministic=true`` for the kernels). With workers,
    their generators live in the worker processes and are not saved.
    """

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint[RNG_KEY] = collect_rng_states()

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if trainer.state.fn == TrainerFn.FITTING and RNG_KEY in checkpoint:
            set_rng_states(checkpoint[RNG_KEY])
