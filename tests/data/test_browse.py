"""scripts/browse_dataset.py and the target overlay it draws."""

import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from helpers import REPO

from posekit.codecs import MSRAHeatmapCodec, SimCCCodec
from posekit.core.spec import KeypointSpec
from posekit.viz.targets import LABEL_HEIGHT, render_sample, target_map


@pytest.mark.parametrize(
    "codec",
    [SimCCCodec((96, 128), split_ratio=2.0, sigma=4.0), MSRAHeatmapCodec((96, 128), (24, 32), sigma=2.0)],
    ids=["simcc", "heatmap"],
)
def test_target_map_peaks_at_the_keypoints_with_weight(codec):
    keypoints = np.array([[20.0, 30.0], [70.0, 100.0], [50.0, 50.0]], dtype=np.float32)
    visible = np.array([1.0, 1.0, 0.0], dtype=np.float32)  # the third is unlabelled
    sample = {k: torch.from_numpy(v) for k, v in codec.encode(keypoints, visible).items()}
    heat = target_map(sample, (96, 128))
    assert heat.shape == (128, 96) and heat.max() == pytest.approx(1.0, abs=1e-3)
    for x, y in keypoints[:2]:
        assert heat[int(y), int(x)] > 0.8
    assert heat[50, 50] < 0.05  # nothing where only the weight-0 keypoint is
    with pytest.raises(ValueError, match="no codec targets"):
        target_map({"keypoint_weights": torch.ones(3)}, (96, 128))


def test_render_sample_zooms_the_crop_and_keypoints_and_captions_it():
    codec = SimCCCodec((48, 64), split_ratio=2.0, sigma=2.0)
    keypoints = np.array([[10.0, 20.0], [30.0, 40.0]], dtype=np.float32)
    encoded = codec.encode(keypoints, np.ones(2, np.float32))
    sample = {k: torch.from_numpy(v) for k, v in encoded.items()}
    sample["image"] = torch.zeros(3, 64, 48, dtype=torch.uint8)
    sample["keypoints"] = torch.from_numpy(keypoints)
    spec = KeypointSpec(name="two", names=("a", "b"), flip_pairs=(), skeleton=((0, 1),),
                        sigmas=(0.05, 0.05))
    plain = render_sample(sample, spec)
    tile = render_sample(sample, spec, zoom=3, label="image 7  person 9")
    assert plain.shape == (64, 48, 3) and tile.shape == (LABEL_HEIGHT + 192, 144, 3)
    body = tile[LABEL_HEIGHT:]
    # the keypoints land at 3 (x + 0.5) - 0.5: the drawn joint's centre, not the crop's corner
    for x, y in keypoints:
        assert body[int(round(3 * y + 1)), int(round(3 * x + 1))].max() > 100
    assert (tile[:LABEL_HEIGHT] > 200).all(axis=2).any()  # the caption


def browse(tmp_path, *overrides):
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "browse_dataset.py"), f"out={tmp_path}",
         f"hydra.run.dir={tmp_path / 'run'}", "data.num_workers=0", *overrides],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return cv2.imread(str(tmp_path / "browse_000.png"))


def test_browse_the_sample(tmp_path):
    image = browse(tmp_path, "n=6")
    # 6 crops of 128x96 drawn at 2x (tile_height 256) under a caption, in a 4-wide grid
    assert image.shape == (2 * (LABEL_HEIGHT + 256), 4 * 192, 3)
    caption = image[:LABEL_HEIGHT, :192]
    assert (caption > 200).all(axis=2).sum() > 50  # white caption text on black


def test_browse_a_fixture_with_heatmaps(fixtures_dir, tmp_path):
    image = browse(
        tmp_path, "data=crowdpose", "model=heatmap", f"data.root={fixtures_dir / 'crowdpose'}",
        "data.train_ann=test_crowdpose.json", "data.val_ann=test_crowdpose.json",
        "data.train_images=.", "data.val_images=.", "model.codec.heatmap_size=[48,64]", "n=4",
    )
    assert image.shape == (LABEL_HEIGHT + 256, 4 * 192, 3)  # 256 px crops: not enlarged
    red = (image[..., 2] > 200) & (image[..., 1] < 80) & (image[..., 0] < 80)
    assert red.sum() > 50  # the heatmap peaks, drawn in the colour map's red
