"""Run a trained model on images: crop each person box, estimate, map back to image pixels.

The crop is the one the evaluation data path makes (``TopDownDataset`` without augmentation):
``bbox_to_center_scale`` with the run's ``data.bbox_padding``, ``crop_affine_matrix``,
``cv2.warpAffine`` (bilinear), then the model's own normalisation, flip test and codec
decoding, and ``crop_to_image`` back. So a checkpoint predicts here exactly what its
validation scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from posekit.core.boxes import clip_bbox
from posekit.core.geometry import bbox_to_center_scale, crop_affine_matrix
from posekit.core.io import check_rgb_image, read_rgb_image
from posekit.core.spec import KeypointSpec
from posekit.metrics.coco import instance_scores
from posekit.models.checkpoint import load_model
from posekit.models.pose_module import TopDownPoseModule
from posekit.runs.folders import best_checkpoint

DEFAULT_BBOX_PADDING = 1.25


def resolve_checkpoint(path: str | Path) -> Path:
    """A ``.ckpt`` file as given; a run folder (or its ``checkpoints/``) by its best checkpoint
    (``checkpoints/best_*.ckpt``, else ``checkpoints/last.ckpt``)."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        run_dir = path.parent if path.name == "checkpoints" else path
        return best_checkpoint(run_dir)
    raise FileNotFoundError(f"checkpoint or run folder not found: {path}")


@dataclass
class PosePrediction:
    """The people of one image.

    keypoints: (M, K, 2) image pixels; scores: (M, K); boxes: (M, 4) xywh the crops were cut
    from. With ``keep_crops``: crops (M, H, W, 3) uint8 RGB network inputs, crop_keypoints
    (M, K, 2) in crop pixels and outputs, the head outputs (flip-averaged when flip test is on)
    by codec output key, each (M, K, ...).
    """

    keypoints: np.ndarray
    scores: np.ndarray
    boxes: np.ndarray
    crops: np.ndarray | None = None
    crop_keypoints: np.ndarray | None = None
    outputs: dict[str, np.ndarray] = field(default_factory=dict)


