"""What the measurements share: the row they report, composing configs, loaders, devices."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch.utils.data import DataLoader

from posekit.config import CONF_DIR, REPO_ROOT, compose


@dataclass
class Row:
    """One figure: ``value`` in ``unit``; ``spread`` (min - max over repeats) where repeated;
    ``per_worker`` (loader rows) is value / max(workers, 1)."""

    group: str
    setting: str
    value: float
    unit: str = "samples/s"
    per_worker: float | None = None
    spread: str = ""
    note: str = ""


def compose_config(overrides: list[str]) -> DictConfig:
    """The training config as train.py composes it; output_dir points at a scratch folder."""
    return compose("train", overrides, output_dir=Path(tempfile.gettempdir()) / "posekit-benchmark")


def size_label(cfg: DictConfig) -> str:
    width, height = cfg.data.input_size
    return f"{height}x{width}"


def train_loader(cfg: DictConfig, workers: int, batch_size: int) -> DataLoader:
    """The training loader exactly as the data module builds it, at this worker count."""
    datamodule = instantiate(cfg.data, num_workers=workers, batch_size=batch_size)
    datamodule.setup("fit")
    return datamodule.train_dataloader()


def endless(loader: DataLoader) -> Iterator[dict[str, torch.Tensor]]:
    while True:
        yield from loader


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def coco_fixture() -> Path | None:
    """The COCO fixture folder: the real samples (4 640x480 JPEGs, 14 people) of
    $POSEKIT_FIXTURES or ../shared/fixtures, else the synthetic one that
    tests/fixtures/make_fixtures.py writes into a temporary folder (4 JPEGs of about that size,
    13 people); None when neither can be had."""
    env = os.environ.get("POSEKIT_FIXTURES")
    root = Path(env) if env else REPO_ROOT.parent / "shared" / "fixtures"
    if (root / "coco" / "test_coco.json").is_file():
        return root / "coco"
    generator = REPO_ROOT / "tests" / "fixtures" / "make_fixtures.py"
    if not generator.is_file():
        return None
    spec = importlib.util.spec_from_file_location("make_fixtures", generator)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = Path(tempfile.mkdtemp(prefix="posekit_fixtures_"))
    module.make_fixtures(out)
    return out / "coco"


def one_image_per_person(folder: Path, out_dir: Path) -> Path:
    """A copy of the COCO fixture where every person has an image file of their own (a byte copy
    of theirs): in a shuffled epoch of the 4-image fixture consecutive people often share an
    image, which a real training set of thousands of images almost never does."""
    data = json.loads((folder / "test_coco.json").read_text())
    files = {image["id"]: image for image in data["images"]}
    images = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for annotation in data["annotations"]:
        image = dict(files[annotation["image_id"]], id=annotation["id"],
                     file_name=f"person_{annotation['id']}.jpg")
        shutil.copyfile(folder / files[annotation["image_id"]]["file_name"],
                        out_dir / image["file_name"])
        annotation["image_id"] = annotation["id"]
        images.append(image)
    (out_dir / "test_coco.json").write_text(json.dumps({**data, "images": images}))
    return out_dir


def coco_fixture_overrides(folder: Path, input_size: tuple[int, int]) -> list[str]:
    """The fixture as a custom COCO-format set: training crops, no photometric augmentation."""
    return [
        "data=custom", f"data.root={folder}", f"data.keypoints.path={CONF_DIR}/keypoints/coco.yaml",
        "data.train_ann=test_coco.json", "data.val_ann=test_coco.json", "data.train_images=.",
        "data.val_images=.", f"data.input_size=[{input_size[0]},{input_size[1]}]",
        "data.photometric=null",
    ]
