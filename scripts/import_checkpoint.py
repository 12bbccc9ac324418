"""Import a published checkpoint (official HRNet / SimCC, mmpose, AlphaPose) as a posekit one.

    python scripts/import_checkpoint.py --checkpoint pose_hrnet_w32_256x192.pth \\
        --experiment hrnet_heatmap_coco --out checkpoints/hrnet_w32_256x192.ckpt [key=value ...]
    python eval.py ckpt_path=checkpoints/hrnet_w32_256x192.ckpt experiment=hrnet_heatmap_coco \\
        data.root=/data/coco

The posekit model is built from the experiment's config (plus any ``key=value`` overrides,
e.g. ``data.input_size=[288,384]`` for a 384x288 checkpoint); the source (``--source``, told
from the file's keys when left out) names the explicit rules of ``posekit.deploy.import_weights``
that map the tensors onto it, and the mapping report is printed. ``--keys`` replaces the
source's backbone key map by a named one (``mmpose_cspnext``, ``resnet``, ``hrnet``,
``identity``) or a yaml file of ``{regex: timm name}``. Source tensors posekit does not use, or
posekit tensors left at their initialisation, stop the import (naming them and their count)
unless ``--allow-unmapped`` / ``--allow-unset``. The output carries ``posekit_config``, so
``eval.py``, ``scripts/infer.py`` and ``scripts/export.py`` read it like a trained run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from omegaconf import DictConfig

from posekit.config import compose
from posekit.deploy.import_weights import (
    SOURCES,
    ConversionError,
    convert_state_dict,
    detect_source,
    load_source_state_dict,
)
from posekit.models.checkpoint import CheckpointError, build_model, save_checkpoint
from posekit.models.key_maps import KEY_MAPS


def compose_experiment(experiment: str, overrides: list[str], output_dir: Path) -> DictConfig:
    """The training config of ``experiment`` (ImageNet weights off: the import fills them)."""
    overrides = [f"experiment={experiment}", "model.backbone.pretrained=false", *overrides]
    cfg = compose("train", overrides, output_dir=output_dir)
    if cfg.model.backbone.get("checkpoint"):
        raise ValueError(
            "model.backbone.checkpoint is set, but the import maps the backbone's tensors itself "
            "(the report would call the ones that file loads unset): drop it, and give the "
            "backbone's key map with --keys <name or yaml file> if the source's own does not fit"
        )
    return cfg


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--source", choices=SOURCES, help="who published it (default: told from the file's keys)"
    )
    parser.add_argument("--checkpoint", required=True, type=Path, help="the published .pth")
    parser.add_argument(
        "--experiment", required=True, help="posekit experiment, e.g. hrnet_simcc_coco"
    )
    parser.add_argument("--out", required=True, type=Path, help="the posekit .ckpt to write")
    parser.add_argument(
        "--allow-unmapped", action="store_true", help="ignore unused source tensors"
    )
    parser.add_argument("--allow-unset", action="store_true", help="accept unset posekit tensors")
    parser.add_argument(
        "--keys",
        help=f"backbone key map: one of {', '.join(KEY_MAPS)} or a yaml file {{regex: name}}",
    )
    parser.add_argument("overrides", nargs="*", help="config overrides key=value")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    cfg = compose_experiment(args.experiment, args.overrides, args.out.resolve().parent)
    model = build_model(cfg)
    source_state = load_source_state_dict(args.checkpoint)
    source = args.source or detect_source(source_state)
    state, report = convert_state_dict(
        source_state,
        model,
        source,
        allow_unmapped=args.allow_unmapped,
        allow_unset=args.allow_unset,
        backbone_keys=args.keys,
    )
    model.load_state_dict(state)
    if args.source is None:
        print(f"source: {source} (told from the file's keys)")
    print(report.summary())
    path = save_checkpoint(
        model,
        args.out,
        posekit_import={
            "source": source,
            "checkpoint": str(args.checkpoint),
            "experiment": args.experiment,
            "unmapped_source": sorted(report.unmapped_source),
            "unset_target": report.unset_target,
        },
    )
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    try:
        main()
    except (ConversionError, CheckpointError, ValueError) as err:  # bad input: no traceback
        sys.exit(f"import_checkpoint.py: {err}")
