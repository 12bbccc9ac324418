"""Score a results file with a data config's protocol: ``scripts/evaluate_results.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from hydra.utils import get_class, instantiate

from posekit.config import data_config
from posekit.metrics.results_file import RESULTS_FILE_PROTOCOLS, score_results_file


def score_results(
    data: str,
    results_file: str | Path,
    annotations: str | Path | None = None,
    mat: str | Path | None = None,
    keypoints: str | Path | None = None,
    overrides: Sequence[str] = (),
) -> dict[str, float]:
    """The protocol numbers of ``results_file``: the metrics of ``conf/data/<data>.yaml``
    (``metrics:``) that score results files, built as training builds them, on ``annotations``
    (COCO-format sets, in place of ``data.val_ann``) or ``mat`` (MPII: in place of
    ``data.gt_val_mat``); ``keypoints`` is a custom set's keypoint yaml; ``overrides`` are
    more ``data.<key>=<value>`` (a set's metric options)."""
    given = ["data.root=."]
    if annotations is not None:
        given.append(f"data.val_ann={Path(annotations).resolve()}")
    if mat is not None:
        given.append(f"data.gt_val_mat={Path(mat).resolve()}")
    if keypoints:
        given.append(f"data.keypoints.path={Path(keypoints).resolve()}")
    cfg = data_config(data, [*overrides, *given])
    spec = instantiate(cfg.keypoints)
    nodes = {
        name: node
        for name, node in (cfg.get("metrics") or {}).items()
        if issubclass(get_class(node._target_), RESULTS_FILE_PROTOCOLS)
    }
    if not nodes:
        raise ValueError(f"data config '{data}' names no metric that scores a results file")
    needs = "mat= (mpii_gt_val.mat)" if "gt_val_mat" in cfg else "annotations= (the truth json)"
    if (annotations if "gt_val_mat" not in cfg else mat) is None:
        raise ValueError(f"{data}: pass {needs}, the ground truth the results are for")
    metrics = [instantiate(node, _partial_=True)(spec=spec) for node in nodes.values()]
    return score_results_file(metrics, results_file)
