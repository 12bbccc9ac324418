"""Importing published HRNet / SimCC / mmpose checkpoints.

The published files cannot be downloaded here, so the tests build state dicts with their tensor
names: posekit's own state dict renamed, by hand-written renames independent of the import
rules, into the names of the official code (``conv1.weight``, ``layer1.0.conv1.weight``,
``transition1.0.0.weight``, ``stage2.0.branches.0.0.conv1.weight``, ``final_layer.weight``,
``mlp_head_x.weight``; mmpose: ``backbone.`` and ``head.`` prefixes).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from helpers import REPO, compose_config
from helpers.tiny_models import load_script

from posekit.deploy.import_weights import (
    ConversionError,
    convert_state_dict,
    load_source_state_dict,
)
from posekit.models.checkpoint import CheckpointError, build_model, load_model

# hrnet_w18_small has the official HRNet names with fewer blocks; 64x64 crops
SMALL = ["model.backbone.name=hrnet_w18_small", "data.input_size=[64,64]"]
SMALL_HEATMAP = [*SMALL, "model.codec.heatmap_size=[16,16]"]
EXPERIMENTS = {
    "hrnet": "hrnet_heatmap_coco",
    "simcc": "hrnet_simcc_coco",
    "mmpose": "hrnet_simcc_coco",
}
PUBLISHED_NAMES = {  # from pose_hrnet_w32_256x192.pth and the SimCC w32 256x192 checkpoint
    "conv1.weight": (64, 3, 3, 3),
    "layer1.0.conv1.weight": (64, 64, 1, 1),
    "transition1.0.0.weight": (32, 256, 3, 3),
    "transition1.1.0.0.weight": (64, 256, 3, 3),
    "stage2.0.branches.0.0.conv1.weight": (32, 32, 3, 3),
    "stage2.0.fuse_layers.0.1.0.weight": (32, 64, 1, 1),
    "stage2.0.fuse_layers.1.0.0.0.weight": (64, 32, 3, 3),
    "stage4.2.fuse_layers.0.3.0.weight": (32, 256, 1, 1),
    "final_layer.weight": (17, 32, 1, 1),
    "mlp_head_x.weight": (384, 3072),
    "mlp_head_y.weight": (512, 3072),
}


def official_names(state: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """posekit's tensors under the names a published checkpoint of ``source`` uses."""
    renamed = {}
    for key, value in state.items():
        if key in ("pixel_mean", "pixel_std"):
            continue
        key = key.replace("backbone.body.", "")
        key = key.replace("head.final.", "final_layer.")
        key = key.replace("head.mlp_x.", "mlp_head_x.").replace("head.mlp_y.", "mlp_head_y.")
        if source == "mmpose":
            key = (
                f"head.{key}" if key.startswith(("final_layer", "mlp_head")) else f"backbone.{key}"
            )
        renamed[key] = value.clone()
    return renamed


def _model(source: str, tmp_path, seed: int, extra: list[str] | None = None):
    """The posekit model of the experiment ``source`` imports into, small unless ``extra``."""
    if extra is None:
        extra = SMALL_HEATMAP if EXPERIMENTS[source].startswith("hrnet_heatmap") else SMALL
    torch.manual_seed(seed)
    overrides = [f"experiment={EXPERIMENTS[source]}", "model.backbone.pretrained=false", *extra]
    model = build_model(compose_config("train", overrides, tmp_path))
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
            module.num_batches_tracked.fill_(1000)
    return model.eval()


def test_published_w32_names_and_shapes_map_completely(tmp_path):
    target = _model("simcc", tmp_path, seed=0, extra=[])
    published = official_names(target.state_dict(), "simcc")
    for key, shape in PUBLISHED_NAMES.items():
        assert tuple(published[key].shape) == shape, key
    converted, report = convert_state_dict(published, target, "simcc")
    assert not report.unmapped_source and not report.unset_target
    assert len(report.mapped) == len(published)
    assert report.mapped["backbone.body.stage2.0.fuse_layers.1.0.0.0.weight"] == (
        "stage2.0.fuse_layers.1.0.0.0.weight"
    )


@pytest.mark.parametrize("source", ["hrnet", "simcc", "mmpose"])
def test_import_reproduces_the_source_outputs(source, tmp_path):
    original = _model(source, tmp_path, seed=0)
    published = official_names(original.state_dict(), source)
    fresh = _model(source, tmp_path, seed=1)
    converted, report = convert_state_dict(published, fresh, source)
    assert not report.unmapped_source and not report.unset_target and not report.kept_counters
    fresh.load_state_dict(converted)
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected, actual = original(images), fresh(images)
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], rtol=0, atol=0)


def test_import_script_writes_a_checkpoint_eval_loads(tmp_path, capsys):
    original = _model("hrnet", tmp_path, seed=0)
    published = official_names(original.state_dict(), "hrnet")
    for key in [k for k in published if k.endswith("num_batches_tracked")]:
        del published[key]  # as in checkpoints saved before PyTorch 0.4.1
    source = tmp_path / "pose_hrnet_small.pth"
    torch.save({f"module.{k}": v for k, v in published.items()}, source)  # DataParallel names
    out = tmp_path / "imported.ckpt"
    load_script("import_checkpoint").main(
        [
            "source=hrnet",
            f"checkpoint={source}",
            "experiment=hrnet_heatmap_coco",
            f"out={out}",
            *SMALL_HEATMAP,
        ]
    )
    assert "BatchNorm step counters" in capsys.readouterr().out
    imported = load_model(out)
    assert imported.run_config["experiment_name"] == "hrnet_heatmap_coco"
    images = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(imported(images)["heatmaps"], original(images)["heatmaps"])
    checkpoint = torch.load(out, map_location="cpu", weights_only=False)
    assert checkpoint["posekit_import"]["source"] == "hrnet"


