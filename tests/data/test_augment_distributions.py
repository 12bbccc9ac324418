"""Each augmentation sampled many times against its reference's formula, written out here.

References: mmpose 1.3.2 ``RandomBBoxTransform`` / ``RandomHalfBody``
(mmpose/datasets/transforms/common_transforms.py), HRNet's ``JointsDataset`` (and AlphaPose's
``SimpleTransform``, the same draws), mmdet's ``YOLOXHSVRandomAug``. The reference samples come
from scipy.stats.truncnorm and numpy's normal, as the reference code draws them.
"""

from __future__ import annotations

import albumentations as A
import numpy as np
import pytest
from scipy import stats

from posekit.config import compose
from posekit.data.augment import HRNET_UPPER_PROB, GeometricAugmentation
from posekit.data.photometric import YOLOXHSVRandomAug

N = 100_000
RNG_SEED = 0


def same_distribution(ours: np.ndarray, reference: np.ndarray) -> None:
    """Equal in law: two-sample KS test, moments and range."""
    assert stats.ks_2samp(ours, reference).pvalue > 1e-3
    spread = reference.std() * np.sqrt(1 / len(ours) + 1 / len(reference))  # of the mean difference
    assert ours.mean() == pytest.approx(reference.mean(), abs=5 * spread + 1e-9)
    assert ours.std() == pytest.approx(reference.std(), rel=0.02)
    assert ours.min() >= reference.min() - 0.02 * reference.std() - 1e-9
    assert ours.max() <= reference.max() + 0.02 * reference.std() + 1e-9


def mmpose_bbox_transform(n: int, shift_factor: float, shift_prob: float, scale_range: tuple,
                          rotate_factor: float, rotate_prob: float) -> dict[str, np.ndarray]:
    """mmpose's RandomBBoxTransform._get_transform_params, vectorised over n boxes."""
    random_v = stats.truncnorm.rvs(-1, 1, size=(n, 4), random_state=np.random.default_rng(1))
    offset = random_v[:, :2] * shift_factor
    offset = np.where(np.random.default_rng(2).random((n, 1)) < shift_prob, offset, 0.0)
    mu, sigma = sum(scale_range) / 2, (scale_range[1] - scale_range[0]) / 2
    scale = random_v[:, 2] * sigma + mu
    rotate = random_v[:, 3] * rotate_factor
    rotate = np.where(np.random.default_rng(3).random(n) < rotate_prob, rotate, 0.0)
    return {"shift": offset, "scale": scale, "rotation": rotate}


def hrnet_joints_dataset(n: int, sf: float, rf: float) -> dict[str, np.ndarray]:
    """HRNet's JointsDataset (lib/dataset/JointsDataset.py:157-159), vectorised."""
    rng = np.random.default_rng(4)
    scale = np.clip(rng.standard_normal(n) * sf + 1, 1 - sf, 1 + sf)
    rotation = np.where(rng.random(n) <= 0.6, np.clip(rng.standard_normal(n) * rf, -2 * rf, 2 * rf), 0)
    return {"scale": scale, "rotation": rotation}


def augmentation_of(experiment: str) -> GeometricAugmentation:
    from hydra.utils import instantiate

    return instantiate(compose("train", [f"experiment={experiment}"]).data.augmentation)


@pytest.mark.parametrize(
    "experiment, scale_range, rotate_factor",
    [("resnet50_rle_coco", (0.5, 1.5), 80.0), ("cspnext_rtmcc_coco", (0.6, 1.4), 80.0)],
)
def test_mmpose_recipes_draw_the_box_jitter_as_random_bbox_transform(experiment, scale_range, rotate_factor):
    aug = augmentation_of(experiment)
    ref = mmpose_bbox_transform(N, 0.16, 0.3, scale_range, rotate_factor, 0.6)
    rng = np.random.default_rng(RNG_SEED)
    same_distribution(aug.draw_scale(rng, N), ref["scale"])
    rotation = aug.draw_rotation(rng, N)
    assert (rotation == 0).mean() == pytest.approx((ref["rotation"] == 0).mean(), abs=0.01)
    same_distribution(rotation[rotation != 0], ref["rotation"][ref["rotation"] != 0])
    shift = aug.draw_shift(rng, N)
    assert (shift[:, 0] == 0).mean() == pytest.approx(0.7, abs=0.01)
    for axis in (0, 1):
        ours, theirs = shift[:, axis], ref["shift"][:, axis]
        same_distribution(ours[ours != 0], theirs[theirs != 0])
    # the measured figures of the issue: scale std 0.2698 (truncnorm std 0.5396 x 0.5)
    if scale_range == (0.5, 1.5):
        assert aug.draw_scale(rng, N).std() == pytest.approx(0.5 * 0.5396, rel=0.01)


