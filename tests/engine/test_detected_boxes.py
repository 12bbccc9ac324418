"""With detected boxes there is no ground truth per crop: PCK and val/loss are absent, not 0."""

from __future__ import annotations

import math

import pytest
from helpers import compose_config
from helpers.tiny_models import save_tiny_checkpoint
from hydra.utils import instantiate

from posekit.engine.tasks import evaluate


def test_eval_with_detected_boxes_reports_ap_only(fixtures_dir, tmp_path):
    ckpt = save_tiny_checkpoint(tmp_path / "tiny.ckpt")
    coco = fixtures_dir / "coco"
    cfg = compose_config(
        "eval",
        [
            f"ckpt_path={ckpt}", f"data.root={coco}", "data.val_ann=test_coco.json",
            "data.val_images=.", "data.val_det_file=test_coco_det_AP_H_56.json",
            "data.use_det_boxes=true", "data.train_ann=null", "data.num_workers=0",
        ],
        tmp_path / "eval",
    )
    metrics = evaluate(cfg)
    assert metrics["val/boxes"] == "detections" and math.isfinite(metrics["val/AP"])
    assert not any(name.startswith(("val/PCK", "val/loss")) for name in metrics), sorted(metrics)


def test_missing_detections_file_names_it_and_both_ways_out(fixtures_dir, tmp_path):
    """The published COCO recipes validate on detections: without the file, the error names it,
    where to get it and how to switch to ground-truth boxes."""
    cfg = compose_config(
        "train",
        ["experiment=hrnet_udp_coco", f"data.root={fixtures_dir / 'coco'}",
         "data.val_ann=test_coco.json", "data.val_images=."],
        tmp_path,
    )
    with pytest.raises(Exception, match="does not exist") as err:  # Hydra wraps the layout error
        instantiate(cfg.data)
    message = str(err.value)
    for part in ("COCO_val2017_detections_AP_H_56_person.json", "data.val_det_file=",
                 "data.use_det_boxes=false", "deep-high-resolution-net"):
        assert part in message, message