class Predictor:
    """Top-down keypoint estimation for whole images and person boxes.

    Args:
        model: a posekit LightningModule (its codec, keypoint spec and flip test setting).
        bbox_padding: the box padding the model was trained with (``data.bbox_padding``).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...

    Example::

        predictor = Predictor.from_checkpoint("logs/train/runs/<run>")
        keypoints, scores = predictor("image.jpg", boxes=np.array([[10, 20, 80, 200]]))
    """

    def __init__(
        self,
        model: TopDownPoseModule,
        bbox_padding: float = DEFAULT_BBOX_PADDING,
        device: str | torch.device = "cpu",
    ) -> None:
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {device!r} asked for, but CUDA is not available here")
        self.model = model.eval().to(self.device)
        self.codec = model.codec
        self.spec: KeypointSpec = model.spec
        self.input_size = (int(self.codec.input_size[0]), int(self.codec.input_size[1]))
        self.aspect_ratio = self.input_size[0] / self.input_size[1]
        self.bbox_padding = float(bbox_padding)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str | torch.device = "cpu",
        flip_test: bool = True,
        trusted_modules: Sequence[str] = (),
    ) -> Predictor:
        """Load a checkpoint file or the best checkpoint of a run folder; its config builds
        posekit's classes and those defined in ``trusted_modules`` only (see
        :func:`~posekit.models.checkpoint.load_model`)."""
        model = load_model(resolve_checkpoint(path), trusted_modules, flip_test=flip_test)
        padding = model.run_config.get("data", {}).get("bbox_padding", DEFAULT_BBOX_PADDING)
        return cls(model, bbox_padding=padding, device=device)

    def crop(
        self, image: np.ndarray, boxes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Crops (M, H, W, 3) uint8 of boxes (M, 4) xywh; their centres (M, 2), scales (M, 2)."""
        width, height = self.input_size
        crops = np.empty((len(boxes), height, width, 3), dtype=np.uint8)
        centers = np.empty((len(boxes), 2), dtype=np.float32)
        scales = np.empty((len(boxes), 2), dtype=np.float32)
        for i, box in enumerate(boxes):
            centers[i], scales[i] = bbox_to_center_scale(box, self.aspect_ratio, self.bbox_padding)
            matrix = crop_affine_matrix(
                centers[i], scales[i], 0.0, self.input_size, udp=self.model.udp
            )
            crops[i] = cv2.warpAffine(image, matrix, self.input_size, flags=cv2.INTER_LINEAR)
        return crops, centers, scales

    @torch.inference_mode()
    def predict(
        self,
        image: np.ndarray | str | Path,
        boxes: np.ndarray | None = None,
        batch_size: int = 64,
        keep_crops: bool = False,
    ) -> PosePrediction:
        """Keypoints of the people in ``boxes`` (M, 4) xywh; no boxes: the whole image is one."""
        image = _as_image(image)
        boxes = _as_boxes(boxes, image)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        num_keypoints = self.spec.num_keypoints
        crops, centers, scales = self.crop(image, boxes)
        keypoints = np.zeros((len(boxes), num_keypoints, 2), dtype=np.float32)
        crop_points = np.zeros_like(keypoints)
        scores = np.zeros((len(boxes), num_keypoints), dtype=np.float32)
        outputs: dict[str, list[np.ndarray]] = {key: [] for key in self.codec.output_keys}
        for start in range(0, len(boxes), batch_size):
            rows = slice(start, start + batch_size)
            batch = torch.from_numpy(crops[rows]).permute(0, 3, 1, 2).to(self.device)
            prediction = self.model.predict_crops(
                batch,  # (B, 3, H, W) uint8
                torch.from_numpy(centers[rows]).to(self.device),
                torch.from_numpy(scales[rows]).to(self.device),
            )
            keypoints[rows] = prediction.keypoints.float().cpu().numpy()
            crop_points[rows] = prediction.crop_keypoints.float().cpu().numpy()
            scores[rows] = prediction.scores.float().cpu().numpy()
            if keep_crops:
                for key in outputs:
                    outputs[key].append(prediction.decoded[key].float().cpu().numpy())
        return PosePrediction(
            keypoints=keypoints,
            scores=scores,
            boxes=boxes,
            crops=crops if keep_crops else None,
            crop_keypoints=crop_points if keep_crops else None,
            outputs={key: np.concatenate(parts) for key, parts in outputs.items() if parts},
        )

    def __call__(
        self,
        image: np.ndarray | str | Path,
        boxes: np.ndarray | None = None,
        batch_size: int = 64,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (M, K, 2) in image pixels and scores (M, K) of the boxes (M, 4) xywh."""
        prediction = self.predict(image, boxes, batch_size)
        return prediction.keypoints, prediction.scores


def _as_image(image: np.ndarray | str | Path) -> np.ndarray:
    if isinstance(image, (str, Path)):
        return read_rgb_image(str(image), "inference input")
    return check_rgb_image(image, "Predictor input (an RGB array or an image path)")


def whole_image_box(image: np.ndarray) -> np.ndarray:
    """(1, 4) float32 xywh: the whole image as one person box."""
    height, width = image.shape[:2]
    return np.array([[0.0, 0.0, width, height]], dtype=np.float32)


def _as_boxes(boxes: np.ndarray | None, image: np.ndarray) -> np.ndarray:
    """(M, 4) float32 xywh clipped to the image; None -> the whole image as one box."""
    boxes = whole_image_box(image) if boxes is None else np.asarray(boxes, dtype=np.float32)
    if boxes.size == 0:
        return np.zeros((0, 4), dtype=np.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must be (M, 4) x, y, w, h, got shape {boxes.shape}")
    bad = ~np.isfinite(boxes).all(axis=1) | (boxes[:, 2] <= 0) | (boxes[:, 3] <= 0)
    if bad.any():
        raise ValueError(
            f"boxes must be (M, 4) x, y, w, h with w, h > 0; box {int(np.flatnonzero(bad)[0])} "
            f"is {boxes[bad][0].tolist()}"
        )
    return clip_boxes(boxes, image.shape[1], image.shape[0])


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """(M, 4) xywh boxes clipped to the image as the data loader clips every box it reads
    (:func:`posekit.core.boxes.clip_bbox`: corners within 0 .. width - 1, height - 1), so a box
    reaching past the border gives the crop evaluation cut for it."""
    clipped = np.empty_like(boxes, dtype=np.float32)
    for i, box in enumerate(boxes):
        inside, problem = clip_bbox(box, width, height)
        if inside is None:
            raise ValueError(f"box {i} {box.tolist()} of a {width}x{height} image: {problem}")
        clipped[i] = inside
    return clipped


def coco_results(
    prediction: PosePrediction, box_scores: np.ndarray, image_id: int, file_name: str
) -> list[dict]:
    """COCO keypoint results of one image: image_id, file_name, category_id (1), keypoints
    [x1, y1, s1, ...] in image pixels, score (see :func:`instance_scores`) and bbox xywh."""
    scores = instance_scores(prediction.scores, box_scores)
    flat = np.concatenate(
        [prediction.keypoints, prediction.scores[..., None]], axis=-1
    )  # (M, K, 3)
    return [
        {
            "image_id": int(image_id),
            "file_name": file_name,
            "category_id": 1,
            "keypoints": [round(float(v), 3) for v in flat[i].reshape(-1)],
            "score": float(scores[i]),
            "bbox": [round(float(v), 2) for v in prediction.boxes[i]],
        }
        for i in range(len(flat))
    ]
