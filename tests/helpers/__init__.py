"""Helpers shared by the tests: the repository's paths and composing the real Hydra configs."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from posekit.config import CONF_DIR, REPO_ROOT, compose

REPO = REPO_ROOT
CONF = CONF_DIR


def compose_config(config_name: str, overrides: list[str], output_dir: Path) -> DictConfig:
    """The config ``train.py``/``eval.py`` would see, with the run folder set to ``output_dir``."""
    return compose(config_name, overrides, output_dir=output_dir)
