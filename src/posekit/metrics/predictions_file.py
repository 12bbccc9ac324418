"""``predictions.json``: the evaluated predictions in COCO results format, beside metrics.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, Sequence

import lightning as L

from posekit.core.io import write_json
from posekit.metrics.base import KeypointMetric
from posekit.metrics.coco import CocoKeypointAP


class ImageRecord(Protocol):
    """What a results entry needs of an evaluated person (``posekit.data.records.ImageRecord``)."""

    image_path: str
    image_id: int

PREDICTIONS_FILE = "predictions.json"


def prediction_results(
    metrics: Sequence[KeypointMetric], records: Sequence[ImageRecord]
) -> list[dict[str, Any]]:
    """The evaluated predictions, in original-image pixels (0-based), as a COCO results list.

    With a :class:`CocoKeypointAP` among ``metrics``, exactly the list it scored (rescored, and
    OKS-NMS filtered on detected boxes): ``image_id, category_id, keypoints, score``. Otherwise
    (MPII) one entry per person record of the validation set, in ``records`` order, with the
    image file name (``image``), the record's position (``person_index``: the column of
    ``mpii_gt_val.mat``), ``category_id`` 1 and the mean keypoint score as ``score``.
    """
    for metric in metrics:
        if isinstance(metric, CocoKeypointAP):
            return metric.results()
    states = metrics[0].predictions() if metrics else None
    if states is None:
        return []
    results = []
    for index, keypoints, scores in zip(
        states["sample_idx"].tolist(),
        states["pred_keypoints"].double().cpu().numpy(),  # (N, K, 2)
        states["pred_scores"].double().cpu().numpy(),  # (N, K)
    ):
        record = records[index]
        flat = [float(v) for xy, s in zip(keypoints, scores) for v in (*xy, s)]
        results.append(
            {
                "image_id": record.image_id,
                "image": Path(record.image_path).name,
                "person_index": index,
                "category_id": 1,
                "keypoints": flat,
                "score": float(scores.mean()),
            }
        )
    return results


def write_predictions(
    trainer: L.Trainer,
    metrics: Sequence[KeypointMetric],
    records: Sequence[ImageRecord],
    output_dir: str | Path,
    source: str | None = None,
) -> Path:
    """Write :func:`prediction_results` to ``<output_dir>/predictions.json`` (a mixture's
    ``source``: ``predictions_<source>.json``) on rank 0; every rank must call it, the results
    are gathered."""
    results = prediction_results(metrics, records)
    name = PREDICTIONS_FILE if source is None else f"predictions_{source}.json"
    path = Path(output_dir) / name
    if trainer.is_global_zero:
        write_json(path, results, indent=None)
    return path
