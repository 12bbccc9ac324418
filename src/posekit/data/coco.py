"""COCO-format keypoint data sets: COCO itself, the bundled sample, any custom set."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from posekit.data.datamodule import DataLayoutError, TopDownDataModule
from posekit.data.formats.coco import load_coco_records, load_detection_records
from posekit.data.records import PersonRecord


class CocoDataModule(TopDownDataModule):
    """Trains on ground-truth boxes; validates on ground-truth boxes or on a detections file.

    Paths are relative to ``root`` unless absolute. ``val_det_file`` (COCO results format,
    e.g. ``COCO_val2017_detections_AP_H_56_person.json``) is used when ``use_det_boxes``.
    ``keypoints_in_file``: keypoints per annotation when the files hold more than the spec's K
    (Halpe-26 read from the 136-keypoint Halpe files: the first K are read).
    ``train_min_visibility``: training keypoints count as labelled from this v on (AlphaPose's
    Halpe reader: 0.35); None: v > 0.
    ``record_cache``: the parsed annotations are cached beside each annotation file (true), in
    a folder of that name, or not at all (false); see :mod:`posekit.data.formats.record_cache`.
    """

    def __init__(
        self,
        *args,
        train_ann: str | None = "annotations/person_keypoints_train2017.json",
        val_ann: str = "annotations/person_keypoints_val2017.json",
        train_images: str = "train2017",
        val_images: str = "val2017",
        val_det_file: str | None = None,
        use_det_boxes: bool = False,
        det_score_threshold: float = 0.0,
        keypoints_in_file: int | None = None,
        train_min_visibility: float | None = None,
        record_cache: bool | str = True,
        **kwargs,
    ) -> None:
        self.train_ann = train_ann
        self.val_ann = val_ann
        self.train_images = train_images
        self.val_images = val_images
        self.val_det_file = val_det_file
        self.use_det_boxes = use_det_boxes
        self.det_score_threshold = det_score_threshold
        self.keypoints_in_file = keypoints_in_file
        self.train_min_visibility = train_min_visibility
        self.record_cache = record_cache
        super().__init__(*args, **kwargs)

    @property
    def boxes(self) -> str:
        return "detections" if self.use_det_boxes else "gt"

    @property
    def layout(self) -> str:
        """The expected files, from this data config's names."""
        lines = [f"  <root>/{self.train_ann}", f"  <root>/{self.train_images}/*.jpg"] * bool(
            self.train_ann
        )
        lines += [f"  <root>/{self.val_ann}", f"  <root>/{self.val_images}/*.jpg"]
        if self.val_det_file:
            lines.append(f"  <root>/{self.val_det_file}   (only with data.use_det_boxes=true)")
        return "\n".join(lines) + (
            "\n(names are set by data.train_ann, data.val_ann, data.train_images, "
            "data.val_images and data.val_det_file)"
        )

    def required_paths(self) -> list[Path]:
        paths = [self.resolve(self.val_ann), self.resolve(self.val_images)]
        if self.use_det_boxes:
            if not self.val_det_file:
                raise ValueError("data.use_det_boxes=true needs data.val_det_file")
            paths.append(self.resolve(self.val_det_file))
        return paths

    def check_layout(self) -> None:
        """As the base class, with a message of its own when the detections file is missing."""
        if self.use_det_boxes and self.val_det_file and self.root.is_dir():
            path = self.resolve(self.val_det_file)
            if not path.is_file():
                raise DataLayoutError(
                    f"validation uses person detections (data.use_det_boxes=true, the protocol "
                    f"of the published number) but the detections file {path} does not exist. "
                    f"For COCO it is COCO_val2017_detections_AP_H_56_person.json, from the "
                    "'person_detection_results' folder of the HRNet README's downloads "
                    "(github.com/leoxiaobin/deep-high-resolution-net.pytorch) or mmpose's COCO "
                    "data preparation page; put it there or name it with data.val_det_file=<path>"
                    ", or evaluate on ground-truth boxes with data.use_det_boxes=false (a higher "
                    "AP than the published one)."
                )
        super().check_layout()

    def train_records(self) -> Sequence[PersonRecord]:
        if not self.train_ann:
            raise ValueError(
                f"{type(self).__name__} has no training split (data.train_ann is null): evaluate "
                "a checkpoint with eval.py, or set data.train_ann and data.train_images"
            )
        for path in (self.resolve(self.train_ann), self.resolve(self.train_images)):
            if not path.exists():
                raise FileNotFoundError(f"training needs {path}. Expected layout:\n{self.layout}")
        return load_coco_records(
            self.resolve(self.train_ann),
            self.resolve(self.train_images),
            self.spec.num_keypoints,
            self.keypoints_in_file,
            self.train_min_visibility,
            cache=self.record_cache,
        )

    def train_source(self) -> str:
        return str(self.resolve(self.train_ann))

    def val_source(self) -> str:
        if self.use_det_boxes:
            return f"{self.resolve(self.val_det_file)} (with {self.resolve(self.val_ann)})"
        return str(self.resolve(self.val_ann))

    def val_records(self) -> Sequence[PersonRecord]:
        if self.use_det_boxes:
            return load_detection_records(
                self.resolve(self.val_det_file),
                self.resolve(self.val_ann),
                self.resolve(self.val_images),
                self.spec.num_keypoints,
                self.det_score_threshold,
            )
        return load_coco_records(
            self.resolve(self.val_ann),
            self.resolve(self.val_images),
            self.spec.num_keypoints,
            self.keypoints_in_file,
            cache=self.record_cache,
        )
