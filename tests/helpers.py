"""Composing the real Hydra configs in tests."""

from __future__ import annotations

import os
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"


def compose_config(config_name: str, overrides: list[str], output_dir: Path) -> DictConfig:
    """The config ``train.py``/``eval.py`` would see, with the run folder set to ``output_dir``."""
    os.environ.setdefault("POSEKIT_ROOT", str(REPO))
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
    return cfg
