"""Checkpoint files: read (weights only, once), write (atomically), and rebuild the model.

Every checkpoint posekit opens goes through :func:`read_checkpoint`, which refuses to run code:
``torch.load(weights_only=True)`` unpickles tensors, containers, numbers and strings only (numpy
arrays too, which published checkpoints carry in their metadata). A file that needs anything
else is refused with the name of what it asked for.
"""

from __future__ import annotations

import io
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import lightning as L
import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from posekit.core.io import write_atomic
from posekit.models.migrate import migrate_run_config
from posekit.models.pose_module import TopDownPoseModule
from posekit.models.trust import check_file_config, check_no_interpolation, impose_trust

CONFIG_KEY = "posekit_config"  # the resolved run config, saved in every posekit checkpoint

# plain data that published checkpoints pickle beside their tensors (mmpose's dataset_meta)
_NUMPY_GLOBALS: list[Any] = [
    np.ndarray,
    np.dtype,
    getattr(np, "_core", np).multiarray._reconstruct,
    *{type(np.dtype(name)) for name in ("float32", "float64", "int64", "int32", "bool", "uint8")},
    np.float64,
    np.float32,
    np.int64,
    np.int32,
]
if hasattr(np, "_core"):  # numpy 2 pickles the scalar constructor under numpy._core
    _NUMPY_GLOBALS.append(np._core.multiarray.scalar)


class CheckpointError(ValueError):
    """A checkpoint file is missing, damaged, of another kind, or would run code when loaded."""


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The content of a checkpoint file, loaded with ``weights_only=True`` on the CPU.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: empty, truncated or not a torch file, or it needs code to unpickle.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): the write was interrupted")
    try:
        with torch.serialization.safe_globals(_NUMPY_GLOBALS):
            content = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError,
            ValueError) as err:
        code = _forbidden_global(err)
        if code is not None:
            raise CheckpointError(
                f"checkpoint {path} was refused: loading it would run code ({code}). posekit "
                "never unpickles code from a checkpoint; if you trust the file, re-save its "
                "state_dict (tensors only) and load that."
            ) from None
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(err).__name__}: {_first_line(err)}): it is "
            "truncated, corrupted or not a PyTorch checkpoint. Re-copy it, or use another "
            "checkpoint of the run (checkpoints/last.ckpt, best_*.ckpt)."
        ) from None
    if not isinstance(content, Mapping):
        raise CheckpointError(
            f"checkpoint {path} holds a {type(content).__name__}, not a dict of tensors"
        )
    return dict(content)


def _first_line(err: BaseException) -> str:
    lines = [line for line in str(err).strip().splitlines() if "Weights only load" not in line]
    return (lines or [type(err).__name__])[-1].strip()[:300]


_GLOBAL_REFUSALS = (
    re.compile(r"Unsupported global: GLOBAL (\S+)"),  # torch < 2.7's wording
    re.compile(r"unsupported GLOBAL (\S+) whose module \S+ is blocked"),  # a blocked module
    re.compile(r"call reduce for unrecognized function (.+)$", re.M),
)


def _forbidden_global(err: BaseException) -> str | None:
    """The global a weights-only load refused (``GLOBAL module.name``), if that was the error,
    in any of torch's wordings."""
    text = str(err)
    for pattern in _GLOBAL_REFUSALS:
        found = pattern.search(text)
        if found:
            return f"GLOBAL {found.group(1).rstrip('.')}"
    return None


def run_config(
    checkpoint: Mapping[str, Any], path: str | Path, trusted_modules: Sequence[str] = ()
) -> DictConfig:
    """The resolved config a posekit checkpoint (read from ``path``) was trained with, in the
    current layout (see :mod:`posekit.models.migrate`), checked as data
    (:func:`~posekit.models.trust.check_file_config`): no interpolation anywhere, and its
    ``model`` builds only posekit's classes and those of ``trusted_modules``.

    Raises:
        CheckpointError: no saved config.
        UntrustedConfigError: the config names other code or holds an interpolation.
    """
    if CONFIG_KEY not in checkpoint or not isinstance(checkpoint[CONFIG_KEY], Mapping):
        raise CheckpointError(
            f"{path} has no {CONFIG_KEY}: it was not written by posekit's train.py. Published "
            "weights are converted with scripts/import_checkpoint.py first."
        )
    config = migrate_run_config(checkpoint[CONFIG_KEY])
    check_no_interpolation(config, f"checkpoint {path}")
    check_file_config(config.get("model"), f"checkpoint {path}", trusted_modules, "model")
    impose_trust(config, trusted_modules)
    return OmegaConf.create(config)


def load_run_config(path: str | Path, trusted_modules: Sequence[str] = ()) -> DictConfig:
    """The resolved config of the posekit checkpoint at ``path`` (see :func:`run_config`)."""
    return run_config(read_checkpoint(path), path, trusted_modules)


def build_model(cfg: DictConfig) -> TopDownPoseModule:
    """The LightningModule of a composed config, carrying that config for its checkpoints."""
    model: TopDownPoseModule = instantiate(cfg.model)
    model.run_config = OmegaConf.to_container(cfg, resolve=True)
    return model


def load_model(
    path: str | Path, trusted_modules: Sequence[str] = (), **overrides: Any
) -> TopDownPoseModule:
    """Rebuild the LightningModule of a checkpoint from its saved config and load its weights
    (the file is read once). The config builds only posekit's classes and those defined in
    ``trusted_modules`` (``["mypkg.backbones"]`` for a custom backbone; see :func:`run_config`).
    ``overrides`` replace model config values (``flip_test=False``)."""
    checkpoint = read_checkpoint(path)
    cfg = run_config(checkpoint, path, trusted_modules)
    with open_dict(cfg):
        # the checkpoint holds the weights: no ImageNet or foreign backbone weights to fetch
        # (keys set only where the backbone's config has them: user backbones may not)
        for key, value in (("pretrained", False), ("checkpoint", None)):
            if key in cfg.model.backbone:
                cfg.model.backbone[key] = value
        for key, value in overrides.items():
            cfg.model[key] = value
    model = build_model(cfg)
    state = checkpoint.get("state_dict")
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{path} has no state_dict")
    model.load_state_dict(state)
    return model.eval()


def save_checkpoint(model: TopDownPoseModule, path: str | Path, **extra: Any) -> Path:
    """Write the weights and run config of ``model`` as a checkpoint that :func:`load_model` and
    ``eval.py ckpt_path=...`` read (not resumable: no optimizer or loop state); ``extra``
    entries are stored beside them. Written beside ``path`` and renamed into place."""
    if model.run_config is None:
        raise ValueError("the model has no run_config: build it with build_model(cfg)")
    checkpoint = {
        "state_dict": model.state_dict(),
        CONFIG_KEY: model.run_config,
        "pytorch-lightning_version": L.__version__,
        **extra,
    }
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    return write_atomic(path, buffer.getvalue())
