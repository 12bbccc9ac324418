"""Keypoint specs, annotation readers, the top-down sample and the DataModules."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import REPO, compose_config
from hydra.utils import instantiate

from posekit.codecs import SimCCCodec
from posekit.core.spec import KeypointSpec
from posekit.data.augment import GeometricAugmentation
from posekit.data.coco import CocoDataModule
from posekit.data.datamodule import DataLayoutError
from posekit.data.formats.coco import load_coco_records, load_detection_records
from posekit.data.formats.mpii import load_mpii_records
from posekit.data.mpii import MpiiDataModule
from posekit.data.topdown import TopDownDataset

ROOT = REPO
SAMPLE = ROOT / "data" / "sample"
COCO_SPEC = KeypointSpec.from_yaml(ROOT / "conf" / "keypoints" / "coco.yaml")
MPII_SPEC = KeypointSpec.from_yaml(ROOT / "conf" / "keypoints" / "mpii.yaml")
NO_AUG = GeometricAugmentation(
    flip_prob=0, half_body_prob=0, scale_factor=0, rotation_factor=0, rotation_prob=0
)


def sample_module(**kwargs) -> CocoDataModule:
    options = dict(
        root=str(SAMPLE),
        keypoints=COCO_SPEC,
        codec=SimCCCodec((96, 128)),
        input_size=(96, 128),
        train_ann="annotations/train.json",
        val_ann="annotations/val.json",
        train_images="images",
        val_images="images",
        batch_size=4,
        num_workers=0,
    )
    options.update(kwargs)
    return CocoDataModule(**options)


# --- keypoint specs -------------------------------------------------------------------------
def test_specs_load_with_symmetric_flip_index():
    assert COCO_SPEC.num_keypoints == 17 and MPII_SPEC.num_keypoints == 16
    for spec in (COCO_SPEC, MPII_SPEC):
        index = spec.flip_index
        assert sorted(index) == list(range(spec.num_keypoints))
        assert [index[i] for i in index] == list(range(spec.num_keypoints))
        for a, b in spec.flip_pairs:
            swapped = spec.names[a].replace("left", "@").replace("right", "left").replace("@", "right")
            assert swapped == spec.names[b]


def test_spec_rejects_asymmetric_pairs_and_wrong_lengths(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nnames: [a, left_x, right_x]\nflip_pairs: [[1, 2], [2, 0]]\n"
        "skeleton: []\nsigmas: [0.1, 0.1, 0.1]\n"
    )
    with pytest.raises(ValueError, match=r"bad.yaml.*more than one flip pair"):
        KeypointSpec.from_yaml(bad)
    bad.write_text("name: bad\nnames: [a, b]\nflip_pairs: []\nskeleton: []\nsigmas: [0.1]\n")
    with pytest.raises(ValueError, match="'sigmas' has 1 values for 2 keypoints"):
        KeypointSpec.from_yaml(bad)


# --- readers and bad input ----------------------------------------------------------------
def test_sample_records_skip_nothing_and_keep_boxes():
    records = load_coco_records(SAMPLE / "annotations/train.json", SAMPLE / "images", 17)
    assert len(records) == 450
    assert all(r.bbox[2] > 0 and r.bbox[3] > 0 and r.num_visible > 0 for r in records)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_invalid_json_names_the_file(tmp_path):
    path = _write(tmp_path / "broken.json", "{not json")
    with pytest.raises(ValueError, match=r"broken.json is not valid JSON"):
        load_coco_records(path, tmp_path, 17)


def test_wrong_keypoint_count_names_the_record(tmp_path):
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100}],
        "annotations": [{"id": 7, "image_id": 1, "bbox": [0, 0, 10, 10], "keypoints": [1, 1, 2] * 16}],
    }
    path = _write(tmp_path / "ann.json", json.dumps(data))
    with pytest.raises(ValueError, match=r"ann.json: annotations\[0\] \(id 7\): 48 keypoint values, expected 51"):
        load_coco_records(path, tmp_path, 17)


def test_degenerate_records_are_skipped_and_counted(tmp_path, caplog):
    kps = [10, 10, 2] * 17
    data = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100}],
        "annotations": [
            {"id": 1, "image_id": 1, "bbox": [0, 0, 10, 10], "keypoints": kps},
            {"id": 2, "image_id": 1, "bbox": [5, 5, 0, 10], "keypoints": kps},
            {"id": 3, "image_id": 1, "bbox": [0, 0, 10, 10], "keypoints": [0] * 51},
            {"id": 4, "image_id": 1, "bbox": [5, 5, -3, 10], "keypoints": kps},
            {"id": 5, "image_id": 1, "bbox": [120, 5, 10, 10], "keypoints": kps},
            {"id": 6, "image_id": 1, "bbox": [150, 5, 10, 10], "keypoints": kps},
        ],
    }
    path = _write(tmp_path / "ann.json", json.dumps(data))
    caplog.set_level("INFO")
    records = load_coco_records(path, tmp_path, 17)
    assert [r.ann_id for r in records] == [1]
    assert "1 people without labelled keypoints" in caplog.text
    assert "1 boxes of zero width or height (e.g. 2)" in caplog.text
    assert "1 boxes of negative width or height (e.g. 4)" in caplog.text
    assert "2 boxes outside the image (e.g. 5, 6)" in caplog.text


def test_missing_root_shows_the_expected_layout(tmp_path):
    with pytest.raises(DataLayoutError, match=r"does not exist(.|\n)*mpii_gt_val.mat"):
        MpiiDataModule(root=str(tmp_path / "nowhere"), keypoints=MPII_SPEC,
                       codec=SimCCCodec((64, 64)), input_size=(64, 64))
    (tmp_path / "annotations").mkdir()
    with pytest.raises(DataLayoutError, match=r"lacks .*mpii_train.json"):
        MpiiDataModule(root=str(tmp_path), keypoints=MPII_SPEC,
                       codec=SimCCCodec((64, 64)), input_size=(64, 64))


def test_missing_image_is_named(tmp_path):
    shutil.copytree(SAMPLE / "annotations", tmp_path / "annotations")
    (tmp_path / "images").mkdir()
    module = sample_module(root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"validation images are missing, e.g. .*images/\d+_\d\.jpg"):
        module.setup("validate")
    dataset = sample_module(root=str(tmp_path), check_images=False)
    dataset.setup("validate")
    with pytest.raises(FileNotFoundError, match=r"cannot read image .*\(record 0, image id"):
        dataset.val_set[0]


# --- the top-down sample -------------------------------------------------------------------
def test_val_sample_has_codec_targets_and_meta():
    module = sample_module()
    module.setup("validate")
    item = module.val_set[0]
    assert item["image"].dtype == torch.uint8 and item["image"].shape == (3, 128, 96)
    assert item["simcc_x"].shape == (17, 192) and item["simcc_y"].shape == (17, 256)
    assert item["keypoint_weights"].shape == (17,)
    record = module.val_set.records[0]
    # unrotated crop: keypoints map back to the record's image coordinates
    from posekit.core.geometry import crop_to_image

    back = crop_to_image(item["keypoints"][None], item["center"][None], item["scale"][None], (96, 128))[0]
    visible = record.keypoints[:, 2] > 0
    np.testing.assert_allclose(back.numpy()[visible], record.keypoints[visible, :2], atol=1e-3)


def test_training_flip_mirrors_and_swaps_keypoints():
    records = load_coco_records(SAMPLE / "annotations/val.json", SAMPLE / "images", 17)[:1]
    codec = SimCCCodec((96, 128))
    plain = TopDownDataset(records, COCO_SPEC, codec, (96, 128), train=True, augmentation=NO_AUG)[0]
    flip_only = GeometricAugmentation(
        flip_prob=1.0, half_body_prob=0, scale_factor=0, rotation_factor=0, rotation_prob=0
    )
    flipped = TopDownDataset(records, COCO_SPEC, codec, (96, 128), train=True, augmentation=flip_only)[0]
    assert torch.equal(flipped["image"], plain["image"].flip(-1))
    index = COCO_SPEC.flip_index
    expected = plain["keypoints"][index].clone()
    expected[:, 0] = 95 - expected[:, 0]
    torch.testing.assert_close(flipped["keypoints"], expected)
    assert torch.equal(flipped["keypoint_visible"], plain["keypoint_visible"][index])


def test_augmented_training_batches_are_finite():
    module = sample_module(augmentation=GeometricAugmentation(half_body_prob=1.0))
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert batch["image"].shape == (4, 3, 128, 96)
    for key in ("simcc_x", "simcc_y", "keypoint_weights"):
        assert torch.isfinite(batch[key]).all()


# --- the official samples in ../shared/fixtures --------------------------------------------
def test_coco_fixture_gt_and_detection_boxes(fixtures_dir, tmp_path):
    coco = fixtures_dir / "coco"
    module = CocoDataModule(
        root=str(coco), keypoints=COCO_SPEC, codec=SimCCCodec((192, 256)), input_size=(192, 256),
        train_ann="test_coco.json", val_ann="test_coco.json", train_images=".", val_images=".",
        val_det_file="test_coco_det_AP_H_56.json", use_det_boxes=True, batch_size=2, num_workers=0,
    )
    module.setup("fit")
    gt = load_coco_records(coco / "test_coco.json", coco, 17)
    assert len(module.train_set) == len(gt) > 0
    dets = json.loads((coco / "test_coco_det_AP_H_56.json").read_text())
    assert len(module.val_set) == sum(1 for d in dets if d.get("category_id", 1) == 1)
    batch = next(iter(module.val_dataloader()))
    assert batch["image"].shape == (2, 3, 256, 192)
    person_scores = [d["score"] for d in dets if d.get("category_id", 1) == 1]
    torch.testing.assert_close(batch["bbox_score"], torch.tensor(person_scores[:2], dtype=torch.float32))
    # detections of another data set are refused with the file named
    bad = tmp_path / "dets.json"
    bad.write_text(json.dumps([{"image_id": 123456789, "bbox": [0, 0, 5, 5], "score": 0.9}]))
    with pytest.raises(ValueError, match=r"dets.json: detection \[0\]: image_id 123456789 is not in"):
        load_detection_records(bad, coco / "test_coco.json", coco, 17)


def test_mpii_fixture_records_and_module(mpii_root, tmp_path):
    root = mpii_root
    raw = json.loads((root / "annotations/mpii_val.json").read_text())
    records = load_mpii_records(root / "annotations/mpii_val.json", root / "images")
    # 1-based MATLAB joints become 0-based pixels
    np.testing.assert_allclose(records[0].keypoints[:, :2], np.array(raw[0]["joints"]) - 1)
    # the box: centre moved down 15 px x scale, side = 1.25 x 200 x scale
    side = raw[0]["scale"] * 250
    assert records[0].bbox[2] == pytest.approx(side, rel=1e-5)
    cfg = compose_config("train", ["data=mpii", f"data.root={root}", "data.input_size=[64,64]",
                                   "data.batch_size=5", "data.num_workers=0"], tmp_path)
    module = instantiate(cfg.data)
    assert isinstance(module, MpiiDataModule) and module.bbox_padding == 1.0
    module.setup("fit")
    batch = next(iter(module.val_dataloader()))
    assert batch["image"].shape == (5, 3, 64, 64)
    assert batch["sample_idx"].tolist() == [0, 1, 2, 3, 4]
    assert [type(m).__name__ for m in module.build_metrics()] == ["PCKMetric", "MPIIPCKh"]


def test_udp_crops_map_back_with_udps_inverse():
    from posekit.core.geometry import apply_affine, crop_to_image, udp_affine_matrix

    module = sample_module(udp=True)
    module.setup("validate")
    item, record = module.val_set[0], module.val_set.records[0]
    center, scale = item["center"].numpy(), item["scale"].numpy()
    visible = record.keypoints[:, 2] > 0
    expected = apply_affine(record.keypoints[:, :2], udp_affine_matrix(center, scale, 0.0, (96, 128)))
    np.testing.assert_allclose(item["keypoints"].numpy()[visible], expected[visible], atol=1e-3)
    back = crop_to_image(item["keypoints"][None], item["center"][None], item["scale"][None],
                         (96, 128), udp=True)[0]
    np.testing.assert_allclose(back.numpy()[visible], record.keypoints[visible, :2], atol=1e-3)
    plain = sample_module()
    plain.setup("validate")
    assert not np.allclose(plain.val_set[0]["keypoints"].numpy()[visible], expected[visible], atol=0.1)
