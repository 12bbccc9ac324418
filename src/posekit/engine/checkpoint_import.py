"""Importing a published checkpoint (official HRNet / SimCC, mmpose, AlphaPose) as a posekit
one, around a training config: what ``scripts/import_checkpoint.py`` and ``scripts/reproduce.py``
run (the tensor rules are :mod:`posekit.deploy.import_weights`)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig

from posekit.config import compose
from posekit.deploy.import_weights import (
    convert_state_dict,
    detect_source,
    load_source_state_dict,
)
from posekit.models.checkpoint import build_model, save_checkpoint


def import_config(overrides: Sequence[str], output_dir: str | Path) -> DictConfig:
    """The training config that ``overrides`` (``experiment=<name>``, ...) compose, ImageNet
    weights off (the import fills them): the model an import builds and records."""
    cfg = compose("train", ["model.backbone.pretrained=false", *overrides], output_dir=output_dir)
    if cfg.model.backbone.get("checkpoint"):
        raise ValueError(
            "model.backbone.checkpoint is set, but the import maps the backbone's tensors itself "
            "(the report would call the ones that file loads unset): drop it, and give the "
            "backbone's key map with backbone_keys=<name or yaml file> if the source's own "
            "does not fit"
        )
    return cfg


def import_checkpoint(
    cfg: DictConfig,
    checkpoint: str | Path,
    out: str | Path,
    source: str | None = None,
    backbone_keys: str | None = None,
    allow_unmapped: bool = False,
    allow_unset: bool = False,
) -> Path:
    """Map the published ``checkpoint`` onto the model of the training config ``cfg`` (see
    :func:`import_config`), print the report and write the posekit checkpoint ``out``."""
    model = build_model(cfg)
    source_state = load_source_state_dict(checkpoint)
    told = source or detect_source(source_state)
    state, report = convert_state_dict(
        source_state,
        model,
        told,
        allow_unmapped=allow_unmapped,
        allow_unset=allow_unset,
        backbone_keys=backbone_keys,
    )
    model.load_state_dict(state)
    if source is None:
        print(f"source: {told} (told from the file's keys)")
    print(report.summary())
    path = save_checkpoint(
        model,
        out,
        posekit_import={
            "source": told,
            "checkpoint": str(checkpoint),
            "experiment": cfg.get("experiment_name"),
            "unmapped_source": sorted(report.unmapped_source),
            "unset_target": report.unset_target,
        },
    )
    print(f"wrote {path}")
    return path
