"""Check a downloaded data set folder against the layout posekit reads; convert what needs it.

    python scripts/prepare_data.py crowdpose --root /data/crowdpose
    python scripts/prepare_data.py mpii --root /data/mpii --mpii-mat mpii_human_pose_v1_u12_1.mat \
        [--val-images val_images.txt]

<set> names a config of conf/data (coco, mpii, crowdpose, aic, ochuman, halpe26, halpe136,
custom, sample); the expected file names are that config's (override them with key=value
arguments, e.g. `val_ann=json/crowdpose_val.json`, `data.` prefix optional, `key=` for
null). Prints what is there and what is missing
and exits 1 when something required is missing.

MPII: --mpii-mat converts the official annotation file into <root>/annotations/mpii_train.json
(every annotated person of the training images). The usual validation split (2958 people, from
HRNet / mmpose) is not recorded in the .mat: download its mpii_val.json and mpii_gt_val.mat, or
pass --val-images (a file with one image name per line) to hold out the people of those images
as mpii_val.json with their head boxes in mpii_gt_val.mat.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hydra.errors import ConfigCompositionException

from posekit.config import data_config
from posekit.data.prepare import check_layout, convert_mpii


def data_overrides(items: list[str]) -> list[str]:
    """``key=value`` or ``data.key=value`` arguments as Hydra overrides of the data config; an
    empty value is null (``val_ann=`` drops the split)."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"expected key=value (e.g. val_ann=x.json), got {item!r}")
        key = key if key.startswith("data.") else f"data.{key}"
        out.append(f"{key}={value if value else 'null'}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="a data config name, e.g. crowdpose")
    parser.add_argument("--root", required=True, help="the downloaded data set folder")
    parser.add_argument("--mpii-mat", help="MPII: mpii_human_pose_v1_u12_1.mat to convert")
    parser.add_argument("--val-images", help="MPII: image names (one a line) to hold out as val")
    parser.add_argument("--keypoints", help="custom sets: the keypoint spec yaml")
    parser.add_argument("overrides", nargs="*", help="data config values, e.g. val_ann=x.json")
    args = parser.parse_intermixed_args()

    root = Path(args.root).resolve()
    if args.mpii_mat:
        if args.data != "mpii":
            parser.error("--mpii-mat converts MPII annotations: use it with the data set mpii")
        names = Path(args.val_images).read_text().split() if args.val_images else []
        counts = convert_mpii(args.mpii_mat, root / "annotations", names)
        print(f"converted {args.mpii_mat} into {root / 'annotations'}: {counts}")
        if not names:
            print(
                "no --val-images: every person is in mpii_train.json. For the usual validation "
                "split put HRNet's / mmpose's mpii_val.json and mpii_gt_val.mat into annotations/"
            )

    keypoints = [f"data.keypoints.path={Path(args.keypoints).resolve()}"] if args.keypoints else []
    try:
        cfg = data_config(args.data, keypoints + data_overrides(args.overrides))
    except (ConfigCompositionException, ValueError) as error:  # a misspelt key: say which
        sys.exit(f"prepare_data.py: {error}")
    cfg.root = str(root)
    report = check_layout(cfg)
    print("\n".join(report.lines()))
    if not report.ok:
        print(f"\n{args.data}: the layout is incomplete; see README.md, 'Data layouts'.")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
