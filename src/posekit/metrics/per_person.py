"""A score per ground-truth person, for paired comparisons of two models on the same people."""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any

import numpy as np
from pycocotools.cocoeval import COCOeval

from posekit.metrics.coco import CocoKeypointAP


def person_oks(metric: CocoKeypointAP, results: list[dict[str, Any]]) -> dict[int, float]:
    """Annotation id -> the best OKS of that person among its image's results (pycocotools'
    OKS with the metric's sigmas and annotations), 0 where the image has none; crowd regions
    and people without labelled keypoints, which AP ignores, are left out."""
    metric._check_results(results, "person_oks")
    truth = metric._coco
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = COCOeval(truth, truth.loadRes(copy.deepcopy(results)), iouType="keypoints")
        evaluator.params.kpt_oks_sigmas = metric.sigmas
        evaluator.evaluate()
    best: dict[int, float] = {}
    for (image_id, category_id), oks in evaluator.ious.items():
        for column, person in enumerate(evaluator._gts[image_id, category_id]):
            if not person.get("iscrowd", 0) and person.get("num_keypoints", 0) > 0:
                found = np.asarray(oks)  # (D, G) detections x people, or empty
                best[person["id"]] = float(found[:, column].max()) if found.size else 0.0
    return dict(sorted(best.items()))
