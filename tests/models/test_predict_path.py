"""One predict path: eval.py, the Predictor, the exported ONNX model and the notebook helpers
give the same keypoints for the same people of the sample.

Each entry point is used as a user would: ``eval.py`` writes ``predictions.json`` (COCO results,
image pixels), the Predictor takes the image and the person boxes, the ONNX file takes the crops
(uint8, at the model's input size) and returns crop pixels that the README's formula maps back,
and ``posekit.analysis`` predicts the validation set. The crop geometry for the ONNX model is
computed here from the README's formula, independently of posekit's geometry module.
"""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from helpers import REPO
from helpers.tiny_models import save_tiny_checkpoint

from posekit import analysis as pa
from posekit.deploy.export import export
from posekit.deploy.predictor import Predictor
from posekit.models.checkpoint import load_model

ATOL = 1e-3  # pixels; eval.py rounds nothing, the ONNX runtime differs in float rounding


@pytest.fixture(scope="module", params=["simcc", "heatmap"])
def checkpoint(request, tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp(request.param) / "model.ckpt",
                                head=request.param)


def readme_crop(image: np.ndarray, box: np.ndarray, size: tuple[int, int]):
    """The crop of README's formula: the box widened to the input aspect, padded 1.25, centred."""
    width, height = size
    x, y, w, h = box
    center = np.array([x + w / 2, y + h / 2])
    w, h = (w, w * height / width) if w > h * width / height else (h * width / height, h)
    scale_w = w * 1.25
    zoom = width / scale_w
    matrix = np.array([[zoom, 0, width / 2 - zoom * center[0]],
                       [0, zoom, height / 2 - zoom * center[1]]], dtype=np.float32)
    crop = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR)
    return crop, center, scale_w


@pytest.mark.slow
def test_eval_predictor_onnx_and_notebook_give_the_same_keypoints(checkpoint, tmp_path):
    run = tmp_path / "eval"
    done = subprocess.run(
        [sys.executable, "eval.py", f"ckpt_path={checkpoint}", f"hydra.run.dir={run}",
         "data.num_workers=0", "trainer.accelerator=cpu"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((run / "predictions.json").read_text())

    # the notebook helpers: every validation person, in data set order
    loaded = pa.load_run(checkpoint, num_workers=0)
    notebook = pa.predict_dataset(loaded.model, loaded.datamodule)
    records = loaded.datamodule.val_set.records
    people = notebook.sample_idx[:12]

    # eval.py's predictions.json lists the same people (ground-truth boxes) in the same order
    from_eval = np.array([r["keypoints"] for r in results], dtype=np.float64).reshape(
        len(results), -1, 3)[..., :2]
    assert len(results) == len(notebook)
    np.testing.assert_allclose(from_eval[people], notebook.keypoints[people], atol=ATOL)

    predictor = Predictor.from_checkpoint(checkpoint)
    model = load_model(checkpoint)
    onnx_path = tmp_path / "model.onnx"
    export(model, onnx_path, format="onnx", with_decode=True, flip_test=True)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    size = tuple(int(v) for v in model.codec.input_size)
    for row in people:
        record = records[row]
        image = cv2.cvtColor(cv2.imread(record.image_path), cv2.COLOR_BGR2RGB)
        keypoints, _ = predictor(image, record.bbox[None])
        np.testing.assert_allclose(keypoints[0], notebook.keypoints[row], atol=ATOL)

        crop, center, scale_w = readme_crop(image, record.bbox, size)
        crop_points, _ = session.run(None, {"image": crop.transpose(2, 0, 1)[None].copy()})
        half = np.array([size[0] / 2, size[1] / 2])
        from_onnx = (crop_points[0] - half) * scale_w / size[0] + center  # README's formula
        np.testing.assert_allclose(from_onnx, notebook.keypoints[row], atol=ATOL)