def test_extra_source_tensors_and_unset_targets_are_reported(tmp_path):
    target = _model("hrnet", tmp_path, seed=0)
    published = official_names(target.state_dict(), "hrnet")
    published["incre_modules.0.0.conv1.weight"] = torch.zeros(32, 32, 1, 1)  # ImageNet HRNet
    published["classifier.weight"] = torch.zeros(1000, 2048)
    published["stage4.0.fuse_layers.1.0.0.0.weight"] = torch.zeros(32, 16, 3, 3)  # multi-scale
    with pytest.raises(ConversionError, match="incre_modules.0.0.conv1.weight: no hrnet rule"):
        convert_state_dict(published, target, "hrnet")
    _, report = convert_state_dict(published, target, "hrnet", allow_unmapped=True)
    assert set(report.unmapped_source) == {
        "incre_modules.0.0.conv1.weight",
        "classifier.weight",
        "stage4.0.fuse_layers.1.0.0.0.weight",
    }
    assert "posekit model lacks" in report.unmapped_source["stage4.0.fuse_layers.1.0.0.0.weight"]

    del published["final_layer.bias"]
    with pytest.raises(ConversionError, match=r"left unset:\n  head.final.bias"):
        convert_state_dict(published, target, "hrnet", allow_unmapped=True)


def test_shape_mismatch_names_both_keys(tmp_path):
    target = _model("hrnet", tmp_path, seed=0)
    published = official_names(target.state_dict(), "hrnet")
    published["final_layer.weight"] = torch.zeros(16, 16, 1, 1)  # MPII: 16 keypoints
    with pytest.raises(
        ConversionError,
        match=r"source final_layer.weight \(16, 16, 1, 1\) -> "
        r"posekit head.final.weight \(17, 16, 1, 1\)",
    ):
        convert_state_dict(published, target, "hrnet")


def test_loading_mmpose_checkpoints_and_bad_files(tmp_path):
    path = tmp_path / "mmpose.pth"
    torch.save(
        {
            "meta": {"epoch": 210},
            "state_dict": {"backbone.conv1.weight": torch.ones(1)},
            "optimizer": {},
        },
        path,
    )
    assert list(load_source_state_dict(path)) == ["backbone.conv1.weight"]
    with pytest.raises(FileNotFoundError, match="not found"):
        load_source_state_dict(tmp_path / "missing.pth")
    torch.save([1, 2], path)
    with pytest.raises(CheckpointError, match=r"mmpose.pth holds a list, not a dict of tensors"):
        load_source_state_dict(path)
    with pytest.raises(ConversionError, match="unknown source"):
        convert_state_dict({}, {}, "openpose")


@pytest.mark.slow
def test_eval_py_scores_an_imported_checkpoint(tmp_path):
    original = _model("hrnet", tmp_path, seed=0)
    source = tmp_path / "pose_hrnet_small.pth"
    torch.save(official_names(original.state_dict(), "hrnet"), source)
    out = tmp_path / "imported.ckpt"
    load_script("import_checkpoint").main([
        "source=hrnet", f"checkpoint={source}", "experiment=hrnet_heatmap_coco", f"out={out}",
        *SMALL_HEATMAP,
    ])  # fmt: skip
    run_dir = tmp_path / "eval"
    result = subprocess.run(
        [sys.executable, "eval.py", f"ckpt_path={out}", f"hydra.run.dir={run_dir}",
         "data.num_workers=0", "data.val_batch_size=16", "trainer.limit_val_batches=1"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    metrics = json.loads(next(run_dir.rglob("metrics.json")).read_text())
    assert 0.0 <= metrics["val/PCK@0.2"] <= 1.0


def test_two_source_tensors_for_one_posekit_tensor_is_an_error():
    target = {"head.final.weight": torch.zeros(17, 32, 1, 1)}
    source = {"head.final_layer.weight": torch.ones(17, 32, 1, 1),
              "keypoint_head.final_layer.weight": torch.ones(17, 32, 1, 1)}  # fmt: skip
    with pytest.raises(ConversionError, match="both map to head.final.weight"):
        convert_state_dict(source, target, "mmpose")


def test_wrong_source_suggests_the_right_one_in_a_few_lines(tmp_path):
    target = _model("mmpose", tmp_path, seed=0)
    published = official_names(target.state_dict(), "mmpose")  # backbone.* / head.* names
    with pytest.raises(ConversionError) as info:
        convert_state_dict(published, target, "simcc")
    message = str(info.value)
    assert "looks like source=mmpose" in message
    assert f"map {len(published)} of {len(published)} tensors" in message
    assert len(message.splitlines()) < 5
    # long reports list ten keys per group and count the rest
    hrnet_target = _model("hrnet", tmp_path, seed=0)
    extra = official_names(hrnet_target.state_dict(), "hrnet")
    extra.update({f"classifier.{i}.weight": torch.zeros(1) for i in range(40)})
    with pytest.raises(ConversionError, match=r"\.\.\. and 30 more") as info:
        convert_state_dict(extra, hrnet_target, "hrnet")
    assert len(str(info.value).splitlines()) < 20
    # even with both allowances, an import that maps nothing is refused
    with pytest.raises(ConversionError, match=r"no tensor .* maps .*looks like source=mmpose"):
        convert_state_dict(published, target, "hrnet", allow_unmapped=True, allow_unset=True)
