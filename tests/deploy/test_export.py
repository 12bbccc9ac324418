"""ONNX and TorchScript export: parity with PyTorch, dynamic batch, decoding in the graph."""

from __future__ import annotations

from copy import deepcopy

import numpy as np
import onnx
import pytest
import torch
from helpers.tiny_models import load_script, save_tiny_checkpoint

from posekit.deploy.export import (
    ExportablePoseNet,
    ParityError,
    check_parity,
    export,
    run_exported,
)
from posekit.models.checkpoint import load_model
from posekit.models.predict import identity_crops, predict_crops


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    return {
        head: load_model(save_tiny_checkpoint(folder / f"{head}.ckpt", head))
        for head in ("simcc", "heatmap")
    }


def _crops(batch: int) -> torch.Tensor:
    return torch.randint(
        0, 256, (batch, 3, 64, 48), generator=torch.Generator().manual_seed(5), dtype=torch.uint8
    )


def test_onnx_outputs_the_head_with_a_dynamic_batch(models, tmp_path):
    path = tmp_path / "simcc.onnx"
    difference = export(models["simcc"], path, "onnx")
    assert difference <= 1e-4
    graph = onnx.load(str(path)).graph
    assert [o.name for o in graph.output] == ["simcc_x", "simcc_y"]
    (image,) = graph.input
    assert image.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert image.type.tensor_type.shape.dim[0].dim_param  # symbolic batch
    simcc_x, simcc_y = run_exported(path, "onnx", _crops(5))
    assert simcc_x.shape == (5, 17, 96) and simcc_y.shape == (5, 17, 128)


def _expected(model, crops: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """What evaluation decodes (with flip test) from these crops."""
    center, scale = identity_crops(crops.shape[0], model.codec.input_size, crops.device)
    with torch.no_grad():
        prediction = predict_crops(model, crops, center, scale, flip_test=True)
    return prediction.crop_keypoints.numpy(), prediction.scores.numpy()


def test_onnx_heatmap_with_decode_and_flip_matches_the_module(models, tmp_path):
    path = tmp_path / "heatmap.onnx"
    export(models["heatmap"], path, "onnx", with_decode=True, flip_test=True)
    keypoints, scores = run_exported(path, "onnx", _crops(4))
    expected, expected_scores = _expected(models["heatmap"], _crops(4))
    np.testing.assert_allclose(keypoints, expected, atol=1e-4)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-4)


def test_torchscript_float_input(models, tmp_path):
    path = tmp_path / "heatmap.pt"
    assert export(models["heatmap"], path, "torchscript", input_dtype="float32") <= 1e-4
    (heatmaps,) = run_exported(path, "torchscript", _crops(2).float())
    assert heatmaps.shape == (2, 17, 8, 6)


def test_parity_check_fails_on_a_different_model(models, tmp_path):
    path = tmp_path / "simcc.pt"
    export(models["simcc"], path, "torchscript")
    changed = ExportablePoseNet(deepcopy(models["simcc"])).eval()
    with torch.no_grad():
        changed.head.mlp_x.bias.add_(1.0)
    with pytest.raises(ParityError, match="differs from the PyTorch model"):
        check_parity(changed, path, "torchscript")


def test_dark_codec_exports_plain_decoding(models, tmp_path, caplog):
    model = deepcopy(models["heatmap"])
    model.codec.unbiased = True
    export(model, tmp_path / "dark.pt", "torchscript", with_decode=True)
    assert "DARK" in caplog.text
    assert model.codec.unbiased  # the model's own codec is left alone


def test_export_script_simcc_with_decode_and_flip_matches_the_module(models, tmp_path, capsys):
    checkpoint = save_tiny_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    path = tmp_path / "model.onnx"
    load_script("export").main([f"ckpt_path={tmp_path / 'run'}", "format=onnx",
                                "with_decode=true", "flip_test=true", f"out={path}"])
    output = capsys.readouterr().out
    assert "max abs difference to PyTorch" in output and str(checkpoint) in output
    assert [o.name for o in onnx.load(str(path)).graph.output] == ["keypoints", "scores"]
    keypoints, scores = run_exported(path, "onnx", _crops(4))
    expected, expected_scores = _expected(load_model(checkpoint), _crops(4))
    np.testing.assert_allclose(keypoints, expected, atol=1e-4)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-4)


@pytest.mark.parametrize("head", ["rle", "udp"])
def test_family_exports_with_decode_and_flip(head, tmp_path, caplog):
    """RLE decodes sigma in the graph; UDP exports its argmax decoding (with a warning)."""
    model = load_model(save_tiny_checkpoint(tmp_path / f"{head}.ckpt", head))
    assert export(model, tmp_path / f"{head}.pt", "torchscript", with_decode=True,
                  flip_test=True) <= 1e-4
    keypoints, scores = run_exported(tmp_path / f"{head}.pt", "torchscript", _crops(2))
    assert keypoints.shape == (2, 17, 2) and scores.shape == (2, 17)
    if head == "udp":
        assert "DARK-UDP" in caplog.text and model.codec.refine
        unrefined = deepcopy(model)
        unrefined.codec.refine = False
        expected, _ = _expected(unrefined, _crops(2))
        np.testing.assert_allclose(keypoints, expected, atol=1e-4)
