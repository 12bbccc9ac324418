"""Check an exported model, in the environment at hand, against evaluation's keypoints.

The reference is the validation path of ``eval.py`` (:func:`posekit.analysis.predict_dataset`:
the data loader's crops, the PyTorch model, flip test as the run has it). The exported model
gets what a deployment gives it: each person's box clipped to the image, the crop cut by the
Predictor (:meth:`posekit.deploy.predictor.Predictor.crop`, the crop the README documents), its
outputs decoded (in the graph with ``with_decode=true``, else by the run's codec) and mapped back
with :func:`posekit.core.geometry.crop_to_image`; a model that crops in its graph
(``crop_in_graph``) gets the whole image and the boxes as they are. Any difference of OpenCV (crop interpolation),
runtime (onnxruntime, torch.jit) or decoding shows as drift, per keypoint in image pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from posekit.core.geometry import crop_to_image
from posekit.core.io import read_rgb_image
from posekit.deploy.export import CroppingPoseNet, export_codec, inputs_of, run_exported
from posekit.deploy.predictor import Predictor, clip_boxes

from .loading import Run
from .predict import predict_dataset


@dataclass
class ExportDrift:
    """Keypoint distances (px) between the exported model and evaluation.

    distances: (N, K) per validation person and keypoint; keypoints: (N, K, 2) of the exported
    model in image pixels; table: mean and max px per keypoint (rows by keypoint name);
    sample_idx: (N,) the people's validation indices; eval_keypoints: (N, K, 2) eval.py's.
    """

    distances: np.ndarray
    keypoints: np.ndarray
    table: pd.DataFrame
    sample_idx: np.ndarray
    eval_keypoints: np.ndarray

    @property
    def max_px(self) -> float:
        return float(self.distances.max())


def exported_keypoints(
    predictor: Predictor, path: str | Path, format: str, image: np.ndarray, boxes: np.ndarray
) -> np.ndarray:
    """(M, K, 2) image pixels from an exported model on the people ``boxes`` (M, 4) xywh of
    ``image`` (H, W, 3) RGB uint8, cut and mapped back as a deployment does (see the module)."""
    if format == "onnx" and inputs_of(path) == list(CroppingPoseNet.input_names):
        image_points, _ = run_exported(
            path, format, torch.from_numpy(image), torch.from_numpy(boxes.astype(np.float32))
        )
        return image_points
    height, width = image.shape[:2]
    crops, centers, scales = predictor.crop(image, clip_boxes(boxes, width, height))
    images = torch.from_numpy(crops).permute(0, 3, 1, 2).contiguous()  # (M, 3, H, W) uint8
    outputs = run_exported(path, format, images)
    codec = predictor.codec
    decoded = len(outputs) == 2 and outputs[0].ndim == 3 and outputs[1].ndim == 2
    if decoded:  # with_decode=true: keypoints (M, K, 2) crop pixels, scores (M, K)
        crop_points = torch.from_numpy(outputs[0])
    else:  # the head's raw outputs, in the order of the codec's output keys
        named = dict(zip(codec.output_keys, (torch.from_numpy(o) for o in outputs)))
        crop_points, _ = export_codec(codec).decode(named)
    return crop_to_image(
        crop_points.float(), torch.from_numpy(centers), torch.from_numpy(scales),
        predictor.input_size, udp=predictor.model.udp,
    ).numpy()


def export_drift(
    run: Run,
    path: str | Path,
    format: str = "onnx",
    first: int | None = None,
    reference: str | Path | None = None,
) -> ExportDrift:
    """Drift of the exported model at ``path`` from evaluation on ``run``'s validation set
    (``first``: its first people only). ``reference``: an ``.npz`` of :func:`save_keypoints`
    from another environment, whose eval.py keypoints (and people) are compared with instead of
    this environment's (the training machine's OpenCV against the deployment's)."""
    run.datamodule.setup("validate")
    if reference is None:
        count = len(run.datamodule.val_set)
        samples = None if first is None else range(min(first, count))
        prediction = predict_dataset(run.model, run.datamodule, samples=samples)
        sample_idx, expected = prediction.sample_idx, prediction.keypoints
    else:
        with np.load(reference, allow_pickle=False) as saved:
            sample_idx, expected = saved["sample_idx"], saved["eval_keypoints"]
    padding = float(run.config.data.get("bbox_padding", 1.25))
    predictor = Predictor(run.model, bbox_padding=padding)
    records = run.datamodule.val_set.records
    ours = np.zeros_like(expected)
    by_image: dict[str, list[int]] = {}
    for row, sample in enumerate(sample_idx.tolist()):
        by_image.setdefault(records[sample].image_path, []).append(row)
    for image_path, rows in by_image.items():
        image = read_rgb_image(image_path, "export check")
        boxes = np.stack([records[sample_idx[row]].bbox for row in rows])
        ours[rows] = exported_keypoints(predictor, path, format, image, boxes)
    distances = np.linalg.norm(ours.astype(np.float64) - expected, axis=-1)  # (N, K)
    table = pd.DataFrame(
        {"mean px": distances.mean(0), "max px": distances.max(0)},
        index=pd.Index(run.model.spec.names, name="keypoint"),
    )
    return ExportDrift(distances, ours, table, np.asarray(sample_idx), expected)


def save_keypoints(drift: ExportDrift, path: str | Path) -> Path:
    """Write the people's sample indices (N,), eval.py's keypoints and the exported model's
    (N, K, 2) to ``path`` (.npz), for ``reference=`` in another environment."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, sample_idx=drift.sample_idx, eval_keypoints=drift.eval_keypoints,
             exported_keypoints=drift.keypoints)
    return path
