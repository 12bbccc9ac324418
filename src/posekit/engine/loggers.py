"""What reaches the experiment loggers besides the scalars: the composed config, the model's
size, and a run name that says what the run changed.

As lightning-hydra-template's ``log_hyperparameters``: every logger of the trainer (CSV and
TensorBoard: ``hparams.yaml``; W&B: the run's config) gets the whole resolved config and the
model's parameter counts, so that a run can be told apart from its siblings in each logger.
"""

from __future__ import annotations

from typing import Any, Sequence

import lightning as L
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf, open_dict

# overrides that do not change what is trained: left out of run names
NAMELESS_OVERRIDES = ("hydra.", "paths.", "logger", "experiment=", "ckpt_path=")
MAX_NAME_LENGTH = 128


def model_sizes(model: L.LightningModule) -> dict[str, int]:
    """Total, trainable and non-trainable parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {
        "model/params/total": total,
        "model/params/trainable": trainable,
        "model/params/non_trainable": total - trainable,
    }


def hyperparameters(cfg: DictConfig, model: L.LightningModule) -> dict[str, Any]:
    """The resolved config (without Hydra's own node) and :func:`model_sizes`."""
    config = OmegaConf.to_container(cfg, resolve=True)
    config.pop("hydra", None)
    return {**config, **model_sizes(model)}


def log_hyperparameters(cfg: DictConfig, model: L.LightningModule, trainer: L.Trainer) -> None:
    """Give every logger of ``trainer`` :func:`hyperparameters` (rank zero only: the loggers'
    ``log_hyperparams`` are)."""
    params = hyperparameters(cfg, model)
    for logger in trainer.loggers:
        logger.log_hyperparams(params)


def command_line_overrides() -> list[str]:
    """The overrides of the running Hydra job (``key=value``); none outside a Hydra job."""
    if not HydraConfig.initialized():
        return []
    return [str(o) for o in HydraConfig.get().overrides.task]


def run_name(experiment: str, overrides: Sequence[str]) -> str:
    """``<experiment>[_<override>,<override>...]``: the experiment (or task) name and the
    command-line overrides that change the run (not hydra.*, paths.*, logger, experiment,
    ckpt_path), cut to :data:`MAX_NAME_LENGTH` characters."""
    kept = [o for o in overrides if not o.lstrip("+~").startswith(NAMELESS_OVERRIDES)]
    name = f"{experiment}_{','.join(kept)}" if kept else experiment
    return name[:MAX_NAME_LENGTH]


def name_runs(cfg: DictConfig) -> None:
    """Fill every logger's ``name: null`` that is meant to be a run name (W&B's) with
    :func:`run_name` of the experiment and this job's overrides."""
    wandb = (cfg.get("logger") or {}).get("wandb")
    if wandb is None or wandb.get("name") is not None:
        return
    experiment = cfg.get("experiment_name") or cfg.get("task_name") or "run"
    with open_dict(cfg):
        cfg.logger.wandb.name = run_name(str(experiment), command_line_overrides())
