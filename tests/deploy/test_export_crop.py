"""The crop inside the exported graph (``crop_in_graph``): whole image and boxes in, image-pixel
keypoints out, each crop the very crop eval.py cuts with OpenCV 4, with no OpenCV in the
deployment. The oracle is OpenCV itself (``cv2.warpAffine``) and posekit's numpy geometry."""

from __future__ import annotations

import cv2
import numpy as np
import onnx
import pytest
import torch
from helpers import compose_config
from helpers.tiny_models import TINY, load_script, save_tiny_checkpoint

from posekit.analysis.export_check import export_drift, save_keypoints
from posekit.analysis.loading import load_run
from posekit.core.boxes import clip_bbox, clip_boxes_batch
from posekit.core.geometry import (
    bbox_to_center_scale,
    boxes_to_center_scale,
    crop_affine_matrices,
    crop_affine_matrix,
)
from posekit.core.warp import opencv_warp_affine
from posekit.deploy.export import CroppingPoseNet, export, run_exported
from posekit.deploy.predictor import Predictor
from posekit.models.checkpoint import build_model, load_model, save_checkpoint

BOXES = np.array(  # wide, tall, past the top-left corner, past the bottom-right, a sliver
    [[10.0, 20.0, 80.0, 30.0], [5.5, 3.25, 20.0, 90.0], [-15.0, -8.0, 50.0, 60.0],
     [100.0, 70.0, 500.0, 400.0], [3.0, 4.0, 0.5, 2.0]], dtype=np.float32
)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "model.ckpt", head="simcc")


@pytest.fixture(scope="module")
def model(checkpoint):
    return load_model(checkpoint)


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "cropping.onnx"
    export(model, path, "onnx", flip_test=True, crop_in_graph=True)
    return path


def _image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth RGB image (H, W, 3) uint8 (noise blurred, so bilinear sampling matters)."""
    noise = np.random.default_rng(seed).random((height, width, 3)) * 255
    return cv2.GaussianBlur(noise, (0, 0), 2).clip(0, 255).astype(np.uint8)


def test_boxes_are_clipped_as_the_loader_clips_them_to_the_bit():
    clipped, kept = clip_boxes_batch(torch.from_numpy(BOXES), 120, 90)
    for box, ours, keep in zip(BOXES, clipped.numpy(), kept.tolist()):
        expected, _ = clip_bbox(box, 120, 90)
        assert keep == (expected is not None)
        if expected is not None:
            np.testing.assert_array_equal(ours, expected)
    outside = torch.tensor([[200.0, 5.0, 10.0, 10.0], [5.0, 5.0, 0.0, 10.0]])
    assert clip_boxes_batch(outside, 120, 90)[1].tolist() == [False, False]


@pytest.mark.parametrize("udp", [False, True])
def test_centres_scales_and_matrices_are_the_numpy_ones_to_the_bit(udp):
    boxes = np.random.default_rng(1).random((200, 4)).astype(np.float32) * [640, 480, 300, 400]
    center, scale = boxes_to_center_scale(torch.from_numpy(boxes), 0.75, 1.25)
    matrices = crop_affine_matrices(center, scale, (48, 64), udp=udp).numpy()
    for box, c, s, matrix in zip(boxes, center.numpy(), scale.numpy(), matrices):
        expected_c, expected_s = bbox_to_center_scale(box, 0.75, 1.25)
        np.testing.assert_array_equal(c, expected_c)
        np.testing.assert_array_equal(s, expected_s)
        np.testing.assert_array_equal(matrix, crop_affine_matrix(c, s, 0.0, (48, 64), udp=udp))


def test_the_warp_is_opencvs_to_the_level():
    """Zooms in and out, rotations, crops reaching past every border, images of odd sizes: every
    level of every crop equals cv2.warpAffine's (INTER_LINEAR, border 0)."""
    rng = np.random.default_rng(0)
    for trial in range(40):
        height, width = (int(v) for v in rng.integers(9, 400, 2))
        image = (rng.random((height, width, 3)) * 255).astype(np.uint8)
        matrices = []
        for _ in range(3):
            zoom, angle = rng.uniform(0.1, 4.0), rng.uniform(-3.2, 3.2) * (trial % 2)
            center = rng.uniform(-30, max(height, width) + 30, 2)
            linear = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
            offset = np.array([24.0, 32.0]) - zoom * linear @ center
            matrices.append(np.concatenate([zoom * linear, offset[:, None]], 1).astype(np.float32))
        ours = opencv_warp_affine(torch.from_numpy(image), torch.from_numpy(np.stack(matrices)),
                                  (48, 64)).permute(0, 2, 3, 1).numpy()
        for crop, matrix in zip(ours, matrices):
            expected = cv2.warpAffine(image, matrix, (48, 64), flags=cv2.INTER_LINEAR)
            np.testing.assert_array_equal(crop, expected.astype(np.float32))


def test_onnx_takes_any_image_size_and_number_of_boxes(exported):
    graph = onnx.load(str(exported)).graph
    assert [i.name for i in graph.input] == ["image", "boxes"]
    assert [o.name for o in graph.output] == ["keypoints", "scores"]
    image_dims = graph.input[0].type.tensor_type.shape.dim
    assert image_dims[0].dim_param and image_dims[1].dim_param and image_dims[2].dim_value == 3
    for height, width, people in ((90, 120, 5), (301, 217, 1)):
        keypoints, scores = run_exported(
            exported, "onnx", torch.from_numpy(_image(height, width)), torch.from_numpy(BOXES[:people])
        )
        assert keypoints.shape == (people, 17, 2) and scores.shape == (people, 17)


