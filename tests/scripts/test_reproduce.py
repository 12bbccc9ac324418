"""scripts/reproduce.py end to end: checkpoints in reference formats (official HRNet, mmpose;
written here from small posekit models under the reference names) are imported, evaluated on
the COCO fixture with its detections file under the recipe's protocol, and the card says what
was done."""

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


def reference_file(experiment: str, source: str, tmp_path):
    """posekit's model of ``experiment`` saved under the tensor names of ``source``'s files:
    the official HRNet code's (``pose_hrnet_*.pth``) or mmpose 1.x's (``backbone.*``,
    ``head.final_layer.*``, under ``state_dict``)."""
    torch.manual_seed(0)
    cfg = compose_config("train", [f"experiment={experiment}", "model.backbone.pretrained=false",
                                   *SMALL], tmp_path)
    published = {}
    for key, value in build_model(cfg).state_dict().items():
        if key in ("pixel_mean", "pixel_std"):
            continue
        key = key.replace("backbone.body.", "").replace("head.final.", "final_layer.")
        if source == "mmpose":
            key = f"head.{key}" if key.startswith("final_layer") else f"backbone.{key}"
        published[key] = value
    path = tmp_path / f"{source}_small.pth"
    torch.save({"state_dict": published} if source == "mmpose" else published, path)
    return path


# experiment, source format, published AP, what the card says of the flip and the decoding
CASES = [
    ("hrnet_heatmap_coco", "hrnet", 0.744, "one column", "argmax + quarter pixel"),
    ("hrnet_udp_coco", "mmpose", 0.762, "exact under UDP", "DARK-UDP, scale mmpose"),
]


@pytest.mark.parametrize(("experiment", "source", "published", "flip", "decode"), CASES)
def test_reproduce_imports_evaluates_and_writes_the_card(
    experiment, source, published, flip, decode, fixtures_dir, tmp_path, capsys
):
    checkpoint = reference_file(experiment, source, tmp_path)
    out = tmp_path / "card"
    card = load_script("reproduce").main([
        f"experiment={experiment}", f"checkpoint={checkpoint}", f"source={source}", f"out={out}",
        f"data.root={fixtures_dir / 'coco'}", "data.val_ann=test_coco.json", "data.val_images=.",
        "data.val_det_file=test_coco_det_AP_H_56.json", "data.num_workers=0", *SMALL,
    ])  # fmt: skip
    written = json.loads((out / "card.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert written["metric"] == "val/AP" and written["published"] == published
    assert written["obtained"] == metrics["val/AP"] == card["obtained"]
    assert written["difference"] == pytest.approx(metrics["val/AP"] - published)
    protocol = written["protocol"]
    # the paper's protocol: detected boxes, flip test, padded OKS-NMS, rescoring above 0.2
    assert protocol["boxes"] == "detections" and metrics["val/boxes"] == "detections"
    assert protocol["detections_file"] == "test_coco_det_AP_H_56.json"
    assert protocol["flip_test"] and flip in protocol["flip_rule"]
    assert protocol["decode_rule"] == decode and protocol["score_rule"] == "heatmap peak"
    assert protocol["keypoint_score_threshold"] == 0.2 and protocol["rescoring"] == "bbox_keypoint"
    assert protocol["oks_nms"] == "threshold 0.9, area padded"
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?|unknown", protocol["posekit_commit"])
    printed = capsys.readouterr().out
    assert f"| val/AP | {published:.4f} |" in printed and (out / "card.md").read_text() in printed
