"""scripts/reproduce.py end to end: a checkpoint in the official HRNet format (written here from
a small posekit model under the official names) is imported, evaluated on the COCO fixture with
its detections file under the recipe's protocol, and the card says what was done."""

from __future__ import annotations

import json
import re

import pytest
import torch
from helpers import compose_config
from helpers.tiny_models import load_script

from posekit.models.checkpoint import build_model

# hrnet_w18_small has the official HRNet names; 64x64 crops, 16x16 heatmaps
SMALL = ["model.backbone.name=hrnet_w18_small", "data.input_size=[64,64]",
         "model.codec.heatmap_size=[16,16]"]


def official_hrnet_file(tmp_path):
    """posekit's model of hrnet_heatmap_coco saved as pose_hrnet_*.pth names its tensors."""
    torch.manual_seed(0)
    cfg = compose_config("train", ["experiment=hrnet_heatmap_coco",
                                   "model.backbone.pretrained=false", *SMALL], tmp_path)
    state = build_model(cfg).state_dict()
    published = {
        key.replace("backbone.body.", "").replace("head.final.", "final_layer."): value
        for key, value in state.items() if key not in ("pixel_mean", "pixel_std")
    }
    path = tmp_path / "pose_hrnet_small.pth"
    torch.save(published, path)
    return path


def test_reproduce_imports_evaluates_and_writes_the_card(fixtures_dir, tmp_path, capsys):
    checkpoint = official_hrnet_file(tmp_path)
    out = tmp_path / "card"
    card = load_script("reproduce").main([
        "experiment=hrnet_heatmap_coco", f"checkpoint={checkpoint}", "source=hrnet", f"out={out}",
        f"data.root={fixtures_dir / 'coco'}", "data.val_ann=test_coco.json", "data.val_images=.",
        "data.val_det_file=test_coco_det_AP_H_56.json", "data.num_workers=0", *SMALL,
    ])  # fmt: skip
    written = json.loads((out / "card.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert written["metric"] == "val/AP" and written["published"] == 0.744
    assert written["obtained"] == metrics["val/AP"]
    assert written["difference"] == pytest.approx(metrics["val/AP"] - 0.744)
    protocol = written["protocol"]
    # the HRNet paper's protocol: detected boxes, flip test with the one-column shift, padded NMS
    assert protocol["boxes"] == "detections" and metrics["val/boxes"] == "detections"
    assert protocol["detections_file"] == "test_coco_det_AP_H_56.json"
    assert protocol["flip_test"] and "one column" in protocol["flip_rule"]
    assert protocol["score_rule"] == "heatmap peak"
    assert protocol["keypoint_score_threshold"] == 0.2 and protocol["rescoring"] == "bbox_keypoint"
    assert protocol["oks_nms"] == "threshold 0.9, area padded"
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?|unknown", protocol["posekit_commit"])
    assert card["obtained"] == written["obtained"]
    printed = capsys.readouterr().out
    assert "| val/AP | 0.7440 |" in printed and (out / "card.md").read_text() in printed
