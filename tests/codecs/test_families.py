"""Regression, RLE, integral and UDP codecs: round trips within their quantisation and flip
tests that return the un-flipped keypoints exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.codecs import (
    Codec,
    IntegralRegressionCodec,
    RegressionCodec,
    RLECodec,
    UDPHeatmapCodec,
)

INPUT_SIZE = (192, 256)  # (W, H)
HEATMAP_SIZE = (48, 64)
FLIP_INDEX = [1, 0, 3, 2]


def keypoints_batch(seed: int = 0, margin: float = 20.0) -> np.ndarray:
    """(3, 4, 2) keypoints inside the crop, with fractional parts away from .5 in heatmap units
    (so that rounding the mirrored UDP centre mirrors the rounding of the original)."""
    rng = np.random.default_rng(seed)
    points = rng.uniform([margin, margin], [INPUT_SIZE[0] - 1 - margin, INPUT_SIZE[1] - 1 - margin],
                         size=(3, 4, 2))
    return points


def targets(codec: Codec, batch: np.ndarray) -> dict[str, torch.Tensor]:
    encoded = [codec.encode(k, np.ones(len(k))) for k in batch]
    return {key: torch.from_numpy(np.stack([e[key] for e in encoded])) for key in encoded[0]}


def mirrored(batch: np.ndarray) -> np.ndarray:
    """x -> W-1-x and left/right swapped."""
    out = batch[:, FLIP_INDEX].copy()
    out[..., 0] = INPUT_SIZE[0] - 1 - out[..., 0]
    return out


def as_outputs(codec: Codec, encoded: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    outputs = {key: encoded[key] for key in codec.output_keys}
    if isinstance(codec, RLECodec):  # sigma logits: distinct per keypoint so that swaps show
        n, k = encoded["coords"].shape[:2]
        outputs["sigma"] = torch.linspace(-3, 1, n * k * 2).view(n, k, 2)
    return outputs


CODECS = {
    "regression": lambda: RegressionCodec(INPUT_SIZE),
    "rle": lambda: RLECodec(INPUT_SIZE),
    "integral": lambda: IntegralRegressionCodec(INPUT_SIZE, HEATMAP_SIZE, sigma=2.0),
}


@pytest.mark.parametrize("family", sorted(CODECS))
def test_regression_families_round_trip_exactly(family):
    codec = CODECS[family]()
    batch = keypoints_batch()
    decoded, scores = codec.decode(as_outputs(codec, targets(codec, batch)))
    np.testing.assert_allclose(decoded.numpy(), batch, atol=1e-4)
    assert scores.shape == (3, 4) and torch.isfinite(scores).all()


@pytest.mark.parametrize("family", sorted(CODECS))
def test_regression_families_flip_is_exact(family):
    codec = CODECS[family]()
    batch = keypoints_batch(1)
    plain = as_outputs(codec, targets(codec, batch))
    flipped_crop = as_outputs(codec, targets(codec, mirrored(batch)))
    if "sigma" in plain:  # the mirrored crop predicts the swapped sigma
        flipped_crop["sigma"] = plain["sigma"][:, FLIP_INDEX]
    back, back_scores = codec.decode(codec.flip_outputs(flipped_crop, FLIP_INDEX))
    expected, expected_scores = codec.decode(plain)
    np.testing.assert_allclose(back.numpy(), expected.numpy(), atol=1e-4)
    np.testing.assert_allclose(back_scores.numpy(), expected_scores.numpy(), atol=1e-6)
    averaged, _ = codec.decode(codec.flip_average(plain, flipped_crop, FLIP_INDEX))
    np.testing.assert_allclose(averaged.numpy(), batch, atol=1e-4)


def test_regression_targets_are_normalised_and_weights_follow_mmpose():
    codec = RegressionCodec((100, 50))
    keypoints = np.array([[50.0, 25.0], [99.0, 49.0], [100.0, 10.0], [5.0, 5.0], [np.nan, 1.0]])
    encoded = codec.encode(keypoints, np.array([1, 1, 1, 0, 1]))
    np.testing.assert_allclose(encoded["coords"][:2], [[0.5, 0.5], [0.99, 0.98]])
    # outside [0, W-1], unlabelled, non-finite: weight 0 and zero targets
    np.testing.assert_array_equal(encoded["keypoint_weights"], [1, 1, 0, 0, 0])
    assert np.all(encoded["coords"][2:] == 0)


def test_rle_scores_are_one_minus_mean_sigma():
    codec = RLECodec((100, 50))
    sigma_logits = torch.tensor([[[0.0, np.log(3.0)]]])  # sigmoid: 0.5 and 0.75
    _, scores = codec.decode({"coords": torch.zeros(1, 1, 2), "sigma": sigma_logits})
    assert scores.item() == pytest.approx(1 - (0.5 + 0.75) / 2)


def test_rle_flip_average_averages_sigma_after_the_sigmoid():
    codec = RLECodec((100, 50))
    plain = {"coords": torch.zeros(1, 1, 2), "sigma": torch.tensor([[[0.0, 0.0]]])}
    flipped = {"coords": torch.zeros(1, 1, 2), "sigma": torch.tensor([[[np.log(3.0), 0.0]]])}
    _, scores = codec.decode(codec.flip_average(plain, flipped, [0]))
    # sigma_x = (0.5 + 0.75) / 2, sigma_y = 0.5 (mmpose averages sigmoid outputs)
    assert scores.item() == pytest.approx(1 - (0.625 + 0.5) / 2, abs=1e-6)


def test_integral_heatmaps_sum_to_one_and_invalid_keypoints_stay_finite():
    codec = IntegralRegressionCodec(INPUT_SIZE, HEATMAP_SIZE)
    encoded = codec.encode(np.array([[40.0, 60.0], [-500.0, 10.0]]), np.array([1, 1]))
    assert encoded["heatmaps"][0].sum() == pytest.approx(1.0, abs=1e-5)
    assert encoded["keypoint_weights"].tolist() == [1.0, 0.0]
    assert np.all(encoded["heatmaps"][1] == 0) and np.isfinite(encoded["heatmaps"]).all()


# ---------------------------------------------------------------------------------------- UDP
def udp_reference(keypoint: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """One UDP target (h, w) written from the formula: factor (W-1)/(w-1), Gaussian at the exact
    heatmap location, on the window of radius 3 sigma around int(mu + 0.5)."""
    w, h = HEATMAP_SIZE
    mu = keypoint / [(INPUT_SIZE[0] - 1) / (w - 1), (INPUT_SIZE[1] - 1) / (h - 1)]
    m = np.floor(mu + 0.5)
    out = np.zeros((h, w))
    for v in range(h):
        for u in range(w):
            if abs(u - m[0]) <= 3 * sigma and abs(v - m[1]) <= 3 * sigma:
                out[v, u] = np.exp(-((u - mu[0]) ** 2 + (v - mu[1]) ** 2) / (2 * sigma**2))
    return out


def test_udp_targets_follow_the_formula():
    codec = UDPHeatmapCodec(INPUT_SIZE, HEATMAP_SIZE, sigma=2.0)
    point = np.array([[37.3, 101.8]])
    encoded = codec.encode(point, np.ones(1))
    np.testing.assert_allclose(encoded["heatmaps"][0], udp_reference(point[0]), atol=1e-6)
    # the last pixel of each axis is exactly the last input pixel
    corner = codec.encode(np.array([[INPUT_SIZE[0] - 1.0, INPUT_SIZE[1] - 1.0]]), np.ones(1))
    assert corner["heatmaps"][0, -1, -1] == pytest.approx(1.0)


def test_udp_round_trip_within_a_tenth_of_a_heatmap_pixel():
    codec = UDPHeatmapCodec(INPUT_SIZE, HEATMAP_SIZE, sigma=2.0)
    batch = keypoints_batch(2)
    decoded, scores = codec.decode(targets(codec, batch))
    error = np.abs(decoded.numpy() - batch) / np.asarray(codec.factor)
    assert error.max() < 0.1 and (scores > 0.5).all()


def test_udp_flip_is_exact():
    codec = UDPHeatmapCodec(INPUT_SIZE, HEATMAP_SIZE, sigma=2.0)
    batch = keypoints_batch(3)
    flipped = codec.flip_outputs(targets(codec, mirrored(batch)), FLIP_INDEX)
    plain = targets(codec, batch)
    torch.testing.assert_close(flipped["heatmaps"], plain["heatmaps"], atol=1e-6, rtol=0)
    back, _ = codec.decode(flipped)
    expected, _ = codec.decode(plain)
    np.testing.assert_allclose(back.numpy(), expected.numpy(), atol=1e-4)
