"""COCO-format keypoint data sets: COCO itself, the bundled sample, any custom set."""

from __future__ import annotations

from pathlib import Path

from posekit.data.datamodule import TopDownDataModule
from posekit.data.formats.coco import load_coco_records, load_detection_records
from posekit.data.records import PersonRecord
from posekit.metrics import CocoKeypointAP, KeypointMetric, PCKMetric


class CocoDataModule(TopDownDataModule):
    """Trains on ground-truth boxes; validates on ground-truth boxes or on a detections file.

    Paths are relative to ``root`` unless absolute. ``val_det_file`` (COCO results format,
    e.g. ``COCO_val2017_detections_AP_H_56_person.json``) is used when ``use_det_boxes``.
    """

    layout = (
        "  <root>/annotations/person_keypoints_train2017.json\n"
        "  <root>/annotations/person_keypoints_val2017.json\n"
        "  <root>/train2017/*.jpg\n"
        "  <root>/val2017/*.jpg\n"
        "  <root>/person_detection_results/COCO_val2017_detections_AP_H_56_person.json"
        "   (only with data.use_det_boxes=true)\n"
        "(file and folder names are set by data.train_ann, data.val_ann, data.train_images,\n"
        " data.val_images and data.val_det_file)"
    )

    def __init__(
        self,
        *args,
        train_ann: str = "annotations/person_keypoints_train2017.json",
        val_ann: str = "annotations/person_keypoints_val2017.json",
        train_images: str = "train2017",
        val_images: str = "val2017",
        val_det_file: str | None = None,
        use_det_boxes: bool = False,
        det_score_threshold: float = 0.0,
        **kwargs,
    ) -> None:
        self.train_ann = train_ann
        self.val_ann = val_ann
        self.train_images = train_images
        self.val_images = val_images
        self.val_det_file = val_det_file
        self.use_det_boxes = use_det_boxes
        self.det_score_threshold = det_score_threshold
        super().__init__(*args, **kwargs)

    def required_paths(self) -> list[Path]:
        paths = [self.resolve(self.val_ann), self.resolve(self.val_images)]
        if self.use_det_boxes:
            if not self.val_det_file:
                raise ValueError("data.use_det_boxes=true needs data.val_det_file")
            paths.append(self.resolve(self.val_det_file))
        return paths

    def train_records(self) -> list[PersonRecord]:
        for path in (self.resolve(self.train_ann), self.resolve(self.train_images)):
            if not path.exists():
                raise FileNotFoundError(f"training needs {path}. Expected layout:\n{self.layout}")
        return load_coco_records(
            self.resolve(self.train_ann), self.resolve(self.train_images), self.spec.num_keypoints
        )

    def val_records(self) -> list[PersonRecord]:
        if self.use_det_boxes:
            return load_detection_records(
                self.resolve(self.val_det_file),
                self.resolve(self.val_ann),
                self.resolve(self.val_images),
                self.spec.num_keypoints,
                self.det_score_threshold,
            )
        return load_coco_records(
            self.resolve(self.val_ann), self.resolve(self.val_images), self.spec.num_keypoints
        )

    def build_metrics(self) -> list[KeypointMetric]:
        return [
            PCKMetric(thresholds=self.pck_thresholds),
            CocoKeypointAP(
                ann_file=str(self.resolve(self.val_ann)),
                sigmas=self.spec.sigmas,
                use_detections=self.use_det_boxes,
            ),
        ]
