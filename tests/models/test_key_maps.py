"""Named backbone key maps: chosen by a name or a yaml file, no regular expression to type."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import REPO, compose_config
from hydra.utils import instantiate

from posekit.models.key_maps import KEY_MAPS, resolve_key_map

RTMPOSE_T = REPO / "tests" / "fixtures" / "published_keys" / "mmpose_rtmpose_t.json"


def rename(rules, key: str) -> str | None:
    return next((t for rule in rules if (t := rule.apply(key)) is not None), None)


def test_named_map_renames_mmpose_cspnext_stages():
    rules = resolve_key_map("mmpose_cspnext")
    assert rules is KEY_MAPS["mmpose_cspnext"]
    assert rename(rules, "stage1.0.conv.weight") == "stages.0.0.conv.weight"
    assert rename(rules, "stage4.1.conv2.bn.bias") == "stages.3.1.conv2.bn.bias"
    assert rename(rules, "stem.2.bn.weight") == "stem.2.bn.weight"
    assert rename(rules, "head.final_layer.weight") is None


def test_yaml_file_and_bad_names(tmp_path):
    path = tmp_path / "keys.yaml"
    path.write_text("'encoder\\.(.*)': 'layers.\\1'\n")
    assert rename(resolve_key_map(str(path)), "encoder.0.weight") == "layers.0.weight"
    with pytest.raises(ValueError, match=r"'mmpose_csp' is neither a named key map \(identity, "):
        resolve_key_map("mmpose_csp")
    path.write_text("- a\n- b\n")
    with pytest.raises(ValueError, match="must hold a mapping"):
        resolve_key_map(str(path))
    with pytest.raises(ValueError, match="is not a regular expression"):
        resolve_key_map({"(unclosed": "x"})


def test_command_line_name_loads_an_mmpose_cspnext_backbone(tmp_path):
    shapes = json.loads(RTMPOSE_T.read_text())
    torch.manual_seed(0)
    state = {k: torch.randn(s) for k, s in shapes.items() if k.startswith("backbone.")}
    file = tmp_path / "rtmpose_t.pth"
    torch.save({"state_dict": state, "meta": {}}, file)
    cfg = compose_config("train", [
        "experiment=cspnext_t_rtmcc_coco", "model.backbone.pretrained=false",
        f"model.backbone.checkpoint={file}", "model.backbone.checkpoint_prefix=backbone.",
        "model.backbone.checkpoint_keys=mmpose_cspnext",
    ], tmp_path)  # fmt: skip
    backbone = instantiate(cfg.model.backbone)
    loaded = backbone.state_dict()
    names = backbone.checkpoint_names()
    assert len(names) == len(state)  # every CSPNeXt-t tensor has its published counterpart
    assert torch.equal(loaded[names["stages.2.1.blocks.0.conv1.conv.weight"]],
                       state["backbone.stage3.1.blocks.0.conv1.conv.weight"])  # fmt: skip
