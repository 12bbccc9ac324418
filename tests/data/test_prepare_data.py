"""scripts/prepare_data.py: layout checks, and the MPII converter on a synthetic .mat of the
official structure (RELEASE.annolist(i).image.name, .annorect(j).{x1, y1, x2, y2, scale,
objpos.{x, y}, annopoints.point(k).{x, y, id, is_visible}}, RELEASE.img_train)."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import scipy.io
import torch
from helpers import REPO

from posekit.config import data_config
from posekit.data.formats.mpii import load_mpii_records
from posekit.data.prepare import check_layout, convert_mpii
from posekit.metrics import MPIIPCKh


def struct_array(rows: list[dict]) -> np.ndarray:
    """A 1 x n MATLAB struct array (the fields of the first row)."""
    fields = list(rows[0])
    array = np.zeros((1, len(rows)), dtype=[(f, object) for f in fields])
    for i, row in enumerate(rows):
        for f in fields:
            array[0, i][f] = row[f]
    return array


def points(joints: dict[int, tuple[float, float]]) -> np.ndarray:
    return struct_array([{"x": x, "y": y, "id": k, "is_visible": 1} for k, (x, y) in joints.items()])


def rect(joints, head, objpos=(100.0, 200.0), scale=1.5) -> dict:
    return {
        "x1": head[0], "y1": head[1], "x2": head[2], "y2": head[3], "scale": scale,
        "objpos": struct_array([{"x": objpos[0], "y": objpos[1]}]),
        "annopoints": struct_array([{"point": points(joints)}]) if joints else np.zeros((0, 0)),
    }


@pytest.fixture()
def official_mat(tmp_path):
    full = {k: (10.0 + k, 20.0 + 2 * k) for k in range(16)}
    partial = {0: (5.0, 6.0), 9: (7.0, 8.0), 15: (9.0, 10.0)}  # three joints only
    one_point = {9: (50.0, 60.0)}  # a single point: a scalar struct after loading
    annolist = struct_array([
        {"image": struct_array([{"name": "000001.jpg"}]),
         "annorect": struct_array([rect(full, (1, 2, 31, 42)), rect(partial, (5, 5, 35, 45), (300.0, 100.0), 2.0),
                                   rect({}, (0, 0, 1, 1))])},  # no joints: skipped
        {"image": struct_array([{"name": "000002.jpg"}]),
         "annorect": struct_array([rect(one_point, (40, 50, 70, 90), (60.0, 70.0), 0.8)])},
        {"image": struct_array([{"name": "000003.jpg"}]),  # a test image: not converted
         "annorect": struct_array([rect(full, (1, 1, 2, 2))])},
    ])
    release = {"annolist": annolist, "img_train": np.array([[1, 1, 0]]),
               "single_person": np.zeros((3, 1), dtype=object)}
    path = tmp_path / "mpii_human_pose_v1_u12_1.mat"
    scipy.io.savemat(str(path), {"RELEASE": struct_array([release])})
    return path


def test_mpii_conversion_without_val_split(official_mat, tmp_path):
    counts = convert_mpii(official_mat, tmp_path / "out")
    assert counts == {"train people": 3, "val people": 0, "skipped test images": 1,
                      "skipped people without joints, centre or scale": 1}
    people = json.loads((tmp_path / "out" / "mpii_train.json").read_text())
    assert [p["image"] for p in people] == ["000001.jpg", "000001.jpg", "000002.jpg"]
    assert people[0]["center"] == [100.0, 200.0] and people[0]["scale"] == 1.5
    assert people[0]["joints"][3] == [13.0, 26.0] and people[0]["joints_vis"] == [1] * 16
    assert people[1]["joints_vis"] == [1] + [0] * 8 + [1] + [0] * 5 + [1]
    assert people[1]["joints"][15] == [9.0, 10.0] and people[1]["joints"][1] == [0.0, 0.0]
    assert people[2]["joints"][9] == [50.0, 60.0] and sum(people[2]["joints_vis"]) == 1
    assert not (tmp_path / "out" / "mpii_val.json").exists()
    # the posekit MPII reader takes the result: 1-based joints become 0-based pixels
    records = load_mpii_records(tmp_path / "out" / "mpii_train.json", tmp_path)
    np.testing.assert_allclose(records[0].keypoints[3, :2], [12.0, 25.0])


def test_mpii_conversion_with_val_images_writes_the_head_boxes(official_mat, tmp_path):
    counts = convert_mpii(official_mat, tmp_path / "out", ["000001.jpg"])
    assert (counts["train people"], counts["val people"]) == (1, 2)
    metric = MPIIPCKh(str(tmp_path / "out" / "mpii_gt_val.mat"))
    assert metric.num_records == 2
    # head size 0.6 * diagonal: person 0's head box is 30 x 40 -> 30 px; so 14 px off is right
    val = json.loads((tmp_path / "out" / "mpii_val.json").read_text())
    preds = torch.tensor([v["joints"] for v in val], dtype=torch.float32) - 1.0
    preds[0, 9, 0] += 14.0
    preds[1, 0, 0] += 16.0  # person 1: same head size; 16 px > 15 px is wrong
    metric.update(preds, torch.ones(2, 16), {"sample_idx": torch.tensor([0, 1])})
    result = {k: float(v) for k, v in metric.compute().items()}
    # right ankle 1 of 2 right; left ankle labelled for person 0 only, right: (50 + 100) / 2
    assert result["PCKh/Head"] == 100.0 and result["PCKh/Ankle"] == pytest.approx(75.0)


def test_not_the_official_mat_is_explained(tmp_path):
    path = tmp_path / "other.mat"
    scipy.io.savemat(str(path), {"something": np.zeros(3)})
    with pytest.raises(ValueError, match=r"other.mat is not the official MPII annotation file"):
        convert_mpii(path, tmp_path / "out")


def test_layout_check_names_what_is_missing(fixtures_dir, tmp_path):
    cfg = data_config("crowdpose")
    cfg.root = str(fixtures_dir / "crowdpose")
    cfg.train_ann = cfg.val_ann = "test_crowdpose.json"
    cfg.train_images = cfg.val_images = "."
    report = check_layout(cfg)
    assert report.ok and any("2 images, 5 people" in line for line in report.found)
    cfg.val_images = "images"
    cfg.use_det_boxes = True
    report = check_layout(cfg)
    assert not report.ok
    assert "images/  (data.val_images)" in report.missing
    assert any("json/det_for_crowd_test_0.1_0.5.json" in line for line in report.missing)


def test_prepare_data_script_converts_and_checks_mpii(official_mat, tmp_path):
    root = tmp_path / "mpii"
    (root / "images").mkdir(parents=True)
    names = tmp_path / "val.txt"
    names.write_text("000002.jpg\n")
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "prepare_data.py"), "data=mpii",
         f"data.root={root}", f"mpii_mat={official_mat}", f"mpii_val_images={names}"],
        capture_output=True, text=True, timeout=300,
    )
    # the annotations are there now; the images of the json are not
    assert done.returncode == 1, done.stderr[-2000:]
    assert "ok       annotations/mpii_val.json  (data.val_ann): 1 people" in done.stdout
    assert "MISSING  1 of the first 200 images of annotations/mpii_val.json in images/" in done.stdout


def run_prepare(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / "prepare_data.py"), *args],
                          capture_output=True, text=True, timeout=300)


def test_validation_only_set_needs_no_training_images(fixtures_dir, tmp_path):
    """OCHuman has no training split (data.train_ann is null): its training image folder is
    not asked for; the validation images are."""
    root = tmp_path / "ochuman"
    shutil.copytree(fixtures_dir / "coco", root / "images")
    shutil.copy(fixtures_dir / "coco" / "test_coco.json", root / "val.json")
    done = run_prepare("data=ochuman", f"data.root={root}", "data.val_ann=val.json",
                       "data.train_images=train_imgs")
    assert "MISSING" not in done.stdout and "train_imgs" not in done.stdout, done.stdout
    assert "images/  (data.val_images)" in done.stdout
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_misspelt_key_is_named_with_a_suggestion(tmp_path):
    done = run_prepare("data=ochuman", f"data.root={tmp_path}", "data.val_annn=x.json")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "Could not override 'data.val_annn'" in done.stderr
    assert "Did you mean data.val_ann=x.json?" in done.stderr
    done = run_prepare("data=ochuman", f"data.root={tmp_path}", "data.val_ann=null")  # no split
    assert "Traceback" not in done.stderr and "(data.val_ann)" not in done.stdout
