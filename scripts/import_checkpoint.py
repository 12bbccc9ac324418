"""Import a published checkpoint (official HRNet / SimCC, mmpose) as a posekit checkpoint.

    python scripts/import_checkpoint.py --source hrnet --checkpoint pose_hrnet_w32_256x192.pth \\
        --experiment hrnet_heatmap_coco --out checkpoints/hrnet_w32_256x192.ckpt [key=value ...]
    python eval.py ckpt_path=checkpoints/hrnet_w32_256x192.ckpt experiment=hrnet_heatmap_coco \\
        data.root=/data/coco

The posekit model is built from the experiment's config (plus any ``key=value`` overrides,
e.g. ``data.input_size=[288,384]`` for a 384x288 checkpoint); the source tensors are mapped
onto it by the explicit rules of ``posekit.convert`` and the mapping report is printed. Source
tensors posekit does not use, or posekit tensors left unset, stop the import unless
``--allow-unmapped`` / ``--allow-unset``. The output carries ``posekit_config``, so
``eval.py``, ``scripts/infer.py`` and ``scripts/export.py`` read it like a trained run.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from posekit.convert import SOURCES, convert_state_dict, load_source_state_dict
from posekit.pipeline import build_model, save_checkpoint

REPO = Path(__file__).resolve().parents[1]


def compose_experiment(experiment: str, overrides: list[str], output_dir: Path) -> DictConfig:
    """The training config of ``experiment`` (ImageNet weights off: the import fills them)."""
    os.environ.setdefault("POSEKIT_ROOT", str(REPO))
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose(
            config_name="train",
            overrides=[f"experiment={experiment}", "model.backbone.pretrained=false", *overrides],
        )
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir)
    return cfg


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--source", required=True, choices=SOURCES, help="who published it")
    parser.add_argument("--checkpoint", required=True, type=Path, help="the published .pth")
    parser.add_argument(
        "--experiment", required=True, help="posekit experiment, e.g. hrnet_simcc_coco"
    )
    parser.add_argument("--out", required=True, type=Path, help="the posekit .ckpt to write")
    parser.add_argument(
        "--allow-unmapped", action="store_true", help="ignore unused source tensors"
    )
    parser.add_argument("--allow-unset", action="store_true", help="accept unset posekit tensors")
    parser.add_argument("overrides", nargs="*", help="config overrides key=value")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    cfg = compose_experiment(args.experiment, args.overrides, args.out.resolve().parent)
    model = build_model(cfg)
    source_state = load_source_state_dict(args.checkpoint)
    state, report = convert_state_dict(
        source_state,
        model.state_dict(),
        args.source,
        allow_unmapped=args.allow_unmapped,
        allow_unset=args.allow_unset,
    )
    model.load_state_dict(state)
    print(report.summary())
    path = save_checkpoint(
        model,
        args.out,
        posekit_import={
            "source": args.source,
            "checkpoint": str(args.checkpoint),
            "experiment": args.experiment,
            "unmapped_source": sorted(report.unmapped_source),
            "unset_target": report.unset_target,
        },
    )
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
