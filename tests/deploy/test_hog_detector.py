"""OpenCV's HOG people detector (no download) as ``--detector hog``."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from posekit.deploy.detections import DetectorUnavailable, HogPersonDetector


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two xywh boxes."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


@pytest.mark.skipif(not hasattr(cv2, "HOGDescriptor"), reason="OpenCV 5 has no HOG detector")
def test_hog_finds_the_annotated_people(fixtures_dir):
    folder = fixtures_dir / "aic"
    data = json.loads((folder / "test_aic.json").read_text())
    image_info = data["images"][2]  # three standing people; HOG finds two of them
    image = cv2.cvtColor(cv2.imread(str(folder / image_info["file_name"])), cv2.COLOR_BGR2RGB)
    truth = [np.array(a["bbox"]) for a in data["annotations"] if a["image_id"] == image_info["id"]]
    boxes, scores = HogPersonDetector(score_threshold=0.3)(image)
    assert boxes.shape == (len(scores), 4) and (scores >= 0.3).all()
    matched = [max(iou(box, t) for t in truth) > 0.45 for box in boxes]
    assert sum(matched) >= 2  # HOG is coarse: two of the three people with IoU > 0.45


def test_hog_missing_from_opencv_says_what_to_do(monkeypatch):
    monkeypatch.delattr(cv2, "HOGDescriptor", raising=False)
    with pytest.raises(DetectorUnavailable, match=r"opencv-python-headless<5"):
        HogPersonDetector()
