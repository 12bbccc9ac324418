"""Run a model over a validation set and keep per-sample arrays, as the evaluation sees them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from posekit.data.datamodule import TopDownDataModule
from posekit.models.pose_module import TopDownPoseModule


@dataclass
class SampleOutputs:
    """The network's view of one sample: its crop, the truth in crop pixels, the head outputs.

    ``outputs`` are the (flip-averaged, when the model flip-tests) head outputs the codec
    decodes, one entry per ``codec.output_keys``: ``simcc_x`` (K, Wx) and ``simcc_y`` (K, Hy)
    logits, or ``heatmaps`` (K, h, w).
    """

    image: np.ndarray  # (H, W, 3) uint8 RGB crop of the network input size
    keypoints: np.ndarray  # (K, 2) truth in crop pixels
    visible: np.ndarray  # (K,) 1 where labelled
    predicted: np.ndarray  # (K, 2) prediction in crop pixels
    outputs: dict[str, np.ndarray]


@dataclass
class Predictions:
    """Per-sample arrays of one evaluation, in data set order (N samples, K keypoints)."""

    keypoints: np.ndarray  # (N, K, 2) predictions in image pixels
    scores: np.ndarray  # (N, K)
    gt_keypoints: np.ndarray  # (N, K, 3) truth in image pixels and visibility
    boxes: np.ndarray  # (N, 4) person boxes xywh
    box_scores: np.ndarray  # (N,)
    areas: np.ndarray  # (N,) annotation areas (0 where unknown)
    sample_idx: np.ndarray  # (N,) index into the data set
    image_ids: np.ndarray  # (N,)
    image_paths: list[str]  # (N,)
    samples: dict[int, SampleOutputs] = field(default_factory=dict)  # by sample index
    crop_scales: np.ndarray | None = None  # (N, 2) crop (w, h) in image pixels

    def __len__(self) -> int:
        return len(self.sample_idx)

    def position(self, sample: int) -> int:
        """Row of data set sample ``sample``."""
        rows = np.flatnonzero(self.sample_idx == sample)
        if rows.size == 0:
            raise KeyError(f"sample {sample} was not predicted")
        return int(rows[0])


@torch.no_grad()
def predict_dataset(
    model: TopDownPoseModule,
    datamodule: TopDownDataModule,
    keep_outputs: Iterable[int] = (),
    samples: Sequence[int] | None = None,
) -> Predictions:
    """Predict every validation sample (or only ``samples``) as ``trainer.validate`` does:
    normalise, forward, flip test when the model has it on, decode, map to image pixels.

    Args:
        keep_outputs: sample indices whose crop and head outputs are kept in ``.samples``.
        samples: sample indices to predict; None predicts the whole validation set.
    """
    datamodule.setup("validate")
    dataset = datamodule.val_set
    keep = {int(i) for i in keep_outputs}
    if samples is not None:
        dataset = Subset(dataset, [int(i) for i in samples])
    loader = DataLoader(
        dataset,
        batch_size=datamodule.val_batch_size,
        shuffle=False,
        num_workers=datamodule.num_workers,
    )
    model.eval()
    device = next(model.parameters()).device
    columns: dict[str, list[np.ndarray]] = {}
    kept: dict[int, SampleOutputs] = {}
    for batch in loader:
        prediction = model.predict_crops(
            batch["image"].to(device), batch["center"].to(device), batch["scale"].to(device)
        )
        crop_keypoints = prediction.crop_keypoints  # (B, K, 2) crop pixels
        outputs = prediction.decoded
        arrays = {
            "keypoints": prediction.keypoints,  # (B, K, 2) image pixels
            "scores": prediction.scores,  # (B, K)
            "gt_keypoints": batch["gt_keypoints"],
            "boxes": batch["bbox"], "box_scores": batch["bbox_score"], "areas": batch["area"],
            "crop_scales": batch["scale"],
            "sample_idx": batch["sample_idx"], "image_ids": batch["image_id"],
        }
        for name, value in arrays.items():
            columns.setdefault(name, []).append(value.cpu().numpy())
        for row, sample in enumerate(batch["sample_idx"].tolist()):
            if sample in keep:
                kept[sample] = SampleOutputs(
                    image=batch["image"][row].permute(1, 2, 0).numpy().copy(),
                    keypoints=batch["keypoints"][row].numpy(),
                    visible=batch["keypoint_visible"][row].numpy(),
                    predicted=crop_keypoints[row].cpu().numpy(),
                    outputs={key: value[row].cpu().numpy() for key, value in outputs.items()},
                )
    if not columns:
        raise ValueError("the validation set is empty")
    stacked = {name: np.concatenate(parts) for name, parts in columns.items()}
    records = datamodule.val_set.records
    paths = [records[i].image_path for i in stacked["sample_idx"]]
    return Predictions(**stacked, image_paths=paths, samples=kept)


def evaluate_predictions(
    predictions: Predictions, datamodule: TopDownDataModule, prefix: str = "val/"
) -> dict[str, float]:
    """The data set's metrics (``datamodule.build_metrics()``) of ``predictions``, named as in
    ``metrics.json`` (``val/PCK@0.05``, ``val/AP``, ...)."""
    columns = {
        "sample_idx": predictions.sample_idx, "gt_keypoints": predictions.gt_keypoints,
        "bbox": predictions.boxes, "bbox_score": predictions.box_scores,
        "image_id": predictions.image_ids, "area": predictions.areas,
        "scale": predictions.crop_scales,
    }  # META_KEYS
    meta = {key: torch.from_numpy(value) for key, value in columns.items() if value is not None}
    results: dict[str, float] = {}
    for metric in datamodule.build_metrics():
        metric.update(
            torch.from_numpy(predictions.keypoints), torch.from_numpy(predictions.scores), meta
        )
        results.update({f"{prefix}{k}": float(v) for k, v in metric.compute().items()})
    return dict(sorted(results.items()))
