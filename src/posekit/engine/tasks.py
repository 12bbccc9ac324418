"""What ``train.py`` and ``eval.py`` do, as functions of a composed Hydra config."""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path
from typing import Any, Sequence

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf, open_dict

from posekit.core.io import write_json
from posekit.core.spec import check_same_keypoints
from posekit.engine.checkpoint_io import (
    AtomicCheckpointIO,
    SigtermCheckpoint,
    sigterm_exit,
)
from posekit.engine.config_types import check_config_types
from posekit.engine.console import print_config_tree, print_metrics
from posekit.engine.distributed import (
    check_ddp_launch,
    end_ddp_launch,
    use_hydra_job_for_ddp_ranks,
)
from posekit.engine.loggers import log_hyperparameters, name_runs
from posekit.engine.resume import resolve_ckpt_path
from posekit.metrics.predictions_file import write_predictions
from posekit.models.checkpoint import build_model, load_model

log = logging.getLogger(__name__)


def instantiate_group(group: DictConfig | None) -> list[Any]:
    """Every ``_target_`` node of a config group such as ``callbacks`` or ``logger``."""
    if not group:
        return []
    return [instantiate(node) for node in group.values() if node and "_target_" in node]


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Flat name -> number, from Lightning's tensors; non-finite values kept as strings."""
    flat = {}
    for name, value in metrics.items():
        value = float(value.item() if isinstance(value, torch.Tensor) else value)
        flat[name] = value if math.isfinite(value) else str(value)
    return dict(sorted(flat.items()))


def validate_all(trainer: L.Trainer, model: L.LightningModule, datamodule: Any, **kwargs: Any
                 ) -> dict[str, Any]:
    """``trainer.validate`` as one dict, whatever the number of validation loaders (a mixture
    has one per validated source; Lightning returns a dict per loader)."""
    results: dict[str, Any] = {}
    for each in trainer.validate(model, datamodule=datamodule, verbose=False, **kwargs):
        results.update(each)
    return results


def write_metrics(metrics: dict[str, float], output_dir: str | Path) -> Path:
    """``<output_dir>/metrics.json``, written atomically."""
    return write_json(Path(output_dir) / "metrics.json", metrics)


def route_lightning_logs_through_hydra() -> None:
    """Lightning prints through its own console handlers (on ``lightning``,
    ``lightning.pytorch`` and ``lightning.fabric``); Hydra's root handlers (console and run
    log) suffice: without this every Lightning line is printed twice."""
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def build_trainer(cfg: DictConfig, extra_callbacks: Sequence[L.Callback] = ()) -> L.Trainer:
    """The configured trainer; its checkpoints are written atomically (AtomicCheckpointIO)."""
    # the module's on_after_batch_transfer (data.device_warp) is meant to run: not a mistake
    warnings.filterwarnings("ignore", message="You have overridden `on_after_batch_transfer`")
    use_hydra_job_for_ddp_ranks()
    trainer = instantiate(
        cfg.trainer,
        callbacks=[*instantiate_group(cfg.get("callbacks")), *extra_callbacks],
        logger=instantiate_group(cfg.get("logger")) or False,
        plugins=[AtomicCheckpointIO()],
    )
    check_ddp_launch(trainer)
    return trainer


def finish_wandb(trainer: L.Trainer) -> None:
    """End the W&B run of a trainer that logged to W&B, so that the next run in this process
    (the next job of a multirun) is a W&B run of its own rather than a continuation."""
    if any(isinstance(logger, WandbLogger) for logger in trainer.loggers):
        import wandb

        wandb.finish()


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit, evaluate the best checkpoint, write ``metrics.json``; returns the metrics."""
    check_config_types(cfg)
    route_lightning_logs_through_hydra()  # before the first Lightning line (the seed)
    if cfg.get("print_config") and rank_zero_only.rank == 0:
        print_config_tree(cfg)
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data)
    model = build_model(cfg)
    ckpt_path = resolve_ckpt_path(cfg)
    on_sigterm = SigtermCheckpoint(Path(cfg.paths.output_dir) / "checkpoints")
    name_runs(cfg)
    trainer = build_trainer(cfg, [on_sigterm])
    try:
        log_hyperparameters(cfg, model, trainer)
        try:
            # weights_only: a crafted checkpoint is refused rather than run (torch.load)
            trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
        except SIGTERMException:
            raise sigterm_exit(cfg.paths.output_dir, on_sigterm.saved) from None
        metrics = {**scalar_metrics(trainer.callback_metrics), "val/boxes": datamodule.boxes}
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        title = "metrics of the last epoch"
        if cfg.get("validate_best", True) and best and not trainer.fast_dev_run:
            title = f"metrics of the best checkpoint ({Path(best).name})"
            log.info(f"evaluating the best checkpoint {best}")
            results = validate_all(trainer, model, datamodule, ckpt_path=best, weights_only=True)
            metrics.update(scalar_metrics(results))
    finally:
        finish_wandb(trainer)
    end_ddp_launch(trainer)
    if trainer.is_global_zero:  # under DDP every process gets here with the same metrics
        path = write_metrics(metrics, cfg.paths.output_dir)
        print_metrics(metrics, title)
        log.info(f"metrics written to {path}")
    return metrics


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Evaluate ``cfg.ckpt_path`` on ``cfg.data``; print the metrics, write ``metrics.json``.

    The model (architecture and codec) comes from the checkpoint; the data config is the one
    composed for this run, so ``data.root=...`` or another data config can be evaluated (its
    input size and crop geometry, ``data.udp``, follow the checkpoint). The checkpoint's config
    builds posekit's classes and those of ``cfg.trusted_modules`` only.
    """
    check_config_types(cfg)
    route_lightning_logs_through_hydra()
    trusted = list(cfg.get("trusted_modules") or [])
    model = load_model(cfg.ckpt_path, trusted, flip_test=cfg.flip_test)
    saved = OmegaConf.create(model.run_config)
    with open_dict(cfg):
        cfg.model = saved.model  # the data's codec interpolation follows the checkpoint
        cfg.data.input_size = saved.model.codec.input_size
        cfg.data.udp = bool(saved.model.get("udp", False))  # crops cut as in training
    datamodule = instantiate(cfg.data)
    check_same_keypoints(model.spec, datamodule.spec, f"checkpoint {cfg.ckpt_path}")
    trainer = build_trainer(cfg)
    results = validate_all(trainer, model, datamodule)
    metrics = {**scalar_metrics(results), "val/boxes": datamodule.boxes}
    sources = getattr(datamodule, "val_sources", None)
    if sources is None:
        write_predictions(trainer, model.metrics, datamodule.val_set.records, cfg.paths.output_dir)
    else:  # a mixture: one file per validated source, in the source's own keypoints
        for loader_idx, name in enumerate(sources):
            own = [m.metric for m in model.metrics if m.dataloader_idx == loader_idx]
            records = datamodule.val_sets[name].records
            write_predictions(trainer, own, records, cfg.paths.output_dir, name)
    end_ddp_launch(trainer)
    if trainer.is_global_zero:  # under DDP every process gets here with the same metrics
        print_metrics(metrics, f"metrics of {cfg.ckpt_path}")
        write_metrics(metrics, cfg.paths.output_dir)
    return metrics
