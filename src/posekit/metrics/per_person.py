"""Scores per ground-truth person (and keypoint), for paired comparisons and domain reports."""

from __future__ import annotations

import contextlib
import copy
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools.cocoeval import COCOeval

from posekit.metrics.coco import CocoKeypointAP


@dataclass
class PersonScores:
    """Each scored person's best result: its OKS and, per keypoint, the OKS term."""

    ids: np.ndarray  # (P,) annotation ids, ascending
    oks: np.ndarray  # (P,) best OKS among the image's results, 0 without any
    keypoint_oks: np.ndarray  # (P, K) exp(-d^2 / (2 area (2 sigma)^2)); NaN where unlabelled

    def per_keypoint(self) -> np.ndarray:
        """(K,) mean OKS term per keypoint over the people who have it labelled (NaN: none)."""
        labelled = ~np.isnan(self.keypoint_oks)
        sums = np.where(labelled, self.keypoint_oks, 0.0).sum(axis=0)
        counts = labelled.sum(axis=0)
        return np.divide(sums, counts, out=np.full(sums.shape, np.nan), where=counts > 0)


def person_scores(metric: CocoKeypointAP, results: list[dict[str, Any]]) -> PersonScores:
    """The people AP scores (not crowd, some keypoint labelled) of ``metric``'s annotations,
    each matched to the result of its image with the highest OKS (pycocotools' OKS, the
    metric's sigmas and areas); people of images without results score 0."""
    metric._check_results(results, "person_scores")
    truth = metric._coco
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = COCOeval(truth, truth.loadRes(copy.deepcopy(results)), iouType="keypoints")
        evaluator.params.kpt_oks_sigmas = metric.sigmas
        evaluator.evaluate()
    variances = (2 * np.asarray(metric.sigmas, dtype=np.float64)) ** 2  # (K,)
    rows: list[tuple[int, float, np.ndarray]] = []
    for (image_id, category_id), oks in evaluator.ious.items():
        found = np.asarray(oks)  # (D, G): results (by score, as pycocotools orders them) x people
        results_here = evaluator._dts[image_id, category_id]
        order = np.argsort([-r["score"] for r in results_here], kind="mergesort")
        for column, person in enumerate(evaluator._gts[image_id, category_id]):
            if person.get("iscrowd", 0) or person.get("num_keypoints", 0) == 0:
                continue
            truth_kpts = np.asarray(person["keypoints"], dtype=np.float64).reshape(-1, 3)
            terms = np.where(truth_kpts[:, 2] > 0, 0.0, np.nan)  # (K,)
            best = 0.0
            if found.size:
                row = int(found[:, column].argmax())
                best = float(found[row, column])
                predicted = np.asarray(results_here[order[row]]["keypoints"]).reshape(-1, 3)
                d2 = ((predicted[:, :2] - truth_kpts[:, :2]) ** 2).sum(axis=1)  # (K,)
                exact = np.exp(-d2 / variances / (person["area"] + np.spacing(1)) / 2)
                terms = np.where(truth_kpts[:, 2] > 0, exact, np.nan)
            rows.append((int(person["id"]), best, terms))
    rows.sort(key=lambda row: row[0])
    return PersonScores(
        ids=np.array([r[0] for r in rows], dtype=np.int64),
        oks=np.array([r[1] for r in rows], dtype=np.float64),
        keypoint_oks=np.stack([r[2] for r in rows]) if rows else np.zeros((0, len(variances))),
    )
