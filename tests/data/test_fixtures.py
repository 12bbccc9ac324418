"""The synthetic fixtures of tests/fixtures are what make_fixtures.py writes, in every format."""

from __future__ import annotations

import importlib.util
import json

import cv2
import numpy as np
import scipy.io
from conftest import GENERATED_FIXTURES

from posekit.core.mpii_gt import read_mpii_gt_mat


def load_generator():
    spec = importlib.util.spec_from_file_location("make_fixtures",
                                                  GENERATED_FIXTURES / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_fixtures_are_the_generators(tmp_path):
    load_generator().make_fixtures(tmp_path)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    # published_keys/ is written by scripts/capture_reference_keys.py from the reference code
    committed = sorted(p.relative_to(GENERATED_FIXTURES) for p in GENERATED_FIXTURES.rglob("*")
                       if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts
                       and p.relative_to(GENERATED_FIXTURES).parts[0] != "published_keys")
    assert written == committed
    for name in written:
        if name.suffix == ".json":
            assert json.loads((tmp_path / name).read_text()) == json.loads(
                (GENERATED_FIXTURES / name).read_text()), name
        elif name.suffix == ".jpg":  # JPEG bytes depend on libjpeg: the same picture
            ours = cv2.imread(str(tmp_path / name)).astype(np.int16)
            theirs = cv2.imread(str(GENERATED_FIXTURES / name)).astype(np.int16)
            assert ours.shape == theirs.shape and np.abs(ours - theirs).mean() < 1.0, name
    total = sum((GENERATED_FIXTURES / n).stat().st_size for n in written)
    assert total < 1_000_000


def test_image_sizes_and_people_agree_with_the_annotations():
    for folder, ann in (("coco", "test_coco.json"), ("crowdpose", "test_crowdpose.json"),
                        ("aic", "test_aic.json")):
        data = json.loads((GENERATED_FIXTURES / folder / ann).read_text())
        for image in data["images"]:
            picture = cv2.imread(str(GENERATED_FIXTURES / folder / image["file_name"]))
            height, width = picture.shape[:2]
            assert (width, height) == (image["width"], image["height"])
        for person in data["annotations"]:
            kpts = np.array(person["keypoints"], dtype=float).reshape(-1, 3)
            x, y, w, h = person["bbox"]
            inside = kpts[kpts[:, 2] > 0, :2]
            assert person["num_keypoints"] == len(inside)
            assert ((inside >= (x, y)) & (inside <= (x + w, y + h))).all()


def test_mpii_mat_has_the_official_layout_and_matches_the_json():
    folder = GENERATED_FIXTURES / "mpii"
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
