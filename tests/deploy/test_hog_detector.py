"""OpenCV's HOG people detector (no download) as ``detector=hog`` (scripts/infer.py)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from helpers import REPO

from posekit.deploy.detections import DetectorUnavailable, HogPersonDetector

SAMPLE = REPO / "data" / "sample"


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two xywh boxes."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


@pytest.mark.skipif(not hasattr(cv2, "HOGDescriptor"), reason="OpenCV 5 has no HOG detector")
def test_hog_finds_the_annotated_people():
    """The bundled sample (real pedestrians, one annotated per image), images doubled to HOG's
    64x128 window: HOG finds the annotated person in most of the first 12 images."""
    data = json.loads((SAMPLE / "annotations" / "val.json").read_text())
    detector = HogPersonDetector(score_threshold=0.3)
    found = 0
    for image_info in data["images"][:12]:
        image = cv2.imread(str(SAMPLE / "images" / image_info["file_name"]))
        image = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), None, fx=2, fy=2)
        truth = [2 * np.array(a["bbox"]) for a in data["annotations"]
                 if a["image_id"] == image_info["id"]]
        boxes, scores = detector(image)
        assert boxes.shape == (len(scores), 4) and (scores >= 0.3).all()
        found += any(max(iou(box, t) for t in truth) > 0.3 for box in boxes)
    assert found >= 7  # HOG is coarse: 9 of 12 with IoU > 0.3 on OpenCV 4.x


def test_hog_missing_from_opencv_says_what_to_do(monkeypatch):
    monkeypatch.delattr(cv2, "HOGDescriptor", raising=False)
    with pytest.raises(DetectorUnavailable, match=r"opencv-python-headless<5"):
        HogPersonDetector()
