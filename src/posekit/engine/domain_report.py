"""One checkpoint over several COCO-format sets: ``scripts/domain_report.py``.

Each set (an annotation json and the folder its ``file_name`` entries are relative to) is
evaluated as ``eval.py`` evaluates (``data.root`` the image folder, ``data.val_images=.``, so
file names that carry a prefix such as HumanArt's ``images/2D_virtual_human/...`` are read
where they are, without symlinks), into ``<out>/<set>/`` (``metrics.json``,
``predictions.json``). The report gives per set the AP numbers and people scored, and per
keypoint the mean OKS term of each person's best result, with the protocol stamp: which boxes,
flip test, and how keypoint and person scores are made.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd
from hydra.utils import instantiate

from posekit.config import compose
from posekit.core.io import read_json
from posekit.engine.evaluate_many import coco_format_metric
from posekit.engine.tasks import evaluate
from posekit.metrics.per_person import person_scores
from posekit.models.checkpoint import load_run_config

# the set-level numbers shown (all of metrics.json is in each set's folder)
SHOWN = ("val/AP", "val/AP50", "val/AP75", "val/AR", "val/PCK@0.05", "val/PCK@0.1")


@dataclass(frozen=True)
class EvalSet:
    """A COCO-format set: its name, annotation json and the folder its file names start from."""

    name: str
    annotations: Path
    images: Path

    @classmethod
    def parse(cls, name: str, paths: Sequence[str]) -> EvalSet:
        """A set named ``name`` from ``[<annotations.json>, <image folder>]``."""
        if not isinstance(paths, (list, tuple)) or len(paths) != 2 or not all(paths):
            raise ValueError(
                f"set {name}={paths}: expected +sets.{name}=[<annotations.json>,<the folder its "
                "file names start from>], e.g. +sets.humanart=[/data/HumanArt/annotations/"
                "val.json,/data/HumanArt]"
            )
        return cls(name, Path(str(paths[0])).resolve(), Path(str(paths[1])).resolve())


@dataclass
class DomainReport:
    sets: pd.DataFrame  # one row per set: people, SHOWN metrics, boxes
    keypoints: pd.DataFrame  # keypoint name x set: mean OKS term
    stamp: str  # the protocol


def protocol_stamp(checkpoint: str | Path, boxes: str, flip_test: bool, threshold: float) -> str:
    """Which boxes, flip test, and how the keypoint and person scores are made."""
    codec = load_run_config(checkpoint).model.codec
    rule = codec.get("score_rule", "the codec's")
    return (
        f"boxes: {boxes}; flip test: {'on' if flip_test else 'off'}; keypoint score: {rule} "
        f"({codec._target_.rsplit('.', 1)[-1]}); person score: box score x mean keypoint score "
        f"above {threshold}"
    )


def domain_report(
    checkpoint: str | Path,
    sets: Sequence[EvalSet],
    out_dir: str | Path,
    data: str = "ochuman",
    flip_test: bool = True,
    overrides: Sequence[str] = (),
) -> DomainReport:
    """Evaluate ``checkpoint`` on every set with the data config ``data`` (its keypoints and
    metric options; ``overrides`` are more ``key=value``); writes ``domain_report.csv`` and
    ``domain_keypoints.csv`` into ``out_dir``."""
    out_dir = Path(out_dir)
    rows, columns, stamps, names = [], {}, set(), None
    for each in sets:
        cfg = compose("eval", [
            f"ckpt_path={Path(checkpoint).resolve()}", f"data={data}", f"data.root={each.images}",
            f"data.val_ann={each.annotations}", "data.val_images=.", f"flip_test={flip_test}",
            *overrides,
        ], output_dir=out_dir / each.name)
        metrics = evaluate(cfg)
        metric = coco_format_metric(cfg)
        if metric is None:
            raise ValueError(f"data config '{data}' has no COCO-format metric; name one that has")
        results = read_json(out_dir / each.name / "predictions.json", "predictions file")
        scores = person_scores(metric, results)
        rows.append({"set": each.name, "people": len(scores.ids),
                     **{k: metrics[k] for k in SHOWN if k in metrics},
                     "boxes": metrics.get("val/boxes")})
        columns[each.name] = scores.per_keypoint()
        names = list(instantiate(cfg.data.keypoints).names)
        stamps.add(protocol_stamp(checkpoint, metrics.get("val/boxes"), flip_test,
                                  metric.score_threshold))
    table = pd.DataFrame(rows).set_index("set")
    keypoints = pd.DataFrame(columns, index=names)
    table.to_csv(out_dir / "domain_report.csv")
    keypoints.to_csv(out_dir / "domain_keypoints.csv", index_label="keypoint")
    return DomainReport(table, keypoints, " | ".join(sorted(stamps)))
