"""The device-side batch path (data.device_warp): grid_sample crops and batched targets give
the CPU path's crops and targets."""

from __future__ import annotations

import cv2
import lightning as L
import numpy as np
import pytest
import torch
from helpers import REPO, compose_config
from hydra.utils import instantiate

from posekit.codecs import SimCCCodec
from posekit.core.geometry import crop_affine_matrix
from posekit.core.spec import KeypointSpec
from posekit.core.warp import warp_affine_batch
from posekit.data.augment import GeometricAugmentation
from posekit.data.collate import collate_sources
from posekit.data.formats.coco import load_coco_records
from posekit.data.topdown import TopDownDataset
from posekit.models.checkpoint import build_model
from posekit.models.device_batch import complete_on_device

COCO_SPEC = KeypointSpec.from_yaml(REPO / "conf" / "keypoints" / "coco.yaml")
SAMPLE = REPO / "data" / "sample"
STRONG = GeometricAugmentation(flip_prob=0.5, half_body_prob=0.3, scale_factor=0.35,
                               rotation_factor=45.0, rotation_prob=1.0)


def test_grid_sample_warp_is_cv2_warp_affine():
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 256, (90, 130, 3), dtype=np.uint8), (0, 0), 2)
    size = (48, 64)
    matrices = [crop_affine_matrix(np.array([cx, cy]), np.array([w, w * 4 / 3]), rot, size)
                for cx, cy, w, rot in [(65, 45, 60, 0), (20, 80, 100, 30), (120, 10, 40, -70)]]
    reference = np.stack([cv2.warpAffine(image, m, size, flags=cv2.INTER_LINEAR)
                          for m in matrices])  # (3, 64, 48, 3), parts outside the image
    source = torch.from_numpy(image).permute(2, 0, 1)[None].expand(3, -1, -1, -1)
    ours = warp_affine_batch(source, torch.from_numpy(np.stack(matrices)), size)
    ours = ours.permute(0, 2, 3, 1).numpy()  # (3, 64, 48, 3)
    difference = np.abs(ours - reference)
    assert difference.mean() < 0.3 and difference.max() < 3.0  # cv2 interpolates in 1/32 px


@pytest.mark.parametrize("label_type", ["gaussian", "onehot"])
def test_simcc_batch_encoding_is_the_per_sample_encoding(label_type):
    codec = SimCCCodec((48, 64), split_ratio=2.0, sigma=(4.9, 5.66), label_type=label_type,
                       label_smoothing=0.1 if label_type == "onehot" else 0.0)
    rng = np.random.default_rng(1)
    keypoints = rng.uniform(-10, 70, (4, 17, 2)).astype(np.float32)  # some outside the crop
    keypoints[0, 3] = np.nan
    visible = (rng.random((4, 17)) > 0.2).astype(np.float32)
    batched = codec.encode_batch(torch.from_numpy(keypoints), torch.from_numpy(visible))
    for i in range(4):
        expected = codec.encode(keypoints[i], visible[i])
        for key, value in expected.items():
            np.testing.assert_allclose(batched[key][i].numpy(), value, atol=1e-6, err_msg=key)
    assert torch.isfinite(batched["simcc_x"]).all()


def paired_batches(records, input_size, augmentation, reduced=True):
    """The CPU path's batch and the device path's, with the same random draws."""
    codec = SimCCCodec(input_size)
    options = dict(train=True, augmentation=augmentation, reduced_decode=reduced)
    cpu = TopDownDataset(records, COCO_SPEC, codec, input_size, **options)
    device = TopDownDataset(records, COCO_SPEC, codec, input_size, device_warp=True, **options)
    cpu_samples, device_samples = [], []
    for index in range(len(records)):
        torch.manual_seed(index)
        cpu_samples.append(cpu[index])
        torch.manual_seed(index)
        device_samples.append(device[index])
    expected = torch.utils.data.default_collate(cpu_samples)
    return expected, complete_on_device(collate_sources(device_samples), codec), device


def assert_same_batch(expected, ours):
    assert set(ours) == set(expected)
    difference = (ours["image"].float() - expected["image"].float()).abs()
    assert difference.mean() < 0.5 and (difference <= 2).float().mean() > 0.99
    for key in ("simcc_x", "simcc_y", "keypoint_weights", "keypoints", "center", "scale"):
        torch.testing.assert_close(ours[key], expected[key], rtol=0, atol=1e-5, msg=key)


def test_device_path_gives_the_cpu_batch_on_the_sample():
    records = load_coco_records(SAMPLE / "annotations" / "train.json", SAMPLE / "images", 17)[:24]
    expected, ours, _ = paired_batches(records, (96, 128), STRONG)
    assert_same_batch(expected, ours)


def test_device_path_gives_the_cpu_batch_on_reduced_coco_images(fixtures_dir):
    coco = fixtures_dir / "coco"
    records = load_coco_records(coco / "test_coco.json", coco, 17)
    expected, ours, dataset = paired_batches(records, (48, 64), STRONG)
    assert sum(count for factor, count in dataset.decode_factors.items() if factor > 1) > 0
    assert_same_batch(expected, ours)


def test_device_warp_refuses_photometric_augmentation():
    records = load_coco_records(SAMPLE / "annotations" / "val.json", SAMPLE / "images", 17)
    with pytest.raises(ValueError, match="data.photometric=null"):
        TopDownDataset(records, COCO_SPEC, SimCCCodec((48, 64)), (48, 64), train=True,
                       photometric=lambda image: {"image": image}, device_warp=True)


def test_training_with_device_warp_runs(tmp_path):
    cfg = compose_config("train", [
        "data.input_size=[48,64]", "data.num_workers=0", "data.batch_size=4",
        "data.val_batch_size=4", "data.photometric=null", "data.device_warp=true",
    ], tmp_path)
    model, datamodule = build_model(cfg), instantiate(cfg.data)
    trainer = L.Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=2,
                        limit_val_batches=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        num_sanity_val_steps=0)
    trainer.fit(model, datamodule=datamodule)
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    assert "val/PCK@0.05" in trainer.callback_metrics
