"""``eval.py`` over several checkpoints: a list, run folders or sweep folders, one table.

``ckpt_path=<file.ckpt>`` keeps the single-checkpoint evaluation
(:func:`posekit.engine.tasks.evaluate`); so does any ``ckpt_path`` that names one checkpoint (a run
folder: its best one). Several checkpoints are each evaluated into
``<eval run folder>/<name>/metrics.json``, then compared in one printed table and
``<eval run folder>/comparison.csv``.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf, open_dict

from posekit.engine.tasks import evaluate
from posekit.runs.comparison import comparison_frame, format_table, write_comparison
from posekit.runs.folders import (
    checkpoint_labels,
    describe_run,
    expand_checkpoints,
    run_dir_of_checkpoint,
    safe_name,
)

log = logging.getLogger(__name__)


def given_paths(ckpt_path: Any) -> list[str]:
    """``ckpt_path`` as a list: one path or a list of them (``ckpt_path=[a.ckpt,b.ckpt]``)."""
    if OmegaConf.is_list(ckpt_path) or isinstance(ckpt_path, (list, tuple)):
        return [str(p) for p in ckpt_path]
    return [str(ckpt_path)]


def evaluate_all(cfg: DictConfig) -> dict[str, Any]:
    """Evaluate what ``cfg.ckpt_path`` names.

    Returns the metrics of the one checkpoint, or ``{name: metrics}`` for several.
    """
    paths = given_paths(cfg.ckpt_path)
    if len(paths) == 1 and Path(paths[0]).suffix == ".ckpt":
        return evaluate(cfg)
    checkpoints = expand_checkpoints(paths)
    if len(checkpoints) == 1:
        with open_dict(cfg):
            cfg.ckpt_path = str(checkpoints[0])
        return evaluate(cfg)
    return evaluate_checkpoints(cfg, checkpoints)


def evaluate_checkpoints(cfg: DictConfig, checkpoints: list[Path]) -> dict[str, dict[str, Any]]:
    """Evaluate each checkpoint with ``cfg`` into its own sub-folder; print and write the table."""
    output_dir = Path(cfg.paths.output_dir)
    results: dict[str, dict[str, Any]] = {}
    rows = []
    for label, ckpt in zip(checkpoint_labels(checkpoints), checkpoints):
        print(f"\n{label}  ({ckpt})")
        job = copy.deepcopy(cfg)
        with open_dict(job):
            job.ckpt_path = str(ckpt)
            job.paths.output_dir = str(output_dir / safe_name(label))
        results[label] = evaluate(job)
        description = describe_run(run_dir_of_checkpoint(ckpt), ckpt)
        rows.append({"run": label, **description, "checkpoint": str(ckpt), **results[label]})
    if rank_zero_only.rank == 0:  # under DDP every process gets here with the same metrics
        table = comparison_frame(rows)
        print(f"\n{len(checkpoints)} checkpoints:\n{format_table(table)}")
        path = write_comparison(table, output_dir)
        log.info(f"comparison written to {path}")
    return results
