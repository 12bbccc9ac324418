"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``gpu`` skip cleanly where there is no CUDA device (CI never has one)."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


FIXTURE_GENERATOR = Path(__file__).resolve().parent / "fixtures" / "make_fixtures.py"


@pytest.fixture(scope="session", autouse=True)
def record_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Record caches of the tests go to a temporary folder, never beside the shared fixtures."""
    path = tmp_path_factory.mktemp("record_cache")
    previous = os.environ.get("POSEKIT_CACHE_DIR")
    os.environ["POSEKIT_CACHE_DIR"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("POSEKIT_CACHE_DIR", None)
    else:
        os.environ["POSEKIT_CACHE_DIR"] = previous


def real_fixtures() -> Path | None:
    """The real annotation samples: $POSEKIT_FIXTURES, else ../shared/fixtures beside the repo;
    None where that folder is absent (a fresh clone)."""
    env = os.environ.get("POSEKIT_FIXTURES")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "fixtures"
    return path if path.is_dir() else None


def write_synthetic_fixtures(out: Path) -> Path:
    """Write the synthetic fixtures of ``tests/fixtures/make_fixtures.py`` into ``out``."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURE_GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.make_fixtures(out)
    return out


@pytest.fixture(scope="session")
def synthetic_fixtures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic fixtures, written once per session (0.7 s) into a temporary folder."""
    return write_synthetic_fixtures(tmp_path_factory.mktemp("synthetic_fixtures"))


@pytest.fixture(scope="session")
def fixtures_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The format fixtures: the real samples where they exist (:func:`real_fixtures`), else the
    synthetic ones (``make_fixtures.py``: the same layout and file names, so every test reads
    either)."""
    real = real_fixtures()
    if real is not None:
        return real
    return write_synthetic_fixtures(tmp_path_factory.mktemp("fixtures"))


@pytest.fixture(scope="session")
def mpii_root(fixtures_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder in the MPII layout built from the MPII fixture.

    The fixture's json serves as train and val; its ``mpii_gt_val.mat`` is the PCKh ground
    truth where the fixture has one (the synthetic one does), else (the real samples lack it)
    one whose head boxes are 60 px squares around each person's centre.
    """
    import json
    import shutil

    import numpy as np

    from posekit.core.mpii_gt import write_mpii_gt_mat

    source = fixtures_dir / "mpii"
    root = tmp_path_factory.mktemp("mpii")
    (root / "annotations").mkdir()
    (root / "images").mkdir()
    for image in source.glob("*.jpg"):
        (root / "images" / image.name).symlink_to(image)
    for split in ("train", "val"):
        shutil.copy(source / "test_mpii.json", root / "annotations" / f"mpii_{split}.json")
    if (source / "mpii_gt_val.mat").is_file():
        shutil.copy(source / "mpii_gt_val.mat", root / "annotations" / "mpii_gt_val.mat")
        return root
    people = json.loads((source / "test_mpii.json").read_text())
    joints = np.array([p["joints"] for p in people], dtype=np.float64)
    missing = 1 - np.array([p["joints_vis"] for p in people])
    centers = np.array([p["center"] for p in people], dtype=np.float64)
    heads = np.stack([centers - 30, centers + 30], axis=1)  # (M, 2, 2)
    write_mpii_gt_mat(root / "annotations" / "mpii_gt_val.mat", joints, missing, heads)
    return root


@pytest.fixture(scope="session")
def trained_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sweep folder of two tiny trainings on the sample (``python train.py -m``): job 0 a
    SimCC model, job 1 a heatmap model (stride-4 ResNet-18 at 96x128, so the default 24x32
    heatmaps fit), one epoch of 2 batches each."""
    import subprocess
    import sys

    sweep = tmp_path_factory.mktemp("analysis") / "sweep"
    result = subprocess.run(
        [sys.executable, "train.py", "-m", "model=simcc,heatmap", "model/backbone=resnet18_s4",
         "trainer.max_epochs=1", "trainer.limit_train_batches=2", "+trainer.num_sanity_val_steps=0",
         "data.num_workers=0", f"hydra.sweep.dir={sweep}"],
        cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return sweep