def test_rtmpose_stage_two_draws_as_its_switch_pipeline():
    from hydra.utils import instantiate

    cfg = compose("train", ["experiment=cspnext_rtmcc_coco"])
    aug = instantiate(cfg.callbacks.augmentation_switch.settings.augmentation)
    ref = mmpose_bbox_transform(N, 0.0, 0.3, (0.75, 1.25), 60.0, 0.6)
    rng = np.random.default_rng(RNG_SEED)
    same_distribution(aug.draw_scale(rng, N), ref["scale"])
    rotation = aug.draw_rotation(rng, N)
    same_distribution(rotation[rotation != 0], ref["rotation"][ref["rotation"] != 0])
    assert not aug.draw_shift(rng, N).any()


@pytest.mark.parametrize("experiment, sf, rf", [("hrnet_heatmap_coco", 0.35, 45.0),
                                                ("hrnet_simcc_mpii", 0.25, 30.0),
                                                ("mobilenetv3_fastpose_coco", 0.35, 45.0)])
def test_hrnet_and_alphapose_recipes_draw_as_joints_dataset(experiment, sf, rf):
    aug = augmentation_of(experiment)
    ref = hrnet_joints_dataset(N, sf, rf)
    rng = np.random.default_rng(RNG_SEED)
    scale = aug.draw_scale(rng, N)
    same_distribution(scale, ref["scale"])
    # HRNet COCO: std 0.251 in [0.65, 1.35]; rotations up to 2 x 45 = 90 degrees
    rotation = aug.draw_rotation(rng, N)
    assert (rotation == 0).mean() == pytest.approx(0.4, abs=0.01)
    same_distribution(rotation[rotation != 0], ref["rotation"][ref["rotation"] != 0])
    assert np.abs(rotation).max() == pytest.approx(2 * rf)
    assert not aug.draw_shift(rng, N).any()


def test_mmpose_shift_is_a_fraction_of_the_box_not_of_the_crop():
    """mmpose moves the centre by offset x bbox_scale, the padded box before the aspect fix:
    on a tall box (w 40, h 200, crop aspect 0.75) x moves by 0.16 T x 50, not x 187.5."""
    aug = GeometricAugmentation(shift_factor=0.16, shift_prob=1.0, sampling="truncated_normal",
                                shift_basis="box", scale_factor=0.0, rotation_factor=0.0)
    center, crop = np.zeros(2, np.float32), np.array([150.0, 200.0], np.float32) * 1.25
    box = np.array([40.0, 200.0], np.float32) * 1.25
    rng = np.random.default_rng(RNG_SEED)
    moves = np.array([aug.jitter(center, crop, rng, box)[0] for _ in range(4000)])  # (n, 2)
    reference = 0.16 * stats.truncnorm.rvs(-1, 1, size=(4000, 2), random_state=5) * box
    assert moves[:, 0].std() == pytest.approx(reference[:, 0].std(), rel=0.05)
    assert moves[:, 1].std() == pytest.approx(reference[:, 1].std(), rel=0.05)
    assert np.abs(moves[:, 0]).max() <= 0.16 * box[0] + 1e-4


COCO_UPPER, COCO_LOWER = tuple(range(11)), tuple(range(11, 17))


