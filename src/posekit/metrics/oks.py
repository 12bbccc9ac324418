"""Object keypoint similarity, the rescoring of detected people and OKS non-maximum
suppression (per image, or over every image at once)."""

from __future__ import annotations

import numpy as np


def oks_matrix(keypoints: np.ndarray, areas: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """Object keypoint similarity between every pair of predicted instances.

    Args:
        keypoints: (..., N, K, 2) keypoint positions (leading dimensions: independent sets).
        areas: (..., N) instance areas; a pair uses the mean of its two areas as the scale s^2.
        sigmas: (K,) per-keypoint OKS sigmas.

    Returns:
        (..., N, N) OKS, ``mean_k exp(-d_k^2 / (2 s^2 (2 sigma_k)^2))``.
    """
    x, y = keypoints[..., 0], keypoints[..., 1]  # (..., N, K) each
    d2 = (x[..., :, None, :] - x[..., None, :, :]) ** 2 + (
        y[..., :, None, :] - y[..., None, :, :]
    ) ** 2  # (..., N, N, K)
    scale = (areas[..., :, None] + areas[..., None, :]) / 2.0  # (..., N, N)
    variances = (2.0 * sigmas) ** 2  # (K,)
    e = d2 / (2.0 * variances * (scale[..., None] + np.spacing(1)))
    return np.exp(-e).mean(axis=-1)


def instance_scores(
    keypoint_scores: np.ndarray, box_scores: np.ndarray, threshold: float = 0.2
) -> np.ndarray:
    """Person scores (M,): box score x mean of the keypoint scores (M, K) above ``threshold``,
    0 when none is above: the rescoring of the official HRNet COCO evaluation and of mmpose."""
    above = keypoint_scores > threshold  # (M, K)
    above_mean = (keypoint_scores * above).sum(axis=1) / np.maximum(above.sum(axis=1), 1)
    return box_scores * np.where(above.any(axis=1), above_mean, 0.0)


def oks_nms(
    keypoints: np.ndarray,
    scores: np.ndarray,
    areas: np.ndarray,
    sigmas: np.ndarray,
    threshold: float,
) -> list[int]:
    """Greedy OKS non-maximum suppression.

    Args:
        keypoints: (N, K, 2), scores: (N,), areas: (N,), sigmas: (K,).
        threshold: an instance is dropped when its OKS with a kept, higher-scored one exceeds it.

    Returns:
        Indices of the kept instances, highest score first.
    """
    oks = oks_matrix(keypoints, areas, sigmas)
    suppressed = np.zeros(len(scores), dtype=bool)
    keep: list[int] = []
    for best in np.argsort(-scores, kind="stable").tolist():
        if not suppressed[best]:
            keep.append(best)
            suppressed |= oks[best] > threshold
    return keep


def oks_nms_by_image(
    keypoints: np.ndarray,
    scores: np.ndarray,
    areas: np.ndarray,
    image_ids: np.ndarray,
    sigmas: np.ndarray,
    threshold: float,
) -> np.ndarray:
    """:func:`oks_nms` within each image, for all images at once.

    Args:
        keypoints: (N, K, 2), scores: (N,), areas: (N,), image_ids: (N,), sigmas: (K,).

    Returns:
        (M,) indices of the kept instances: image by image (ascending id), each image's highest
        score first, as :func:`oks_nms` per image gives them. Images with the same number of
        people are stacked, so the OKS and the greedy pass run over all of them together.
    """
    by_image = np.argsort(image_ids, kind="stable")  # (N,) each image's rows, ascending
    sorted_ids = image_ids[by_image]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])  # (G,)
    counts = np.diff(np.r_[starts, len(by_image)])  # (G,)
    kept_rows, kept_keys = [], []  # kept indices, and (image position, rank) to order them
    width = int(counts.max(initial=0)) + 1
    for n in np.unique(counts).tolist():
        same = np.flatnonzero(counts == n)  # images with n people
        step = max(1, (1 << 22) // (n * n * len(sigmas)))  # (B, n, n, K) float64: <= 32 MB
        for groups in np.split(same, np.arange(step, len(same), step)):  # (B,)
            rows = by_image[starts[groups, None] + np.arange(n)]  # (B, n)
            oks = oks_matrix(keypoints[rows], areas[rows], sigmas)  # (B, n, n)
            ranked = np.argsort(-scores[rows], axis=1, kind="stable")  # (B, n)
            suppressed = np.zeros((len(groups), n), dtype=bool)
            batch = np.arange(len(groups))
            for rank in range(n):  # the greedy pass, one rank of every image at a time
                image = batch[~suppressed[batch, ranked[:, rank]]]  # its next one is not out
                best = ranked[image, rank]
                suppressed[image] |= oks[image, best] > threshold
                kept_rows.append(rows[image, best])
                kept_keys.append(groups[image] * width + rank)
    if not kept_rows:
        return np.zeros(0, dtype=np.int64)
    rows, keys = np.concatenate(kept_rows), np.concatenate(kept_keys)
    return rows[np.argsort(keys, kind="stable")]
