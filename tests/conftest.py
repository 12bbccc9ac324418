"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The shared real-data fixtures: $POSEKIT_FIXTURES, else ../shared/fixtures beside the repo.

    Skips the requesting test when the folder is absent.
    """
    env = os.environ.get("POSEKIT_FIXTURES")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "fixtures"
    if not path.is_dir():
        pytest.skip(f"shared fixtures not found at {path} (set POSEKIT_FIXTURES)")
    return path


@pytest.fixture(scope="session")
def mpii_root(fixtures_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder in the MPII layout built from the real MPII fixture.

    The fixture's json serves as train and val; the head boxes of ``mpii_gt_val.mat`` (which the
    fixtures lack) are 60 px squares around each person's centre.
    """
    import json
    import shutil

    import numpy as np

    from posekit.metrics import write_mpii_gt_mat

    source = fixtures_dir / "mpii"
    root = tmp_path_factory.mktemp("mpii")
    (root / "annotations").mkdir()
    (root / "images").mkdir()
    for image in source.glob("*.jpg"):
        (root / "images" / image.name).symlink_to(image)
    for split in ("train", "val"):
        shutil.copy(source / "test_mpii.json", root / "annotations" / f"mpii_{split}.json")
    people = json.loads((source / "test_mpii.json").read_text())
    joints = np.array([p["joints"] for p in people], dtype=np.float64)
    missing = 1 - np.array([p["joints_vis"] for p in people])
    centers = np.array([p["center"] for p in people], dtype=np.float64)
    heads = np.stack([centers - 30, centers + 30], axis=1)  # (M, 2, 2)
    write_mpii_gt_mat(root / "annotations" / "mpii_gt_val.mat", joints, missing, heads)
    return root
