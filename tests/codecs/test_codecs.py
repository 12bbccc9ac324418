"""Codecs: encode/decode round trips, invalid keypoints, flip test, batching, validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.codecs import Codec, MSRAHeatmapCodec, SimCCCodec

INPUT_SIZE = (192, 256)  # (W, H)
HEATMAP_SIZE = (48, 64)  # stride 4
STRIDE = 4.0
FLIP_INDEX = [1, 0, 3, 2]


def random_keypoints(rng: np.random.Generator, num: int, margin: float) -> np.ndarray:
    """(num, 2) float keypoints at least ``margin`` px inside the crop [0, W-1] x [0, H-1]."""
    low = np.array([margin, margin])
    high = np.array([INPUT_SIZE[0] - 1 - margin, INPUT_SIZE[1] - 1 - margin])
    return rng.uniform(low, high, size=(num, 2))


def encode_batch(codec: Codec, batch: np.ndarray) -> dict[str, torch.Tensor]:
    """Targets of each sample (N, K, 2), stacked as a batch of head outputs (N, K, ...)."""
    targets = [codec.encode(keypoints, np.ones(len(keypoints))) for keypoints in batch]
    return {key: torch.from_numpy(np.stack([t[key] for t in targets])) for key in codec.output_keys}


def round_trip_error(codec: Codec, batch: np.ndarray) -> np.ndarray:
    """|decode(encode(keypoints)) - keypoints| for keypoints (N, K, 2)."""
    decoded, _ = codec.decode(encode_batch(codec, batch))
    return np.abs(decoded.numpy() - batch)


@pytest.mark.parametrize("label_type", ["gaussian", "onehot"])
@pytest.mark.parametrize("k", [1.0, 2.0, 3.0])
def test_simcc_round_trip(k: float, label_type: str) -> None:
    codec = SimCCCodec(INPUT_SIZE, split_ratio=k, label_type=label_type, label_smoothing=0.1)
    batch = random_keypoints(np.random.default_rng(0), 40, margin=0.0).reshape(4, 10, 2)
    assert round_trip_error(codec, batch).max() <= 0.5 / k + 1e-6


def test_msra_heatmap_round_trip_and_peak() -> None:
    codec = MSRAHeatmapCodec(INPUT_SIZE, HEATMAP_SIZE, sigma=2.0)
    batch = random_keypoints(np.random.default_rng(1), 40, margin=0.0).reshape(4, 10, 2)
    assert round_trip_error(codec, batch).max() < STRIDE
    heatmap = codec.encode(np.array([[10.3 * STRIDE, 20.6 * STRIDE]]), np.ones(1))["heatmaps"][0]
    assert heatmap.max() == 1.0
    assert np.unravel_index(heatmap.argmax(), heatmap.shape) == (21, 10)  # (row, col), rounded


def test_dark_heatmap_round_trip() -> None:
    codec = MSRAHeatmapCodec(INPUT_SIZE, HEATMAP_SIZE, sigma=2.0, unbiased=True)
    batch = random_keypoints(np.random.default_rng(2), 40, margin=16.0).reshape(4, 10, 2)
    assert round_trip_error(codec, batch).max() < 0.1


CODECS = {
    "msra": lambda: MSRAHeatmapCodec(INPUT_SIZE, HEATMAP_SIZE),
    "dark": lambda: MSRAHeatmapCodec(INPUT_SIZE, HEATMAP_SIZE, unbiased=True),
    "simcc-gaussian": lambda: SimCCCodec(INPUT_SIZE, split_ratio=2.0),
    "simcc-onehot": lambda: SimCCCodec(
        INPUT_SIZE, split_ratio=2.0, label_type="onehot", label_smoothing=0.1
    ),
}


@pytest.mark.parametrize("name", list(CODECS))
def test_unlabelled_and_outside_keypoints(name: str) -> None:
    codec = CODECS[name]()
    H = INPUT_SIZE[1]
    keypoints = np.array(
        [
            [50.0, 60.0],  # labelled, inside
            [70.0, 80.0],  # unlabelled
            [-1000.0, 60.0],  # far left
            [50.0, H + 500.0],  # far below
            [np.nan, np.nan],  # labelled but not finite
        ]
    )
    visible = np.array([1, 0, 1, 1, 1], dtype=np.float32)
    targets = codec.encode(keypoints, visible)
    np.testing.assert_array_equal(targets["keypoint_weights"], [1, 0, 0, 0, 0])
    for key in (*codec.output_keys, "keypoint_weights"):
        assert targets[key].dtype == np.float32
        assert np.isfinite(targets[key]).all()
    for key in codec.output_keys:
        assert targets[key].shape[0] == len(keypoints)
        assert targets[key][0].max() > 0
        assert not targets[key][1:].any()


def test_heatmap_weight_follows_the_window() -> None:
    # sigma 2: window of 6 heatmap px each side; a centre at column -6 still touches column 0
    codec = MSRAHeatmapCodec(INPUT_SIZE, HEATMAP_SIZE, sigma=2.0)
    keypoints = np.array([[-6.0 * STRIDE, 40.0], [-7.0 * STRIDE, 40.0], [(48 + 6) * STRIDE, 40.0]])
    targets = codec.encode(keypoints, np.ones(3))
    np.testing.assert_array_equal(targets["keypoint_weights"], [1, 0, 0])
    assert targets["heatmaps"][0, :, 0].max() > 0


def test_simcc_weight_at_the_grid_border() -> None:
    W, H = INPUT_SIZE
    codec = SimCCCodec(INPUT_SIZE, split_ratio=2.0)
    keypoints = np.array([[W - 0.6, 10.0], [W + 0.1, 10.0], [-0.1, 10.0], [10.0, H - 0.1]])
    targets = codec.encode(keypoints, np.ones(4))
    np.testing.assert_array_equal(targets["keypoint_weights"], [1, 0, 0, 1])
    assert targets["simcc_x"][0].argmax() == 2 * W - 1
    assert targets["simcc_y"][3].argmax() == 2 * H - 1
    np.testing.assert_allclose(targets["simcc_y"][0].sum(), 1.0, atol=1e-3)  # normalised Gaussian


def flipped_outputs(codec: Codec, batch: np.ndarray) -> dict[str, torch.Tensor]:
    """Targets of the mirrored keypoints, as the head outputs of the flipped crops."""
    mirrored = batch[:, FLIP_INDEX].copy()
    mirrored[..., 0] = INPUT_SIZE[0] - 1 - mirrored[..., 0]
    return encode_batch(codec, mirrored)


@pytest.mark.parametrize("k", [1.0, 2.0, 3.0])
def test_simcc_flip_consistency(k: float) -> None:
    codec = SimCCCodec(INPUT_SIZE, split_ratio=k)
    batch = random_keypoints(np.random.default_rng(3), 40, margin=4.0).reshape(10, 4, 2)
    decoded, _ = codec.decode(codec.flip_outputs(flipped_outputs(codec, batch), FLIP_INDEX))
    assert np.abs(decoded.numpy() - batch).max() <= 0.5 / k + 1e-6


def test_simcc_flip_fractional_shift() -> None:
    # k = 1.5: the reversed vector is 0.5 bin off; interpolation must put the peak back
    codec = SimCCCodec(INPUT_SIZE, split_ratio=1.5)
    assert codec.flip_shift == 0.5
    batch = random_keypoints(np.random.default_rng(4), 40, margin=4.0).reshape(10, 4, 2)
    decoded, _ = codec.decode(codec.flip_outputs(flipped_outputs(codec, batch), FLIP_INDEX))
    assert np.abs(decoded.numpy() - batch).max() <= 0.5 / 1.5 + 0.02


def test_heatmap_flip_consistency() -> None:
    codec = MSRAHeatmapCodec(INPUT_SIZE, HEATMAP_SIZE, sigma=2.0)
    batch = random_keypoints(np.random.default_rng(5), 40, margin=8.0).reshape(10, 4, 2)
    decoded, _ = codec.decode(codec.flip_outputs(flipped_outputs(codec, batch), FLIP_INDEX))
    assert np.abs(decoded.numpy() - batch).max() <= STRIDE / 4 + STRIDE / 2 + 1e-4


@pytest.mark.parametrize("name", list(CODECS))
def test_batched_decode_shapes(name: str) -> None:
    codec = CODECS[name]()
    torch.manual_seed(0)
    if isinstance(codec, MSRAHeatmapCodec):
        outputs = {"heatmaps": torch.randn(3, 5, 64, 48)}
    else:
        outputs = {"simcc_x": torch.randn(3, 5, 384), "simcc_y": torch.randn(3, 5, 512)}
    keypoints, scores = codec.decode(outputs)
    assert keypoints.shape == (3, 5, 2) and scores.shape == (3, 5)
    assert torch.isfinite(keypoints).all() and torch.isfinite(scores).all()
    flipped = codec.flip_outputs(outputs, [1, 0, 2, 4, 3])
    assert {key: v.shape for key, v in flipped.items()} == {
        key: v.shape for key, v in outputs.items()
    }
    if isinstance(codec, SimCCCodec):
        assert ((scores > 0) & (scores <= 1)).all()


@pytest.mark.parametrize("unbiased", [False, True])
def test_heatmap_decode_without_positive_peak_keeps_argmax(unbiased: bool) -> None:
    codec = MSRAHeatmapCodec(INPUT_SIZE, HEATMAP_SIZE, unbiased=unbiased)
    heatmaps = -torch.ones(1, 1, 64, 48)
    heatmaps[0, 0, 5, 3] = -0.5
    heatmaps[0, 0, 5, 4] = -0.6  # higher right neighbour: must not move the keypoint
    keypoints, scores = codec.decode({"heatmaps": heatmaps})
    torch.testing.assert_close(keypoints, torch.tensor([[[3 * STRIDE, 5 * STRIDE]]]))
    torch.testing.assert_close(scores, torch.tensor([[-0.5]]))


@pytest.mark.parametrize(
    "make",
    [
        lambda: MSRAHeatmapCodec((192, 0), HEATMAP_SIZE),
        lambda: MSRAHeatmapCodec((192.5, 256), HEATMAP_SIZE),
        lambda: MSRAHeatmapCodec(INPUT_SIZE, (48,)),
        lambda: MSRAHeatmapCodec(INPUT_SIZE, HEATMAP_SIZE, sigma=0.0),
        lambda: MSRAHeatmapCodec(INPUT_SIZE, HEATMAP_SIZE, blur_kernel_size=4),
        lambda: SimCCCodec((192, -256)),
        lambda: SimCCCodec(INPUT_SIZE, split_ratio=0.0),
        lambda: SimCCCodec(INPUT_SIZE, sigma=-1.0),
        lambda: SimCCCodec(INPUT_SIZE, sigma=(6.0, 0.0)),
        lambda: SimCCCodec(INPUT_SIZE, label_type="softmax"),
        lambda: SimCCCodec(INPUT_SIZE, label_type="onehot", label_smoothing=1.0),
        lambda: SimCCCodec(INPUT_SIZE, label_smoothing=-0.1),
    ],
)
def test_constructor_validation(make) -> None:
    with pytest.raises(ValueError):
        make()


def test_encode_and_flip_validation() -> None:
    codec = SimCCCodec(INPUT_SIZE)
    with pytest.raises(ValueError):
        codec.encode(np.zeros((4, 3)), np.ones(4))
    with pytest.raises(ValueError):
        codec.encode(np.zeros((4, 2)), np.ones(5))
    outputs = {"simcc_x": torch.zeros(1, 4, 384), "simcc_y": torch.zeros(1, 4, 512)}
    with pytest.raises(ValueError):
        codec.flip_outputs(outputs, [1, 0, 3])
    with pytest.raises(ValueError):
        codec.flip_outputs(outputs, [1, 1, 3, 2])


def test_a_codec_shows_its_settings():
    """The repr names the class and the settings that decide the targets (logs, notebooks)."""
    from posekit.codecs import MSRAHeatmapCodec, SimCCCodec

    assert repr(MSRAHeatmapCodec((96, 128), (24, 32), sigma=1.5)) == (
        "MSRAHeatmapCodec(input_size=(96, 128), heatmap_size=(24, 32), sigma=1.5, "
        "unbiased=False, blur_kernel_size=11)"
    )
    assert repr(SimCCCodec((96, 128), split_ratio=3.0, label_type="onehot")).startswith(
        "SimCCCodec(input_size=(96, 128), split_ratio=3.0, sigma="
    )
