"""Per-keypoint and per-sample statistics of :class:`Predictions`: PCK, OKS, errors, worst cases.

Errors are normalised as the PCK metric does, by ``max(box w, box h)``. The OKS of one keypoint
is COCO's ``exp(-d^2 / (2 s^2 k^2))`` with ``s^2`` the annotation area (the box area where the
area is unknown) and ``k = 2 sigma`` from the keypoint spec; a sample's OKS is the mean over its
labelled keypoints. Only labelled keypoints (visibility > 0) of boxes with a size count.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from posekit.analysis.predict import Predictions
from posekit.core.spec import KeypointSpec

ALL_ROW = "all"
PCK_CURVE_ALPHAS = np.arange(51) * 0.5 / 50  # 0.00, 0.01, ..., 0.50, each the nearest double


def normalised_errors(predictions: Predictions) -> tuple[np.ndarray, np.ndarray]:
    """Distances to the truth over ``max(box w, box h)``, (N, K), and which count, (N, K) bool
    (NaN errors where they do not)."""
    size = predictions.boxes[:, 2:].max(axis=1).astype(np.float64)  # (N,)
    counts = (predictions.gt_keypoints[..., 2] > 0) & (size > 0)[:, None]  # (N, K)
    distance = np.linalg.norm(
        predictions.keypoints.astype(np.float64) - predictions.gt_keypoints[..., :2], axis=-1
    )  # (N, K)
    with np.errstate(divide="ignore", invalid="ignore"):
        errors = np.where(counts, distance / size[:, None], np.nan)
    return errors, counts


def keypoint_similarity(predictions: Predictions, sigmas: Sequence[float]) -> np.ndarray:
    """OKS of each keypoint, (N, K); NaN where the keypoint does not count."""
    sigmas = np.asarray(sigmas, dtype=np.float64)  # (K,)
    if sigmas.shape != predictions.scores.shape[1:]:
        raise ValueError(f"{sigmas.size} sigmas for {predictions.scores.shape[1]} keypoints")
    box_area = predictions.boxes[:, 2] * predictions.boxes[:, 3]  # (N,)
    area = np.where(predictions.areas > 0, predictions.areas, box_area).astype(np.float64)
    counts = (predictions.gt_keypoints[..., 2] > 0) & (area > 0)[:, None]  # (N, K)
    d2 = ((predictions.keypoints - predictions.gt_keypoints[..., :2]) ** 2).sum(-1)  # (N, K)
    with np.errstate(divide="ignore", invalid="ignore"):
        similarity = np.exp(-d2 / (2.0 * area[:, None] * (2.0 * sigmas) ** 2))
    return np.where(counts, similarity, np.nan)


def sample_oks(predictions: Predictions, sigmas: Sequence[float]) -> np.ndarray:
    """OKS of each sample, (N,): the mean over its labelled keypoints; NaN without any."""
    similarity = keypoint_similarity(predictions, sigmas)
    counted = np.isfinite(similarity).sum(axis=1)  # (N,)
    total = np.nansum(similarity, axis=1)  # (N,)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(counted > 0, total / counted, np.nan)


def pck_curve(predictions: Predictions, alphas: Sequence[float] = PCK_CURVE_ALPHAS) -> pd.Series:
    """PCK@alpha over all labelled keypoints for each alpha (the metric's pooled PCK)."""
    errors, counts = normalised_errors(predictions)
    values = errors[counts]  # (M,)
    pck = [(values <= a).mean() if values.size else 0.0 for a in alphas]
    return pd.Series(pck, index=pd.Index(np.asarray(alphas, dtype=float), name="alpha"), name="PCK")


def per_keypoint_table(
    predictions: Predictions, spec: KeypointSpec, alphas: Sequence[float] = (0.05, 0.1, 0.2)
) -> pd.DataFrame:
    """One row per keypoint (and a last row ``all``, pooled over keypoints): the number of
    labelled keypoints, PCK@alpha for each alpha, the mean OKS and the mean and median
    normalised error. Keypoints never labelled get NaN."""
    errors, counts = normalised_errors(predictions)  # (N, K)
    similarity = keypoint_similarity(predictions, spec.sigmas)  # (N, K)
    if errors.shape[1] != spec.num_keypoints:
        raise ValueError(
            f"{errors.shape[1]} keypoints predicted, the spec has {spec.num_keypoints}"
        )
    columns: dict[str, list[float]] = {"labelled": []}
    columns.update({f"PCK@{a:g}": [] for a in alphas})
    columns.update({"OKS": [], "mean error": [], "median error": []})
    one_keypoint = np.eye(spec.num_keypoints, dtype=bool)  # (K, K)
    for mask in [*(counts & one_keypoint[k] for k in range(spec.num_keypoints)), counts]:
        values = errors[mask]
        oks = similarity[mask & np.isfinite(similarity)]
        columns["labelled"].append(int(values.size))
        for a in alphas:
            columns[f"PCK@{a:g}"].append(float((values <= a).mean()) if values.size else np.nan)
        columns["OKS"].append(float(oks.mean()) if oks.size else np.nan)
        columns["mean error"].append(float(values.mean()) if values.size else np.nan)
        columns["median error"].append(float(np.median(values)) if values.size else np.nan)
    index = pd.Index([*spec.names, ALL_ROW], name="keypoint")
    return pd.DataFrame(columns, index=index)


def error_distribution(predictions: Predictions, spec: KeypointSpec) -> pd.DataFrame:
    """Long table of the normalised errors, one row per labelled keypoint of each sample:
    ``sample``, ``keypoint`` (name, ordered as in the spec), ``error``."""
    errors, counts = normalised_errors(predictions)  # (N, K)
    rows, keypoints = np.nonzero(counts)
    names = pd.Categorical(
        [spec.names[k] for k in keypoints], categories=list(spec.names), ordered=True
    )
    return pd.DataFrame(
        {
            "sample": predictions.sample_idx[rows],
            "keypoint": names,
            "error": errors[rows, keypoints],
        }
    )


def worst_cases(
    predictions: Predictions, spec: KeypointSpec, n: int = 8, by: str = "oks"
) -> list[int]:
    """Sample indices of the ``n`` worst samples: lowest OKS (``by="oks"``) or highest mean
    normalised error (``by="error"``). Samples without labelled keypoints are left out."""
    if by == "oks":
        badness = -sample_oks(predictions, spec.sigmas)
    elif by == "error":
        errors, counts = normalised_errors(predictions)  # (N, K)
        counted = counts.sum(axis=1)  # (N,)
        with np.errstate(divide="ignore", invalid="ignore"):
            badness = np.where(counted > 0, np.nansum(errors, axis=1) / counted, np.nan)
    else:
        raise ValueError(f"by must be 'oks' or 'error', got {by!r}")
    ranked = [i for i in np.argsort(-badness, kind="stable") if np.isfinite(badness[i])]
    return [int(predictions.sample_idx[i]) for i in ranked[:n]]
