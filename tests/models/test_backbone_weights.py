"""Weights from a foreign checkpoint into a backbone: prefix rule, key map, report, errors."""

from __future__ import annotations

import logging

import pytest
import timm
import torch
from helpers import REPO, compose_config
from hydra.utils import instantiate

from posekit.models.backbone import TimmBackbone
from posekit.models.backbone_weights import build_backbone
from posekit.models.state_mapping import ConversionError

RESNET18_S8 = ("conv1.", "bn1.", "layer1.", "layer2.")  # what a stride-8 ResNet-18 keeps


@pytest.fixture
def examples_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))


@pytest.fixture
def mmdet_style_resnet18(tmp_path):
    """A ResNet-18 saved as another project does: under ``state_dict``, every backbone tensor
    prefixed ``backbone.``, a head and metadata beside it."""
    torch.manual_seed(0)
    network = timm.create_model("resnet18")
    state = {f"backbone.{k}": v for k, v in network.state_dict().items()}
    state["neck.lateral.weight"] = torch.zeros(4, 4)
    path = tmp_path / "foreign.pth"
    torch.save({"state_dict": state, "meta": {"epoch": 12}}, path)
    return path, network.state_dict()


def test_prefix_rule_loads_a_timm_backbone_and_reports(mmdet_style_resnet18, caplog):
    path, source = mmdet_style_resnet18
    with caplog.at_level(logging.INFO, logger="posekit.models.backbone_weights"):
        backbone = TimmBackbone("resnet18", out_stride=8, checkpoint=str(path),
                                checkpoint_prefix="backbone.")
    own = {name: backbone.state_dict()[key] for name, key in backbone.checkpoint_names().items()}
    kept = [k for k in source if k.startswith(RESNET18_S8)]
    assert len(kept) == len(own) == 60
    for name in kept:
        assert torch.equal(own[name], source[name]), name
    report = caplog.text
    assert f"backbone checkpoint {path}: 60 tensors mapped" in report
    unused = [k for k in source if not k.startswith(RESNET18_S8)]  # layer3, layer4, fc
    assert f"{len(unused) + 1} source tensors not used:" in report
    assert "neck.lateral.weight: outside prefix 'backbone.'" in report
    assert ("backbone.fc.weight: maps to fc.weight, which the TimmBackbone model lacks"
            in report)
    assert "left unset" not in report
    # conv1: weight; bn1: weight, bias, mean, var, counter; each BasicBlock 2 convs + 2 BNs
    # (+ layer2.0's downsample conv and BN)
    assert "loaded, by module: conv1 1, bn1 5, layer1 24, layer2 30" in report


def test_key_map_loads_a_user_backbone_and_lists_unset_tensors(examples_on_path, tmp_path, caplog):
    from examples.custom_backbone import TinyBackbone

    torch.manual_seed(1)
    trained = TinyBackbone(width=8, out_stride=8).state_dict()
    # another project calls the stages "encoder.blocks.<i>" and the stem "encoder.stem"
    foreign = {k.replace("layers.", "encoder.blocks.").replace("stem.", "encoder.stem.", 1): v
               for k, v in trained.items() if not k.startswith("layers.1.1.")}
    foreign["classifier.weight"] = torch.zeros(10, 16)
    path = tmp_path / "other_project.pt"
    torch.save(foreign, path)
    key_map = {r"encoder\.blocks\.(.*)": r"layers.\1", r"encoder\.stem\.(.*)": r"stem.\1"}
    with caplog.at_level(logging.INFO, logger="posekit.models.backbone_weights"):
        backbone = build_backbone("examples.custom_backbone.TinyBackbone", checkpoint=str(path),
                                  checkpoint_keys=key_map, width=8, out_stride=8)
    loaded = backbone.state_dict()
    left = [k for k in trained if k.startswith("layers.1.1.")]  # not in the file
    assert len(left) == 6  # conv weight, BN weight/bias/mean/var/counter
    for key in trained:
        if key not in left:
            assert torch.equal(loaded[key], trained[key]), key
    assert f"{len(trained) - 6} tensors mapped" in caplog.text
    assert ("classifier.weight: maps to classifier.weight, which the TinyBackbone model lacks"
            in caplog.text)
    assert "5 TinyBackbone tensors left unset:\n  layers.1.1.0.weight" in caplog.text
    assert "1 BatchNorm step counters" in caplog.text


def test_shape_mismatch_names_both_tensors(tmp_path):
    path = tmp_path / "narrow.pth"
    torch.save({"backbone.conv1.weight": torch.zeros(8, 3, 7, 7)}, path)
    with pytest.raises(ConversionError, match=r"source backbone.conv1.weight \(8, 3, 7, 7\) -> "
                       r"TimmBackbone conv1.weight \(64, 3, 7, 7\)"):
        TimmBackbone("resnet18", out_stride=8, checkpoint=str(path), checkpoint_prefix="backbone.")


def test_a_file_of_which_nothing_maps_is_an_error_with_the_fix(mmdet_style_resnet18):
    path, _ = mmdet_style_resnet18
    with pytest.raises(ConversionError) as info:
        TimmBackbone("resnet18", out_stride=8, checkpoint=str(path))  # prefix forgotten
    message = str(info.value)
    assert f"checkpoint={path}: no tensor of the file maps onto TimmBackbone" in message
    assert "['backbone.conv1.weight'," in message and "['conv1.weight'," in message
    assert "model.backbone.checkpoint_prefix" in message and "checkpoint_keys" in message


def test_checkpoint_through_the_config(mmdet_style_resnet18, tmp_path):
    """README: python train.py model.backbone.checkpoint=<file>
    model.backbone.checkpoint_prefix=backbone."""
    path, source = mmdet_style_resnet18
    cfg = compose_config("train", [f"model.backbone.checkpoint={path}",
                                   "model.backbone.checkpoint_prefix=backbone."], tmp_path)
    model = instantiate(cfg.model)
    assert torch.equal(model.backbone.body.model.layer2[1].conv2.weight,
                       source["layer2.1.conv2.weight"])
