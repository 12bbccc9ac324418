"""README's worked example: two COCO-format sets with different keypoints and a mapping file,
trained as one with ``data=custom_mix`` (here the COCO and CrowdPose fixtures, read as custom
sets with their keypoint yamls)."""

from __future__ import annotations

import json

from helpers import CONF, compose_config

from posekit.engine.tasks import train

# README: the mapping file of the "extra" set (CrowdPose names -> COCO names; top_head and neck
# have no COCO place and are left out)
MAPPING = """\
left_shoulder: left_shoulder
right_shoulder: right_shoulder
left_elbow: left_elbow
right_elbow: right_elbow
left_wrist: left_wrist
right_wrist: right_wrist
left_hip: left_hip
right_hip: right_hip
left_knee: left_knee
right_knee: right_knee
left_ankle: left_ankle
right_ankle: right_ankle
"""


def test_custom_mixture_of_the_readme_trains_and_reports_metrics(fixtures_dir, tmp_path):
    mapping = tmp_path / "crowdpose_to_coco.yaml"
    mapping.write_text(MAPPING)
    overrides = ["data=custom_mix", "debug=fast_dev_run", "model/backbone=resnet18_s8",
                 "data.input_size=[48,64]", "data.num_workers=0", "data.batch_size=2",
                 "data.val_batch_size=2", f"data.mappings.extra={mapping}",
                 "data.val_sources=[main]", "data.ratios.extra=3"]
    for source, folder in (("main", "coco"), ("extra", "crowdpose")):
        key = f"data.sources.{source}"
        overrides += [f"{key}.root={fixtures_dir / folder}", f"{key}.train_ann=test_{folder}.json",
                      f"{key}.val_ann=test_{folder}.json", f"{key}.train_images=.",
                      f"{key}.val_images=.",
                      f"{key}.keypoints.path={CONF / 'keypoints' / folder}.yaml"]
    metrics = train(compose_config("train", overrides, tmp_path))
    assert metrics["train/loss"] > 0
    assert {"val/main/AP", "val/main/PCK@0.05", "val/loss"} <= set(metrics)
    assert not any(name.startswith("val/extra/") for name in metrics)
    assert "val/main/AP" in json.loads((tmp_path / "metrics.json").read_text())
