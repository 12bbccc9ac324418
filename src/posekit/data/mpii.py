"""MPII Human Pose in the layout of the HRNet and mmpose code bases."""

from __future__ import annotations

from pathlib import Path

from posekit.data.datamodule import TopDownDataModule
from posekit.data.formats.mpii import load_mpii_records
from posekit.data.records import PersonRecord


class MpiiDataModule(TopDownDataModule):
    """MPII: JSON annotations with centre and scale, head boxes in ``mpii_gt_val.mat``.

    Validation records keep the order of ``mpii_val.json``, which is the column order of
    ``mpii_gt_val.mat`` that the official PCKh reads.
    """

    layout = (
        "  <root>/annotations/mpii_train.json\n"
        "  <root>/annotations/mpii_val.json\n"
        "  <root>/annotations/mpii_gt_val.mat   (head boxes for PCKh)\n"
        "  <root>/images/*.jpg"
    )

    def __init__(
        self,
        *args,
        train_ann: str = "annotations/mpii_train.json",
        val_ann: str = "annotations/mpii_val.json",
        gt_val_mat: str = "annotations/mpii_gt_val.mat",
        images: str = "images",
        **kwargs,
    ) -> None:
        self.train_ann = train_ann
        self.val_ann = val_ann
        self.gt_val_mat = gt_val_mat
        self.images = images
        super().__init__(*args, **kwargs)

    def required_paths(self) -> list[Path]:
        return [
            self.resolve(self.train_ann),
            self.resolve(self.val_ann),
            self.resolve(self.gt_val_mat),
            self.resolve(self.images),
        ]

    def train_source(self) -> str:
        return str(self.resolve(self.train_ann))

    def val_source(self) -> str:
        return str(self.resolve(self.val_ann))

    def train_records(self) -> list[PersonRecord]:
        return load_mpii_records(
            self.resolve(self.train_ann), self.resolve(self.images), self.spec.num_keypoints
        )

    def val_records(self) -> list[PersonRecord]:
        return load_mpii_records(
            self.resolve(self.val_ann), self.resolve(self.images), self.spec.num_keypoints
        )
