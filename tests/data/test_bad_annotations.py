"""Bad annotations: non-finite or non-numeric values are refused naming the file and the record;
the loader and the metric agree on who is ground truth; an empty validation set fails clearly."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from test_data import COCO_SPEC, SAMPLE, sample_module

from posekit.core.io import TruncatedImageError
from posekit.data.formats.coco import load_coco_records
from posekit.metrics import CocoKeypointAP

KEYPOINTS = [float(v) for i in range(17) for v in (20 + i, 30 + 2 * i, 2)]


def write_annotations(path: Path, annotations: list[dict]) -> Path:
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100}],
        "annotations": annotations,
        "categories": [{"id": 1, "name": "person"}],
    }
    path.write_text(json.dumps(data))  # NaN is written as NaN, as json.dump does
    return path


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [("keypoints", float("nan"), "nan"), ("keypoints", "31", "'31'"), ("bbox", None, "None")],
)
def test_non_finite_or_text_coordinates_name_the_file_and_record(tmp_path, field, value, shown):
    ann = {"id": 9, "image_id": 1, "bbox": [10, 10, 50, 80], "keypoints": list(KEYPOINTS)}
    ann[field][1] = value
    path = write_annotations(tmp_path / "ann.json", [ann])
    expected = rf"ann.json: annotations\[0\] \(id 9\): '{field}' holds {shown}"
    with pytest.raises(ValueError, match=expected):
        load_coco_records(path, tmp_path, 17)
    with pytest.raises(ValueError, match=r"ann.json: annotations\[0\] \(id 9\): .*finite numbers"):
        CocoKeypointAP(str(path), spec=COCO_SPEC)


def test_loader_and_metric_agree_on_skipped_people(tmp_path):
    """A person the loader skips (box outside the image; num_keypoints 17 with every keypoint
    unlabelled) is not a miss: perfect predictions of the loaded people score AP = AR = 1."""
    unlabelled = [0.0] * 51
    path = write_annotations(
        tmp_path / "ann.json",
        [
            {"id": 1, "image_id": 1, "bbox": [10, 10, 50, 80], "keypoints": KEYPOINTS,
             "area": 4000},
            {"id": 2, "image_id": 1, "bbox": [150, 10, 50, 80], "keypoints": KEYPOINTS,
             "area": 4000},
            {"id": 3, "image_id": 1, "bbox": [10, 10, 50, 80], "keypoints": unlabelled,
             "num_keypoints": 17, "area": 4000},
        ],
    )
    records = load_coco_records(path, tmp_path, 17)
    assert [r.ann_id for r in records] == [1]
    metric = CocoKeypointAP(str(path), spec=COCO_SPEC)
    keypoints = torch.from_numpy(np.stack([r.keypoints[:, :2] for r in records]))  # (1, 17, 2)
    metric.update(
        keypoints,
        torch.ones(1, 17),
        {
            "sample_idx": torch.tensor([0]),
            "bbox": torch.from_numpy(np.stack([r.bbox for r in records])),
            "bbox_score": torch.ones(1),
            "image_id": torch.tensor([1]),
        },
    )
    values = {key: float(value) for key, value in metric.compute().items()}
    assert values["AP"] == pytest.approx(1.0) and values["AR"] == pytest.approx(1.0)


def test_empty_validation_set_fails_clearly(tmp_path):
    shutil.copytree(SAMPLE / "annotations", tmp_path / "annotations")
    val = json.loads((SAMPLE / "annotations" / "val.json").read_text())
    for ann in val["annotations"]:
        ann["bbox"][2] = 0  # every box of zero width
    (tmp_path / "annotations" / "val.json").write_text(json.dumps(val))
    (tmp_path / "images").symlink_to(SAMPLE / "images")
    module = sample_module(root=str(tmp_path))
    empty = (r"CocoDataModule: the validation set is empty: .*val.json lists no person "
             r".*data.val_ann")
    with pytest.raises(ValueError, match=empty):
        module.setup("fit")


def test_empty_training_annotations_name_the_file(tmp_path):
    shutil.copytree(SAMPLE / "annotations", tmp_path / "annotations")
    train = json.loads((SAMPLE / "annotations" / "train.json").read_text())
    (tmp_path / "annotations" / "train.json").write_text(json.dumps({**train, "annotations": []}))
    (tmp_path / "images").symlink_to(SAMPLE / "images")
    expected = (r"CocoDataModule: the training set is empty: \S*annotations/train.json lists no "
                r"person .*Fix the annotations or data.train_ann")
    with pytest.raises(ValueError, match=expected):
        sample_module(root=str(tmp_path)).setup("fit")


@pytest.mark.parametrize("value", [float("nan"), "12", 1e30, 1e39])
def test_mpii_non_finite_joints_name_the_record(tmp_path, value):
    from posekit.data.formats.mpii import load_mpii_records

    joints = [[10.0 + i, 20.0] for i in range(16)]
    joints[3][1] = value
    record = {"image": "000001.jpg", "center": [50, 50], "scale": 1.0, "joints": joints,
              "joints_vis": [1] * 16}
    path = tmp_path / "mpii_val.json"
    path.write_text(json.dumps([record, record]))
    expected = r"mpii_val.json: record \[0\] \(image 000001.jpg\): holds"
    with pytest.raises(ValueError, match=expected):
        load_mpii_records(path, tmp_path)


def truncated_copy(source: Path, target: Path, keep: float = 0.6) -> Path:
    target.write_bytes(source.read_bytes()[: int(source.stat().st_size * keep)])
    return target


def sample_copy_with_truncated_image(tmp_path: Path, split: str) -> tuple[Path, str]:
    """A copy of the sample whose first image of ``split`` is truncated; returns root, name."""
    root = tmp_path / "sample"
    shutil.copytree(SAMPLE / "annotations", root / "annotations")
    (root / "images").mkdir()
    for image in (SAMPLE / "images").iterdir():
        (root / "images" / image.name).symlink_to(image)
    ann = json.loads((SAMPLE / "annotations" / f"{split}.json").read_text())
    name = ann["images"][0]["file_name"]
    (root / "images" / name).unlink()
    truncated_copy(SAMPLE / "images" / name, root / "images" / name)
    return root, name


def test_validation_fails_and_training_skips_truncated_images(tmp_path, caplog):
    root, name = sample_copy_with_truncated_image(tmp_path / "val", "val")
    with pytest.raises(TruncatedImageError, match=rf"{name} \(image id .*truncated JPEG"):
        sample_module(root=str(root)).setup("validate")

    root, name = sample_copy_with_truncated_image(tmp_path / "train", "train")
    caplog.set_level(logging.WARNING)
    module = sample_module(root=str(root))
    module.setup("fit")
    assert name not in {Path(r.image_path).name for r in module.train_set.records}
    warnings = [r.message for r in caplog.records if "truncated" in r.getMessage()]
    assert len(warnings) == 1 and "skipped 1 truncated training images" in caplog.text


def test_min_visibility_counts_keypoints_as_alphapose_reads_halpe(tmp_path):
    """AlphaPose's Halpe reader: v >= 0.35 is visible (1), below is not (0); a person left
    without visible keypoints is skipped."""
    soft = [0.0] * 51
    soft[2], soft[5], soft[8] = 0.35, 0.34, 2.0  # keypoints 0, 1, 2
    faint = [0.0] * 51
    faint[2] = 0.2
    path = write_annotations(tmp_path / "ann.json", [
        {"id": 1, "image_id": 1, "bbox": [10, 10, 50, 80], "keypoints": soft},
        {"id": 2, "image_id": 1, "bbox": [10, 10, 50, 80], "keypoints": faint},
    ])
    records = load_coco_records(path, tmp_path, 17, min_visibility=0.35)
    assert [r.ann_id for r in records] == [1]
    np.testing.assert_array_equal(records[0].keypoints[:3, 2], [1.0, 0.0, 1.0])
    assert [r.ann_id for r in load_coco_records(path, tmp_path, 17)] == [1, 2]  # v > 0
