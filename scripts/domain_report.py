r"""One checkpoint over several COCO-format sets: per set and per keypoint, with the protocol.

    python scripts/domain_report.py ckpt_path=<run | file.ckpt> \
        +sets.ochuman=[/data/ochuman/ochuman_val.json,/data/ochuman/images] \
        +sets.humanart=[/data/HumanArt/annotations/validation_humanart.json,/data/HumanArt] \
        [data=ochuman] [flip_test=false] [out=DIR] [key=value ...]

Each set is ``+sets.<name>=[<annotations json>,<the folder its file names start from>]``
(HumanArt's file names carry images/<domain>/...: its root folder, no symlinks), or all at
once: ``'sets={ochuman:[a.json,images],humanart:[b.json,HumanArt]}'``. ``data`` is the data
config whose keypoints and metric options apply (default ochuman: COCO-17, ground-truth boxes,
COCO OKS AP); other key=value are eval.py's (data.num_workers=0, data.use_det_boxes=true ...).
Each set is evaluated as eval.py evaluates into <out>/<set>/; the tables go to
<out>/domain_report.csv and <out>/domain_keypoints.csv (mean OKS term per keypoint of each
person's best result). Options: conf/domain_report.yaml (and eval.py's, conf/eval.yaml).
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from posekit.cli import choice, command, task_overrides
from posekit.deploy.predictor import resolve_checkpoint
from posekit.engine.domain_report import EvalSet, domain_report
from posekit.runs.comparison import format_table

# this command's own options; every other override goes on to each set's eval.py config
OWN = ("ckpt_path", "sets", "out", "data", "flip_test")


@command("domain_report", refuse=(ValueError, FileNotFoundError))
def main(cfg: DictConfig) -> Path:
    if not isinstance(cfg.sets, DictConfig) or not cfg.sets:
        raise ValueError(
            f"sets={cfg.sets}: expected a mapping of names to [<annotations.json>,<image "
            "folder>], e.g. +sets.ochuman=[/data/ochuman/val.json,/data/ochuman/images]"
        )
    given = OmegaConf.to_container(cfg.sets)
    sets = [EvalSet.parse(str(name), paths) for name, paths in given.items()]
    out = Path(str(cfg.out))
    checkpoint = resolve_checkpoint(str(cfg.ckpt_path))
    overrides = [o for o in task_overrides(exclude=OWN) if not o.lstrip("+~").startswith("sets.")]
    report = domain_report(checkpoint, sets, out, choice("data"), cfg.flip_test, overrides)
    print(f"\n{checkpoint} on {len(sets)} sets ({report.stamp}):")
    print(format_table(report.sets))
    print(f"\nmean OKS per keypoint (each person's best result):\n{format_table(report.keypoints)}")
    print(f"\nwritten to {out}")
    return out


if __name__ == "__main__":
    main()
