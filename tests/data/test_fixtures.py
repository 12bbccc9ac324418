"""The synthetic fixtures that make_fixtures.py writes: deterministic, small, consistent in every
format."""

from __future__ import annotations

import json

import cv2
import numpy as np
import scipy.io
from conftest import write_synthetic_fixtures

from posekit.core.mpii_gt import read_mpii_gt_mat


def test_the_generator_is_deterministic_and_small(tmp_path, synthetic_fixtures):
    again = write_synthetic_fixtures(tmp_path)
    written = sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    first = sorted(p.relative_to(synthetic_fixtures) for p in synthetic_fixtures.rglob("*")
                   if p.is_file())
    assert written == first and len(written) > 15
    for name in written:
        if name.suffix == ".json":
            assert json.loads((again / name).read_text()) == json.loads(
                (synthetic_fixtures / name).read_text()), name
        elif name.suffix == ".jpg":  # JPEG bytes depend on libjpeg: the same picture
            ours = cv2.imread(str(again / name)).astype(np.int16)
            theirs = cv2.imread(str(synthetic_fixtures / name)).astype(np.int16)
            assert ours.shape == theirs.shape and np.abs(ours - theirs).mean() < 1.0, name
    total = sum((again / n).stat().st_size for n in written)
    assert total < 1_000_000


def test_image_sizes_and_people_agree_with_the_annotations(synthetic_fixtures):
    for folder, ann in (("coco", "test_coco.json"), ("crowdpose", "test_crowdpose.json"),
                        ("aic", "test_aic.json")):
        data = json.loads((synthetic_fixtures / folder / ann).read_text())
        for image in data["images"]:
            picture = cv2.imread(str(synthetic_fixtures / folder / image["file_name"]))
            height, width = picture.shape[:2]
            assert (width, height) == (image["width"], image["height"])
        for person in data["annotations"]:
            kpts = np.array(person["keypoints"], dtype=float).reshape(-1, 3)
            x, y, w, h = person["bbox"]
            inside = kpts[kpts[:, 2] > 0, :2]
            assert person["num_keypoints"] == len(inside)
            assert ((inside >= (x, y)) & (inside <= (x + w, y + h))).all()


def test_mpii_mat_has_the_official_layout_and_matches_the_json(synthetic_fixtures):
    folder = synthetic_fixtures / "mpii"
    raw = scipy.io.loadmat(str(folder / "mpii_gt_val.mat"))
    assert raw["dataset_joints"].shape == (1, 16) and raw["dataset_joints"][0, 9][0] == "head"
    people = json.loads((folder / "test_mpii.json").read_text())
    visible, positions, head_sizes = read_mpii_gt_mat(folder / "mpii_gt_val.mat")
    assert positions.shape == (16, 2, len(people)) and head_sizes.shape == (len(people),)
    for m, person in enumerate(people):
        vis = np.array(person["joints_vis"]) > 0
        np.testing.assert_array_equal(visible[:, m], vis)
        np.testing.assert_allclose(positions[vis, :, m], np.array(person["joints"])[vis], atol=0.01)
    boxes = raw["headboxes_src"]  # (2, 2, M): 0.6 x the diagonal
    np.testing.assert_allclose(head_sizes, 0.6 * np.hypot(*(boxes[1] - boxes[0])))
