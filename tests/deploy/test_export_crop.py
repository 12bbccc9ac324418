"""The crop inside the exported graph (``crop_in_graph``): whole image and boxes in, image-pixel
keypoints out, cut as evaluation cuts, with no OpenCV in the deployment."""

from __future__ import annotations

import cv2
import numpy as np
import onnx
import pytest
import torch
from helpers.tiny_models import save_tiny_checkpoint

from posekit.analysis.export_check import export_drift
from posekit.analysis.loading import load_run
from posekit.core.boxes import clip_bbox, clip_boxes_batch
from posekit.core.geometry import (
    bbox_to_center_scale,
    boxes_to_center_scale,
    crop_affine_matrix,
    crop_sample_points,
    invert_affine,
)
from posekit.core.warp import sample_bilinear
from posekit.deploy.export import CroppingPoseNet, export, run_exported
from posekit.deploy.predictor import Predictor
from posekit.models.checkpoint import load_model

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


def test_boxes_are_clipped_as_the_loader_clips_them():
    clipped, kept = clip_boxes_batch(torch.from_numpy(BOXES), 120, 90)
    for box, ours, keep in zip(BOXES, clipped.numpy(), kept.tolist()):
        expected, _ = clip_bbox(box, 120, 90)
        assert keep == (expected is not None)
        if expected is not None:
            np.testing.assert_allclose(ours, expected, atol=1e-5)
    outside = torch.tensor([[200.0, 5.0, 10.0, 10.0], [5.0, 5.0, 0.0, 10.0]])
    assert clip_boxes_batch(outside, 120, 90)[1].tolist() == [False, False]


def test_centres_and_scales_are_those_of_bbox_to_center_scale():
    center, scale = boxes_to_center_scale(torch.from_numpy(BOXES), 0.75, 1.25)
    for box, c, s in zip(BOXES, center.numpy(), scale.numpy()):
        expected_c, expected_s = bbox_to_center_scale(box, 0.75, 1.25)
        np.testing.assert_allclose(c, expected_c, rtol=1e-6)
        np.testing.assert_allclose(s, expected_s, rtol=1e-6)


@pytest.mark.parametrize("udp", [False, True])
def test_sample_points_invert_the_crop_matrix(udp):
    center, scale = np.array([40.5, 33.0], np.float32), np.array([61.0, 81.3], np.float32)
    points = crop_sample_points(
        torch.from_numpy(center)[None], torch.from_numpy(scale)[None], (48, 64), udp=udp
    )[0].numpy()  # (64, 48, 2)
    inverse = invert_affine(crop_affine_matrix(center, scale, 0.0, (48, 64), udp=udp))
    ys, xs = np.mgrid[0:64, 0:48]
    expected = np.stack([xs, ys], -1) @ inverse[:, :2].T.astype(np.float64) + inverse[:, 2]
    np.testing.assert_allclose(points, expected, atol=1e-3)


def test_graph_crops_match_opencv_to_its_fixed_point_rounding():
    """cv2.warpAffine quantises positions to 1/32 pixel and weights to 1/1024; bilinear sampling
    at the exact points differs from it by rounding only."""
    image = _image(90, 120)
    center, scale = boxes_to_center_scale(torch.from_numpy(BOXES[:4]), 0.75, 1.25)
    points = crop_sample_points(center, scale, (48, 64))
    source = torch.from_numpy(image).permute(2, 0, 1)[None]
    ours = sample_bilinear(source, points.reshape(1, -1, 48, 2)).round()
    ours = ours.reshape(3, 4, 64, 48).permute(1, 2, 3, 0).numpy()  # (4, 64, 48, 3)
    for crop, c, s in zip(ours, center.numpy(), scale.numpy()):
        matrix = crop_affine_matrix(c, s, 0.0, (48, 64))
        opencv = cv2.warpAffine(image, matrix, (48, 64), flags=cv2.INTER_LINEAR)
        difference = np.abs(crop - opencv.astype(np.float32))
        assert difference.mean() < 0.25 and difference.max() <= 4


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


def test_keypoints_equal_the_predictors_where_both_sample_whole_pixels(model, exported):
    """Boxes whose crops show whole image pixels (zoom 1, integer centres): OpenCV's crop and the
    graph's are the same pixels, so the graph equals the Predictor (numpy geometry, cv2 crop,
    flip test) to float rounding, in image pixels."""
    image = _image(200, 160, seed=3)
    # 1.25 x (38.4, 51.2) = the 48 x 64 input, centres (50, 66) and (100, 120)
    boxes = np.array([[30.8, 40.4, 38.4, 51.2], [80.8, 94.4, 38.4, 51.2]], np.float32)
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


def test_the_check_reads_a_cropping_model_with_whole_images(checkpoint, exported):
    drift = export_drift(load_run(checkpoint, num_workers=0), exported, "onnx", first=4)
    assert drift.keypoints.shape == (4, 17, 2) and np.isfinite(drift.distances).all()


def test_torchscript_cannot_crop_in_the_graph(model, tmp_path):
    with pytest.raises(ValueError, match="crop_in_graph exports ONNX only"):
        export(model, tmp_path / "m.pt", "torchscript", crop_in_graph=True)
    assert isinstance(CroppingPoseNet(model), torch.nn.Module)
