"""Tiny posekit checkpoints for the inference and export tests, built without training."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import torch

from helpers import REPO, compose_config
from posekit.models.checkpoint import build_model, save_checkpoint

# resnet18 at stride 8 on 64x48 crops; heatmaps then are 8x6 (stride 8)
TINY = ["data.input_size=[48,64]", "data.num_workers=0"]
TINY_HEATMAP = ["model=heatmap", "model.codec.heatmap_size=[6,8]"]
# other families: UDP on resnet18 at stride 4 (heatmaps 12x16), RLE (pooled, any size)
TINY_FAMILIES = {"udp": ["model=udp"], "rle": ["model=rle"]}


def save_tiny_checkpoint(path: Path, head: str = "simcc", seed: int = 0) -> Path:
    """An untrained model with random BatchNorm statistics, saved as ``eval.py`` reads it."""
    torch.manual_seed(seed)
    overrides = TINY + (TINY_HEATMAP if head == "heatmap" else TINY_FAMILIES.get(head, []))
    model = build_model(compose_config("train", overrides, path.parent))
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return save_checkpoint(model, path)


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` as a module, to call its ``main(argv)`` in this process."""
    spec = importlib.util.spec_from_file_location(
        f"scripts_{name}", REPO / "scripts" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
