"""Person boxes for inference: from a detections file or from a torchvision detector.

A detections file is JSON in one of two forms:

* COCO results, a list ``[{"image_id": 397133, "bbox": [x, y, w, h], "score": 0.98,
  "category_id": 1}, ...]``: ``image_id`` is the image's id in the annotation file given to
  ``scripts/infer.py annotations=`` (matched to the input images by file name), else the
  0-based position of the image in the input (its index in the name-sorted folder, the frame
  number of a video, 0 for one image). Entries whose ``category_id`` is not 1 (person) are
  skipped; ``score`` defaults to 1.
* A mapping ``{"<image file name>": [[x, y, w, h], [x, y, w, h, score], ...]}`` (for a video,
  the keys are frame numbers: ``"0"``, ``"1"``, ...); a key names an image by its path, matched
  by the longest common tail of path components (:class:`posekit.deploy.image_ids.NameIndex`).

Boxes scoring below the threshold are dropped. :meth:`DetectionsFile.check_matches` refuses a
file none of whose entries names an input image, and warns when only some do.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from posekit.core.io import read_json
from posekit.deploy.image_ids import NameIndex, preview

PERSON_CATEGORY = 1  # COCO's person id, also torchvision's detection label for a person


class DetectorUnavailable(RuntimeError):
    """The person detector's weights cannot be loaded here."""


