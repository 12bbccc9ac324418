"""A run loaded for analysis on another copy of its data scores against that copy's annotations
(not the training machine's, which the checkpoint's resolved config names)."""

import json
from pathlib import Path

import pytest
from helpers import REPO, compose_config
from helpers.tiny_models import save_tiny_checkpoint

from posekit.analysis import load_run
from posekit.data.saved_config import rebase_data_config

SAMPLE = REPO / "data" / "sample"


def copy_of_the_sample(folder: Path, images: int) -> Path:
    """The sample's layout at ``folder`` with a val.json of its first ``images`` images."""
    (folder / "annotations").mkdir(parents=True)
    (folder / "images").symlink_to(SAMPLE / "images")
    (folder / "annotations" / "train.json").symlink_to(SAMPLE / "annotations" / "train.json")
    val = json.loads((SAMPLE / "annotations" / "val.json").read_text())
    kept = {image["id"] for image in val["images"][:images]}
    val["images"] = val["images"][:images]
    val["annotations"] = [a for a in val["annotations"] if a["image_id"] in kept]
    (folder / "annotations" / "val.json").write_text(json.dumps(val))
    return folder


def annotation_files(run) -> list[Path]:
    return [m.ann_file for m in run.datamodule.build_metrics() if hasattr(m, "ann_file")]


def test_a_run_on_another_data_root_is_scored_against_that_roots_annotations(tmp_path):
    checkpoint = save_tiny_checkpoint(tmp_path / "run" / "tiny.ckpt")
    copy = copy_of_the_sample(tmp_path / "copy", images=3)
    run = load_run(checkpoint, data_root=copy, num_workers=0)
    assert annotation_files(run) == [copy / "annotations" / "val.json"]
    run.datamodule.setup("validate")
    assert len(run.datamodule.val_set.records) == 3

    val = (copy / "annotations" / "val.json").read_text()
    (copy / "annotations" / "val_b.json").write_text(val)
    other = load_run(checkpoint, data_root=copy, val_ann="annotations/val_b.json")
    assert annotation_files(other) == [copy / "annotations" / "val_b.json"]
    # without a new root the run's own annotations stay
    assert annotation_files(load_run(checkpoint)) == [SAMPLE / "annotations" / "val.json"]


def test_rebase_restores_every_root_derived_path_and_keeps_the_others(tmp_path):
    saved = compose_config("train", ["data=mpii", "data.root=/train/mpii"], tmp_path).data
    rebased = rebase_data_config(saved, "/here/mpii", gt_val_mat="gt.mat")
    assert rebased.metrics.pckh.gt_mat_path == str(Path("/here/mpii/gt.mat"))
    absolute = compose_config("train", ["data.val_ann=/abs/val.json"], tmp_path).data
    assert rebase_data_config(absolute, "/x").metrics.ap.ann_file == "/abs/val.json"
    with pytest.raises(KeyError, match="data.val_an is not in"):
        rebase_data_config(saved, val_an="a.json")