def test_keypoints_equal_the_predictors(model, exported):
    """The graph against the Predictor (numpy geometry, cv2 crops, flip test, PyTorch): the same
    crops, so the same keypoints in image pixels, up to onnxruntime's float rounding; boxes
    inside, past the borders and of both aspects."""
    image = _image(200, 160, seed=3)
    boxes = np.array([[30.8, 40.4, 38.4, 51.2], [17.3, 9.9, 101.7, 48.2], [-12.5, 150.25, 90.0, 80.0],
                      [120.6, -5.5, 77.0, 130.3]], np.float32)
    expected = Predictor(model, bbox_padding=1.25).predict(image, boxes)
    keypoints, scores = run_exported(exported, "onnx", torch.from_numpy(image),
                                     torch.from_numpy(boxes))
    np.testing.assert_allclose(keypoints, expected.keypoints, atol=1e-3)
    np.testing.assert_allclose(scores, expected.scores, atol=1e-5)


def test_a_box_with_nothing_in_the_image_scores_zero(exported):
    boxes = np.array([[10.0, 10.0, 40.0, 60.0], [500.0, 10.0, 40.0, 60.0]], np.float32)
    _, scores = run_exported(exported, "onnx", torch.from_numpy(_image(90, 120)),
                             torch.from_numpy(boxes))
    assert (scores[0] > 0).all() and (scores[1] == 0).all()


def test_the_check_finds_no_drift_in_a_cropping_model(checkpoint, exported):
    """check_export gives it whole images and the records' boxes: eval.py's keypoints."""
    drift = export_drift(load_run(checkpoint, num_workers=0), exported, "onnx", first=6)
    assert drift.keypoints.shape == (6, 17, 2) and drift.max_px < 1e-3


def test_torchscript_cannot_crop_in_the_graph(model, tmp_path):
    with pytest.raises(ValueError, match="crop_in_graph exports ONNX only"):
        export(model, tmp_path / "m.pt", "torchscript", crop_in_graph=True)
    assert isinstance(CroppingPoseNet(model), torch.nn.Module)


def test_keypoints_saved_in_one_environment_are_the_reference_in_another(checkpoint, exported,
                                                                          tmp_path):
    """save= writes eval.py's keypoints; reference= compares with them instead of this
    environment's: moved by (3, 4) px in the file, every keypoint drifts by 5 px."""
    run = load_run(checkpoint, num_workers=0)
    here = export_drift(run, exported, "onnx", first=3)
    path = save_keypoints(here, tmp_path / "eval_keypoints.npz")
    with np.load(path) as saved:
        moved = {key: saved[key] for key in saved.files}
    moved["eval_keypoints"] = moved["eval_keypoints"] + np.float32([3.0, 4.0])
    np.savez(tmp_path / "moved.npz", **moved)
    there = export_drift(run, exported, "onnx", reference=tmp_path / "moved.npz")
    np.testing.assert_array_equal(there.sample_idx, [0, 1, 2])
    np.testing.assert_allclose(there.distances, 5.0, atol=1e-3)


def test_the_export_command_pads_boxes_as_the_run_did(tmp_path):
    """export.py crop_in_graph=true on a run trained with data.bbox_padding=1.5: the graph pads
    by 1.5 (the Predictor of that checkpoint reads the same setting), not the default 1.25."""
    torch.manual_seed(0)
    model = build_model(compose_config("train", [*TINY, "data.bbox_padding=1.5"], tmp_path))
    checkpoint = save_checkpoint(model, tmp_path / "padded.ckpt")
    path = tmp_path / "padded.onnx"
    load_script("export").main([f"ckpt_path={checkpoint}", f"out={path}", "crop_in_graph=true"])
    predictor = Predictor.from_checkpoint(checkpoint, flip_test=False)
    assert predictor.bbox_padding == 1.5
    image = _image(200, 160, seed=4)
    boxes = np.array([[17.3, 9.9, 101.7, 48.2], [40.0, 30.0, 60.0, 120.0]], np.float32)
    keypoints, _ = run_exported(path, "onnx", torch.from_numpy(image), torch.from_numpy(boxes))
    np.testing.assert_allclose(keypoints, predictor.predict(image, boxes).keypoints, atol=1e-3)


def test_check_export_saves_and_reads_eval_keypoints(checkpoint, exported, tmp_path, capsys):
    """check_export.py save= then reference= (as on the training machine, then the deployment's)."""
    check_export = load_script("check_export")
    saved = tmp_path / "eval.npz"
    common = [f"exported={exported}", f"ckpt_path={checkpoint}", "samples=3",
              "data.num_workers=0"]
    check_export.main([*common, f"save={saved}"])
    with np.load(saved) as arrays:
        assert arrays["eval_keypoints"].shape == arrays["exported_keypoints"].shape == (3, 17, 2)
    assert check_export.main([*common, f"reference={saved}"]) < 1e-3
    assert f"against eval.py's keypoints of {saved}" in capsys.readouterr().out
