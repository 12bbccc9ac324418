"""Import a published checkpoint (official HRNet / SimCC, mmpose, AlphaPose) as a posekit one.

    python scripts/import_checkpoint.py checkpoint=pose_hrnet_w32_256x192.pth \\
        experiment=hrnet_heatmap_coco out=checkpoints/hrnet_w32_256x192.ckpt [key=value ...]
    python eval.py ckpt_path=checkpoints/hrnet_w32_256x192.ckpt experiment=hrnet_heatmap_coco \\
        data.root=/data/coco

The posekit model is built from the experiment's training config (plus any train.py
``key=value`` overrides, e.g. ``data.input_size=[288,384]`` for a 384x288 checkpoint); the
source (``source=``, told from the file's keys when left out) names the explicit rules of
``posekit.deploy.import_weights`` that map the tensors onto it, and the mapping report is
printed. ``backbone_keys=`` replaces the source's backbone key map by a named one
(``mmpose_cspnext``, ``resnet``, ``hrnet``, ``identity``) or a yaml file of
``{regex: timm name}``. Source tensors
posekit does not use, or posekit tensors left at their initialisation, stop the import (naming
them and their count) unless ``allow_unmapped=true`` / ``allow_unset=true``. The output
carries ``posekit_config``, so ``eval.py``, ``scripts/infer.py`` and ``scripts/export.py`` read
it like a trained run. Options: conf/import_checkpoint.yaml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue

from posekit.cli import choice, command, task_overrides
from posekit.config import compose
from posekit.deploy.import_weights import (
    convert_state_dict,
    detect_source,
    load_source_state_dict,
)
from posekit.models.checkpoint import build_model, save_checkpoint

# this command's options; the other overrides given are train.py's
OWN_KEYS = ("checkpoint", "out", "source", "backbone_keys", "allow_unmapped", "allow_unset")


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


# bad input (ConversionError and CheckpointError are ValueErrors): its message, no traceback
@command("import_checkpoint", refuse=(ValueError, FileNotFoundError, MissingMandatoryValue))
def main(cfg: DictConfig) -> Path:
    if choice("experiment") is None:
        raise ValueError("give experiment=<name> (a config of conf/experiment), the recipe the "
                         "checkpoint was trained with, e.g. experiment=hrnet_heatmap_coco")
    checkpoint, out = cfg.checkpoint, Path(cfg.out)
    train_cfg = import_config(task_overrides(exclude=OWN_KEYS), out.resolve().parent)
    return import_checkpoint(train_cfg, checkpoint, out, cfg.source, cfg.backbone_keys,
                             cfg.allow_unmapped, cfg.allow_unset)


if __name__ == "__main__":
    main()
