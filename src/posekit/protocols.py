"""Scoring a results file with a data set's official protocol, whatever method produced it.

The protocol (metric class and options) comes from the data config, ``conf/data/<set>.yaml``:
its DataModule's ``protocol_metric`` with the config's options, so ``eval.py`` and
``scripts/evaluate_results.py`` score the same way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import scipy.io
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf

from posekit.data.formats.coco import read_json
from posekit.metrics import CocoKeypointAP, MPIIPCKh

CONF = Path(__file__).resolve().parents[2] / "conf"
# data config keys that shape a protocol metric (see the DataModules' protocol_metric)
PROTOCOL_OPTIONS = (
    "use_area",
    "keypoints_in_file",
    "ap_parts",
    "crowd_easy_below",
    "crowd_hard_from",
)


def data_config(data: str, keypoints: str | None = None, conf_dir: Path = CONF) -> DictConfig:
    """The composed ``data`` node of ``conf/data/<data>.yaml`` (``keypoints``: the yaml of a
    custom set)."""
    if not (conf_dir / "data" / f"{data}.yaml").is_file():
        known = sorted(p.stem for p in (conf_dir / "data").glob("*.yaml"))
        raise ValueError(f"unknown data set '{data}': expected one of {known}")
    overrides = [f"data={data}", "data.root=."]
    if keypoints:
        overrides.append(f"data.keypoints.path={Path(keypoints).resolve()}")
    os.environ.setdefault("POSEKIT_ROOT", str(conf_dir.parent))
    with initialize_config_dir(str(conf_dir), version_base="1.3"):
        return compose(config_name="train", overrides=overrides).data


def score_results(
    data: str,
    results_file: str | Path,
    annotations: str | Path | None = None,
    mat: str | Path | None = None,
    keypoints: str | Path | None = None,
) -> dict[str, float]:
    """The protocol's numbers for ``results_file`` on ``annotations`` (COCO-format sets) or on
    ``mat`` (MPII: ``mpii_gt_val.mat``).

    COCO-format sets read a COCO results list (``image_id, keypoints, score``) and score it as
    given (no rescoring or NMS). MPII reads either a JSON list as ``eval.py`` writes it (one
    entry per person of ``mpii_val.json``, matched by ``person_index``, else by position) or a
    ``.mat`` with ``preds`` (M, 16, 2) in MATLAB's 1-based pixels (HRNet's ``pred.mat``).
    """
    cfg = data_config(data, str(keypoints) if keypoints else None)
    spec = instantiate(cfg.keypoints)
    module = get_class(cfg._target_)
    options = {
        key: OmegaConf.to_container(cfg[key]) if OmegaConf.is_config(cfg[key]) else cfg[key]
        for key in PROTOCOL_OPTIONS
        if key in cfg
    }
    if data == "mpii":
        if mat is None:
            raise ValueError("MPII PCKh needs --mat annotations/mpii_gt_val.mat (the head boxes)")
        metric = module.protocol_metric(mat, spec)
        return _score_mpii(metric, Path(results_file))
    if annotations is None:
        raise ValueError(f"{data}: pass --annotations, the ground-truth json the results are for")
    metric: CocoKeypointAP = module.protocol_metric(annotations, spec, **options)
    results = read_json(results_file, "results file")
    if not isinstance(results, list):
        raise ValueError(
            f"results file {results_file}: expected a JSON list in COCO results format"
        )
    return metric.evaluate_results(results, source=str(results_file))


def _score_mpii(metric: MPIIPCKh, results_file: Path) -> dict[str, float]:
    m = metric.num_records
    if results_file.suffix == ".mat":
        data = scipy.io.loadmat(str(results_file))
        if "preds" not in data:
            raise KeyError(f"{results_file}: no 'preds' array (M, 16, 2), 1-based, as HRNet writes")
        preds = np.asarray(data["preds"], dtype=np.float64)[..., :2] - 1.0  # to 0-based
    else:
        preds = _mpii_json_predictions(read_json(results_file, "results file"), results_file, m)
    if preds.shape != (m, 16, 2):
        raise ValueError(
            f"{results_file}: predictions have shape {list(preds.shape)}, expected [{m}, 16, 2] "
            f"(one per person of the ground-truth mat {metric.gt_mat_path})"
        )
    metric.update(
        torch.from_numpy(preds).float(), torch.ones(m, 16), {"sample_idx": torch.arange(m)}
    )
    return {key: float(value) for key, value in metric.compute().items()}


def _mpii_json_predictions(results: Any, source: Path, m: int) -> np.ndarray:
    """(M, 16, 2) 0-based predictions from a results list, by ``person_index`` or position."""
    if not isinstance(results, list) or len(results) != m:
        raise ValueError(
            f"results file {source}: expected a JSON list of {m} people (one per person of "
            f"mpii_val.json), got {len(results) if isinstance(results, list) else type(results)}"
        )
    preds = np.full((m, 16, 2), np.nan)
    for i, result in enumerate(results):
        index = int(result.get("person_index", i))
        keypoints = np.asarray(result.get("keypoints", ()), dtype=np.float64)
        if keypoints.size != 48 or not 0 <= index < m:
            raise ValueError(
                f"results file {source}: result [{i}] needs 48 keypoint values (x, y, score per "
                f"joint) and a person_index in [0, {m}); got {keypoints.size} and {index}"
            )
        preds[index] = keypoints.reshape(16, 3)[:, :2]
    missing = np.flatnonzero(np.isnan(preds[:, 0, 0]))
    if missing.size:
        raise ValueError(f"results file {source}: no prediction for people {missing[:10].tolist()}")
    return preds
