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

from omegaconf import DictConfig

from posekit.cli import choice, command, task_overrides
from posekit.engine.checkpoint_import import import_checkpoint, import_config

# this command's options; the other overrides given are train.py's
OWN_KEYS = ("checkpoint", "out", "source", "backbone_keys", "allow_unmapped", "allow_unset")


# bad input (ConversionError and CheckpointError are ValueErrors): its message, no traceback
@command("import_checkpoint", refuse=(ValueError, FileNotFoundError))
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
