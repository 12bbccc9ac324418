"""``eval.py`` over several checkpoints: a list, run folders or sweep folders, one table.

``ckpt_path=<file.ckpt>`` keeps the single-checkpoint evaluation
(:func:`posekit.engine.tasks.evaluate`); so does any ``ckpt_path`` that names one checkpoint (a run
folder: its best one). Several checkpoints are each evaluated into
``<eval run folder>/<name>/metrics.json``, then compared in one printed table and
``<eval run folder>/comparison.csv``. Checkpoints of one setting with several seeds get
the mean and 95 % interval of each metric over the seeds (``seeds.csv``), and on a COCO-format
set each checkpoint is compared with the first by a paired bootstrap over people of each
person's best OKS (``paired_bootstrap.csv``), which says whether a difference is inside the
noise (:mod:`posekit.runs.statistics`).
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.utils import get_class, instantiate
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf, open_dict

from posekit.core.io import read_json
from posekit.engine.tasks import evaluate
from posekit.metrics.coco import CocoKeypointAP
from posekit.metrics.per_person import person_scores
from posekit.runs.comparison import (
    DESCRIPTION_COLUMNS,
    comparison_frame,
    format_table,
    write_comparison,
)
from posekit.runs.folders import (
    checkpoint_labels,
    describe_run,
    expand_checkpoints,
    run_dir_of_checkpoint,
    safe_name,
)
from posekit.runs.statistics import over_seeds, paired_bootstrap, without_seed

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
        report_noise(cfg, rows, output_dir)
    return results


def setting_of(row: dict[str, Any]) -> str:
    """What a compared checkpoint is, its seed left out."""
    described = [str(row[c]) for c in DESCRIPTION_COLUMNS[:-1] if row.get(c) is not None]
    return " ".join([*described, without_seed(row.get("overrides"))])


def report_noise(cfg: DictConfig, rows: list[dict[str, Any]], output_dir: Path) -> None:
    """Print and write the intervals over seeds and the paired bootstraps (see the module)."""
    metrics = sorted({k for row in rows for k, v in row.items()
                      if "/" in k and isinstance(v, float)})
    seeds = over_seeds(rows, setting_of, metrics)
    if seeds is not None:
        print(f"\nover seeds (mean and 95% t interval):\n{format_table(seeds)}")
        seeds.to_csv(output_dir / "seeds.csv")
    scores = {row["run"]: people_oks(cfg, output_dir / safe_name(row["run"])) for row in rows}
    first, *others = scores
    if scores[first] is None or not others:
        return
    lines = []
    for name in others:
        difference = paired_bootstrap(scores[first], scores[name])
        lines.append({"run": name, "against": first, "mean OKS difference": difference.mean,
                      "low": difference.low, "high": difference.high,
                      "people": difference.people, "inside the noise": difference.inside_noise})
        print(f"{name} - {first}, mean OKS per person: {difference.describe()}")
    pd.DataFrame(lines).to_csv(output_dir / "paired_bootstrap.csv", index=False)


def coco_format_metric(cfg: DictConfig) -> CocoKeypointAP | None:
    """The data config's COCO-format metric (the first), built; None for other sets."""
    nodes = [n for n in (cfg.data.get("metrics") or {}).values()
             if "_target_" in n and issubclass(get_class(n._target_), CocoKeypointAP)]
    return instantiate(nodes[0])(spec=instantiate(cfg.data.keypoints)) if nodes else None


def people_oks(cfg: DictConfig, folder: Path) -> list[float] | None:
    """Each person's best OKS (P,) in annotation-id order from ``folder/predictions.json``,
    with the data config's COCO-format metric; None for other sets (MPII, mixtures)."""
    metric = coco_format_metric(cfg)
    predictions = folder / "predictions.json"
    if metric is None or not predictions.is_file():
        return None
    return list(person_scores(metric, read_json(predictions, "predictions file")).oks)