@pytest.mark.parametrize("rule, upper_prob, expected", [
    ("hrnet", HRNET_UPPER_PROB, stats.norm.cdf(0.5)),  # HRNet / AlphaPose: randn() < 0.5
    ("mmpose", 0.7, 0.7),                              # RandomHalfBody upper_prioritized_prob
])
def test_half_body_picks_the_upper_half_as_its_reference(rule, upper_prob, expected):
    aug = GeometricAugmentation(half_body_prob=1.0, half_body_rule=rule, upper_body_prob=upper_prob)
    rng = np.random.default_rng(RNG_SEED)
    visible = np.ones(17, bool)
    n = 20_000
    upper = sum(aug.choose_half(visible, COCO_UPPER, COCO_LOWER, rng) == list(COCO_UPPER)
                for _ in range(n))
    assert upper / n == pytest.approx(expected, abs=4 * np.sqrt(expected * (1 - expected) / n))


def test_half_body_rules_differ_where_the_references_do():
    """2 upper keypoints (5, 6), the 6 COCO lower ones and one more outside the upper set:
    HRNet / AlphaPose need more than 2 for the upper half and take every other labelled
    keypoint as the lower one; mmpose takes the upper half from 2 on; 8 labelled: neither."""
    visible = np.zeros(18, bool)
    visible[[5, 6, 11, 12, 13, 14, 15, 16, 17]] = True
    rng = np.random.default_rng(RNG_SEED)
    hrnet = GeometricAugmentation(half_body_prob=1.0, half_body_rule="hrnet", upper_body_prob=1.0)
    mmpose = GeometricAugmentation(half_body_prob=1.0, half_body_rule="mmpose", upper_body_prob=1.0)
    assert hrnet.choose_half(visible, COCO_UPPER, COCO_LOWER, rng) == [11, 12, 13, 14, 15, 16, 17]
    assert mmpose.choose_half(visible, COCO_UPPER, COCO_LOWER, rng) == [5, 6]
    visible[17] = False
    assert hrnet.choose_half(visible, COCO_UPPER, COCO_LOWER, rng) is None
    assert mmpose.choose_half(visible, COCO_UPPER, COCO_LOWER, rng) is None


def mmdet_hsv_gains(n: int) -> np.ndarray:
    """mmdet YOLOXHSVRandomAug._get_hsv_gains, vectorised."""
    rng = np.random.RandomState(6)
    gains = rng.uniform(-1, 1, (n, 3)) * [5, 30, 30]
    gains *= rng.randint(0, 2, (n, 3))
    return gains.astype(np.int16)


def test_rtmpose_colour_shift_is_mmdets_yolox_hsv():
    ours = YOLOXHSVRandomAug().draw_gains(np.random.default_rng(RNG_SEED), N).astype(float)
    reference = mmdet_hsv_gains(N).astype(float)
    for channel, delta in enumerate((5, 30, 30)):
        mine, theirs = ours[:, channel], reference[:, channel]
        unchanged = 0.5 + 0.5 / delta  # p 1/2 off, and |U delta| < 1 truncates to 0
        assert (mine == 0).mean() == pytest.approx(unchanged, abs=0.01)
        assert (theirs == 0).mean() == pytest.approx(unchanged, abs=0.01)
        assert mine.std() == pytest.approx(theirs.std(), rel=0.02)
        assert (mine.min(), mine.max()) == (theirs.min(), theirs.max()) == (1 - delta, delta - 1)
    # the config of the RTMPose recipe uses it
    from hydra.utils import instantiate

    photometric = instantiate(compose("train", ["experiment=cspnext_rtmcc_coco"]).data.photometric)
    assert isinstance(photometric.transforms[0], YOLOXHSVRandomAug)


def test_hsv_shift_moves_saturation_by_the_gain():
    """A grey-free colour crop: the saturation channel moves by the drawn gain exactly (no
    clipping), and hue wraps at 180 as OpenCV's 8-bit HSV."""
    import cv2

    transform = YOLOXHSVRandomAug(hue_delta=0, saturation_delta=30, value_delta=0)
    image = np.full((4, 4, 3), (200, 100, 50), np.uint8)
    gains = np.array([0, 12, 0], np.int16)
    out = transform.apply(image, gains)
    saturation = cv2.cvtColor(out, cv2.COLOR_RGB2HSV)[..., 1].astype(int)
    expected = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)[..., 1].astype(int) + 12
    assert np.abs(saturation - expected).max() <= 1  # one round trip through 8-bit RGB
    assert isinstance(A.Compose([transform])(image=image)["image"], np.ndarray)
