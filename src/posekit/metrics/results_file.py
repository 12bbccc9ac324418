"""Scoring a results file with a data set's official protocol, whatever method produced it.

The protocol is a metric of the data config (``metrics:``) that can read results files:
:class:`CocoKeypointAP` and its subclasses (a COCO results list, scored as given: no rescoring,
no NMS) and :class:`MPIIPCKh` (``predictions.json`` as ``eval.py`` writes it, or HRNet's 1-based
``pred.mat``). ``scripts/evaluate_results.py`` builds them from the data config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import scipy.io
import torch

from posekit.core.io import read_json
from posekit.metrics.base import KeypointMetric
from posekit.metrics.coco import CocoKeypointAP
from posekit.metrics.pckh import MPIIPCKh

RESULTS_FILE_PROTOCOLS = (CocoKeypointAP, MPIIPCKh)


def score_results_file(
    metrics: Sequence[KeypointMetric], results_file: str | Path
) -> dict[str, float]:
    """The numbers of every protocol among ``metrics`` (others, e.g. PCK, need the boxes and
    are skipped) for ``results_file``."""
    results_file = Path(results_file)
    protocols = [m for m in metrics if isinstance(m, RESULTS_FILE_PROTOCOLS)]
    if not protocols:
        raise ValueError(
            f"none of the metrics {[type(m).__name__ for m in metrics]} scores a results file"
        )
    values: dict[str, float] = {}
    for metric in protocols:
        if isinstance(metric, MPIIPCKh):
            values.update(_score_mpii(metric, results_file))
        else:
            values.update(_score_coco(metric, results_file))
    return values


def _score_coco(metric: CocoKeypointAP, results_file: Path) -> dict[str, float]:
    results = read_json(results_file, "results file")
    if not isinstance(results, list):
        raise ValueError(
            f"results file {results_file}: expected a JSON list in COCO results format"
        )
    return metric.evaluate_results(results, source=str(results_file))


def _score_mpii(metric: MPIIPCKh, results_file: Path) -> dict[str, float]:
    m, k = metric.num_records, metric.num_keypoints
    if results_file.suffix == ".mat":
        data = scipy.io.loadmat(str(results_file))
        if "preds" not in data:
            raise KeyError(f"{results_file}: no 'preds' array (M, {k}, 2), 1-based, as HRNet writes")
        preds = np.asarray(data["preds"], dtype=np.float64)[..., :2] - 1.0  # to 0-based
    else:
        preds = _mpii_json_predictions(read_json(results_file, "results file"), results_file, m, k)
    if preds.shape != (m, k, 2):
        raise ValueError(
            f"{results_file}: predictions have shape {list(preds.shape)}, expected [{m}, {k}, 2] "
            f"(one per person of the ground-truth mat {metric.gt_mat_path})"
        )
    bad = np.flatnonzero(~np.isfinite(preds).all(axis=(1, 2)))
    if bad.size:
        raise ValueError(
            f"results file {results_file}: non-finite (NaN or inf) keypoints for people "
            f"{bad[:10].tolist()}; a results file must hold finite coordinates"
        )
    metric.update(
        torch.from_numpy(preds).float(), torch.ones(m, k), {"sample_idx": torch.arange(m)}
    )
    return {key: float(value) for key, value in metric.compute().items()}


def _mpii_json_predictions(results: Any, source: Path, m: int, k: int) -> np.ndarray:
    """(M, K, 2) 0-based predictions from a results list, by ``person_index`` or position."""
    if not isinstance(results, list) or len(results) != m:
        raise ValueError(
            f"results file {source}: expected a JSON list of {m} people (one per person of "
            f"mpii_val.json), got {len(results) if isinstance(results, list) else type(results)}"
        )
    preds = np.full((m, k, 2), np.nan)
    for i, result in enumerate(results):
        index = int(result.get("person_index", i))
        keypoints = np.asarray(result.get("keypoints", ()), dtype=np.float64)
        if keypoints.size != 3 * k or not 0 <= index < m:
            raise ValueError(
                f"results file {source}: result [{i}] needs {3 * k} keypoint values (x, y, score per "
                f"joint) and a person_index in [0, {m}); got {keypoints.size} and {index}"
            )
        preds[index] = keypoints.reshape(k, 3)[:, :2]
    missing = np.flatnonzero(np.isnan(preds[:, 0, 0]))
    if missing.size:
        raise ValueError(f"results file {source}: no prediction for people {missing[:10].tolist()}")
    return preds
