"""One checkpoint over several COCO-format sets: per set and per keypoint, with the protocol.

    python scripts/domain_report.py --checkpoint <run | file.ckpt> \
        --set ochuman=/data/ochuman/ochuman_val.json,/data/ochuman/images \
        --set humanart=/data/HumanArt/annotations/validation_humanart.json,/data/HumanArt \
        [--data ochuman] [--no-flip] [--out DIR] [key=value ...]

Each --set is name=<annotations json>,<the folder its file names start from> (HumanArt's file
names carry images/<domain>/...: its root folder, no symlinks). --data is the data config whose
keypoints and metric options apply (default ochuman: COCO-17, ground-truth boxes, COCO OKS AP);
key=value are more config overrides (data.num_workers=0, data.use_det_boxes=true ...). Each set
is evaluated as eval.py evaluates into <out>/<set>/; the tables go to <out>/domain_report.csv
and <out>/domain_keypoints.csv (mean OKS term per keypoint of each person's best result).
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from posekit.config import set_repo_root

REPO = Path(__file__).resolve().parents[1]
set_repo_root(REPO)


def main(argv: list[str] | None = None) -> Path:
    from posekit.deploy.predictor import resolve_checkpoint
    from posekit.engine.domain_report import EvalSet, domain_report
    from posekit.runs.comparison import format_table

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", required=True, help="a .ckpt file or a run folder")
    parser.add_argument("--set", action="append", required=True, dest="sets",
                        help="name=<annotations.json>,<image folder> (repeat for each set)")
    parser.add_argument("--data", default="ochuman", help="the data config (keypoints, metric)")
    parser.add_argument("--no-flip", action="store_true", help="no flip test")
    parser.add_argument("--out", type=Path, help="output folder")
    parser.add_argument("overrides", nargs="*", help="more config overrides, key=value")
    args = parser.parse_args(argv)
    out = args.out or REPO / "logs" / "domain" / f"{datetime.now():%Y-%m-%d_%H-%M-%S}"
    try:
        sets = [EvalSet.parse(text) for text in args.sets]
    except ValueError as err:
        sys.exit(f"domain_report.py: {err}")
    checkpoint = resolve_checkpoint(args.checkpoint)
    report = domain_report(checkpoint, sets, out, args.data, not args.no_flip, args.overrides)
    print(f"\n{checkpoint} on {len(sets)} sets ({report.stamp}):")
    print(format_table(report.sets))
    print(f"\nmean OKS per keypoint (each person's best result):\n{format_table(report.keypoints)}")
    print(f"\nwritten to {out}")
    return out


if __name__ == "__main__":
    main()