def _as_boxes(rows: list[list[float]], where: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows of [x, y, w, h] or [x, y, w, h, score] -> boxes (M, 4), scores (M,)."""
    boxes = np.zeros((len(rows), 4), dtype=np.float32)
    scores = np.ones(len(rows), dtype=np.float32)
    for i, row in enumerate(rows):
        if len(row) not in (4, 5):
            raise ValueError(
                f"{where}: box {i} is {row}; expected [x, y, w, h] or [x, y, w, h, score]"
            )
        boxes[i] = row[:4]
        if len(row) == 5:
            scores[i] = row[4]
    return boxes, scores


class DetectionsFile:
    """Boxes per input image from a detections JSON (see the module docstring)."""

    def __init__(self, path: str | Path, score_threshold: float = 0.0) -> None:
        self.path = Path(path)
        self.score_threshold = score_threshold
        content = read_json(self.path, "detections file")
        self.by_index: dict[int, list[list[float]]] = {}
        self.by_name: dict[str, list[list[float]]] = {}
        if isinstance(content, list):
            for n, entry in enumerate(content):
                if "image_id" not in entry or "bbox" not in entry:
                    raise ValueError(
                        f"{self.path}: entry {n} lacks image_id or bbox (COCO results format)"
                    )
                if entry.get("category_id", PERSON_CATEGORY) != PERSON_CATEGORY:
                    continue
                row = [*entry["bbox"], entry.get("score", 1.0)]
                self.by_index.setdefault(int(entry["image_id"]), []).append(row)
        elif isinstance(content, dict):
            self.by_name = {str(name): list(rows) for name, rows in content.items()}
            self.names = NameIndex(self.by_name)
        else:
            raise ValueError(
                f"{self.path}: expected a COCO results list or a {{file name: boxes}} mapping, "
                f"got {type(content).__name__}"
            )

    def boxes(self, index: int, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (M, 4) xywh and scores (M,) of input ``index`` named ``name``."""
        if self.by_index:
            rows = self.by_index.get(index, [])
        else:
            rows = self.by_name.get(name) or self.by_name.get(self.names.key(name) or "", [])
        boxes, scores = _as_boxes(rows, f"{self.path} ({name})")
        keep = scores >= self.score_threshold
        return boxes[keep], scores[keep]

    def check_matches(self, images: Sequence[tuple[int, str]], ids_from: str) -> None:
        """Refuse a file none of whose entries names one of ``images`` (image id, file name);
        warn about the entries that name none. ``ids_from`` says where the images' ids came
        from (for the message)."""
        if self.by_index:
            ids = {image_id for image_id, _ in images}
            unmatched = [key for key in self.by_index if key not in ids]
            seen, expected = f"image_id {preview(self.by_index)}", f"{ids_from} {preview(ids)}"
        elif self.by_name:
            names = NameIndex({name: name for _, name in images})
            unmatched = [key for key in self.by_name if names.key(key) is None]
            seen = f"file names {preview(self.by_name)}"
            expected = f"the input's file names {preview(name for _, name in images)}"
        else:
            return
        keys = self.by_index or self.by_name
        if len(unmatched) == len(keys):
            raise ValueError(
                f"detections file {self.path}: none of its entries names an input image. It "
                f"names {seen}; the images are {expected}. COCO detections name images by their "
                "annotation file's ids: pass annotations=<the set's json>"
            )
        if unmatched:
            warnings.warn(
                f"detections file {self.path}: {len(unmatched)} of {len(keys)} images it names "
                f"are not in the input ({preview(unmatched)}); their boxes are not used",
                stacklevel=2,
            )


class PersonDetector:
    """Person boxes from a torchvision detection model (boxes xyxy, labels, scores)."""

    def __init__(
        self, model: torch.nn.Module, score_threshold: float = 0.5, device: str = "cpu"
    ) -> None:
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        self.score_threshold = score_threshold

    @torch.inference_mode()
    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """RGB (H, W, 3) uint8 -> person boxes (M, 4) xywh and scores (M,)."""
        tensor = torch.from_numpy(image).permute(2, 0, 1).float().div(255).to(self.device)
        (result,) = self.model([tensor])
        keep = (result["labels"] == PERSON_CATEGORY) & (result["scores"] >= self.score_threshold)
        xyxy = result["boxes"][keep].float().cpu().numpy().reshape(-1, 4)
        boxes = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
        return boxes.astype(np.float32), result["scores"][keep].float().cpu().numpy()


def load_torchvision_detector(score_threshold: float = 0.5, device: str = "cpu") -> PersonDetector:
    """torchvision's COCO Faster R-CNN (ResNet-50 FPN v2) as a person detector.

    The weights come from the torch hub cache (``$TORCH_HOME``) or are downloaded; raises
    DetectorUnavailable when neither works.
    """
    from torchvision.models.detection import (
        FasterRCNN_ResNet50_FPN_V2_Weights,
        fasterrcnn_resnet50_fpn_v2,
    )

    try:
        model = fasterrcnn_resnet50_fpn_v2(weights=FasterRCNN_ResNet50_FPN_V2_Weights.DEFAULT)
    except Exception as err:  # no network, no cached file, a corrupt download, ...
        raise DetectorUnavailable(
            f"no detector weights are available ({type(err).__name__}: {err}); put "
            f"{FasterRCNN_ResNet50_FPN_V2_Weights.DEFAULT.url.rsplit('/', 1)[-1]} into the torch "
            "hub cache ($TORCH_HOME/hub/checkpoints) or pass detections=<boxes.json>"
        ) from err
    return PersonDetector(model, score_threshold=score_threshold, device=device)


class HogPersonDetector:
    """OpenCV's HOG + linear SVM pedestrian detector (Dalal and Triggs), which ships with
    OpenCV 4 (no download): upright people of at least about 64x128 pixels. Scores are the
    SVM margins (about 0 to 3), not probabilities; boxes below ``score_threshold`` are dropped.
    """

    def __init__(self, score_threshold: float = 0.3, scale: float = 1.05) -> None:
        if not hasattr(cv2, "HOGDescriptor"):
            raise DetectorUnavailable(
                f"OpenCV {cv2.__version__} has no HOG people detector (OpenCV 5 moved it out of "
                "the main package); install opencv-python-headless<5, or use detector="
                "torchvision or detections=<boxes.json>"
            )
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.score_threshold = score_threshold
        self.scale = scale

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """RGB (H, W, 3) uint8 -> person boxes (M, 4) xywh and scores (M,)."""
        rects, weights = self.hog.detectMultiScale(
            cv2.cvtColor(image, cv2.COLOR_RGB2BGR), winStride=(8, 8), padding=(8, 8),
            scale=self.scale,
        )
        boxes = np.asarray(rects, dtype=np.float32).reshape(-1, 4)  # (M, 4) xywh
        scores = np.asarray(weights, dtype=np.float32).reshape(-1)  # (M,)
        keep = scores >= self.score_threshold
        return boxes[keep], scores[keep]
