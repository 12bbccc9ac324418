"""Rebuild a trained run for analysis: its model, its resolved config and its data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from posekit.core.spec import KeypointSpec, check_same_keypoints
from posekit.data.datamodule import DataLayoutError, TopDownDataModule
from posekit.data.saved_config import rebase_data_config
from posekit.models.checkpoint import load_model
from posekit.models.pose_module import TopDownPoseModule
from posekit.models.trust import check_file_config
from posekit.runs.folders import (
    best_checkpoint,
    newest_run,
    run_dir_of_checkpoint,
    run_labels,
)

RUNS_SUBDIR = Path("logs") / "train" / "runs"


@dataclass
class Run:
    """A trained run rebuilt from one of its checkpoints."""

    name: str
    run_dir: Path | None  # None for a checkpoint outside a run folder
    checkpoint: Path
    model: TopDownPoseModule  # in eval mode, on the CPU
    config: DictConfig  # the resolved config the run was trained with (data overrides applied)
    datamodule: TopDownDataModule  # not set up yet

    @property
    def spec(self) -> KeypointSpec:
        return self.model.spec


def find_repo_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the working directory) holding
    ``train.py`` and ``conf/``, so that a notebook in ``notebooks/`` finds ``logs/``; else
    ``start`` itself."""
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "train.py").is_file() and (folder / "conf").is_dir():
            return folder
    return start


def resolve_path(path: str | Path) -> Path:
    """``path`` as given when absolute or found from the working directory, else relative to
    the repository (a notebook in ``notebooks/`` can name ``logs/train/runs/...``)."""
    path = Path(path)
    if path.is_absolute() or path.exists():
        return path
    return find_repo_root() / path


def default_run() -> Path:
    """The newest run under ``<repository>/logs/train/runs``."""
    return newest_run(find_repo_root() / RUNS_SUBDIR)


def load_run(
    path: str | Path | None = None,
    data_root: str | Path | None = None,
    trusted_modules: Sequence[str] = (),
    **data_overrides: Any,
) -> Run:
    """Load a run folder (its best checkpoint) or a ``.ckpt``; None or "" loads the newest run.

    The model comes from :func:`posekit.engine.tasks.load_model`; the datamodule is built from the
    run's saved config, with ``data.root`` replaced by ``data_root`` when given (the same layout
    elsewhere) and any other ``data.<key>`` replaced by ``data_overrides`` (e.g.
    ``num_workers=0``). The saved model and data configs build posekit's classes and those
    defined in ``trusted_modules`` only (see :mod:`posekit.models.trust`).
    """
    path = resolve_path(path) if path else default_run()
    if path.is_dir():
        checkpoint, run_dir = best_checkpoint(path), path
    elif path.is_file():
        checkpoint, run_dir = path, run_dir_of_checkpoint(path)
    else:
        raise FileNotFoundError(f"no run folder or checkpoint at {path}")
    model = load_model(checkpoint, trusted_modules)
    saved_data = model.run_config.get("data")
    check_file_config(saved_data, f"checkpoint {checkpoint}", trusted_modules, "data")
    config = OmegaConf.create(model.run_config)
    with open_dict(config):  # the metrics' annotation paths follow data_root and val_ann too,
        # as eval.py data.root=... (the saved config holds the training machine's paths)
        config.data = rebase_data_config(config.data, data_root, **data_overrides)
    try:
        datamodule: TopDownDataModule = instantiate(config.data)
    except InstantiationException as error:  # a wrong data.root: the layout message alone
        if isinstance(error.__cause__, DataLayoutError):
            raise error.__cause__ from None
        raise
    check_same_keypoints(model.spec, datamodule.spec, f"checkpoint {checkpoint}")
    name = run_labels([run_dir])[0] if run_dir is not None else checkpoint.stem
    return Run(name, run_dir, checkpoint, model, config, datamodule)
