r"""Check a downloaded data set folder against the layout posekit reads; convert what needs it.

    python scripts/prepare_data.py data=crowdpose data.root=/data/crowdpose
    python scripts/prepare_data.py data=mpii data.root=/data/mpii \
        mpii_mat=mpii_human_pose_v1_u12_1.mat [mpii_val_images=val_images.txt]

``data`` names a config of conf/data (coco, mpii, crowdpose, aic, ochuman, halpe26, halpe136,
custom, sample); the expected file names are that config's (change them as for train.py, e.g.
``data.val_ann=json/crowdpose_val.json``; ``data.val_ann=null`` for no such split; a custom
set's keypoints: ``data.keypoints.path=my_keypoints.yaml``). Prints what is there and what is
missing and exits 1 when something required is missing.

MPII: ``mpii_mat=`` converts the official annotation file into <root>/annotations/mpii_train.json
(every annotated person of the training images). The usual validation split (2958 people, from
HRNet / mmpose) is not recorded in the .mat: download its mpii_val.json and mpii_gt_val.mat, or
pass ``mpii_val_images=`` (a file with one image name per line) to hold out the people of those
images as mpii_val.json with their head boxes in mpii_gt_val.mat. Options: conf/prepare_data.yaml.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from posekit.cli import choice, command, exit_with
from posekit.data.prepare import check_layout, convert_mpii


@command("prepare_data", refuse=(ValueError, FileNotFoundError))
def main(cfg: DictConfig) -> int:
    data = choice("data")
    if data is None:
        raise ValueError("give data=<set> (a config of conf/data), e.g. data=crowdpose")
    if OmegaConf.is_missing(cfg.data, "root"):
        raise ValueError(
            f"data={data} has no default folder: give data.root=<the downloaded folder>"
        )
    root = Path(str(cfg.data.root)).resolve()
    if cfg.mpii_mat is not None:
        if data != "mpii":
            raise ValueError("mpii_mat= converts MPII annotations: use it with data=mpii")
        names = Path(str(cfg.mpii_val_images)).read_text().split() if cfg.mpii_val_images else []
        counts = convert_mpii(str(cfg.mpii_mat), root / "annotations", names)
        print(f"converted {cfg.mpii_mat} into {root / 'annotations'}: {counts}")
        if not names:
            print(
                "no mpii_val_images=: every person is in mpii_train.json. For the usual "
                "validation split put HRNet's / mmpose's mpii_val.json and mpii_gt_val.mat into "
                "annotations/"
            )
    cfg.data.root = str(root)
    report = check_layout(cfg.data)
    print("\n".join(report.lines()))
    if not report.ok:
        print(f"\n{data}: the layout is incomplete; see README.md, 'Data layouts'.")
    return 0 if report.ok else 1


if __name__ == "__main__":
    exit_with(main())
