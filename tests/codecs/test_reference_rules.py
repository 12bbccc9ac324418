"""The reference codes' flip and decode rules, each an option beside posekit's own, against
hand-written re-implementations of mmpose 1.3.2 (flip_vectors, get_simcc_maximum,
UDPHeatmap.decode), the official SimCC code (SHIFT_HEATMAP) and AlphaPose (flip_heatmap with
shift=True before the integral)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.codecs import SimCCCodec, UDPHeatmapCodec
from posekit.codecs.alphapose import AlphaPoseIntegralCodec

FLIP_INDEX = [0, 2, 1, 4, 3]


def reversed_and_swapped(vectors: np.ndarray) -> np.ndarray:
    out = vectors[:, :, ::-1].copy()
    return out[:, FLIP_INDEX]


@pytest.mark.parametrize(("rule", "k"), [("none", 2.0), ("one_bin", 3.0), ("exact", 3.0)])
def test_simcc_flip_shifts(rule, k):
    codec = SimCCCodec((16, 16), split_ratio=k, flip_shift=rule)
    x = np.random.default_rng(0).normal(size=(2, 5, int(16 * k)))
    flipped = codec.flip_outputs(
        {"simcc_x": torch.from_numpy(x), "simcc_y": torch.zeros(2, 5, int(16 * k))}, FLIP_INDEX
    )["simcc_x"].numpy()
    expected = reversed_and_swapped(x)
    shift = {"none": 0, "one_bin": 1, "exact": int(k) - 1}[rule]  # exact: Wx-1-(W-1)k = k-1
    if shift:  # out[j] = in[j + shift], the last bins repeating the edge
        expected = np.concatenate([expected[..., shift:], expected[..., -1:].repeat(shift, -1)], -1)
    np.testing.assert_array_equal(flipped, expected)


def test_simcc_minus_one_where_the_raw_maximum_is_not_positive():
    x = torch.full((1, 2, 32), -1.0)
    y = torch.full((1, 2, 32), -1.0)
    x[0, 0, 10], y[0, 0, 20] = 0.5, 0.7  # keypoint 0: positive maxima; keypoint 1: all -1
    outputs = {"simcc_x": x, "simcc_y": y}
    kept, scores = SimCCCodec((16, 16), score_rule="raw").decode(outputs)
    mmpose, _ = SimCCCodec((16, 16), score_rule="raw", nonpositive_keypoints="minus_one").decode(
        outputs
    )
    assert scores.tolist() == [[0.5, -1.0]]
    # mmpose: get_simcc_maximum's locs -1, then SimCCLabel.decode's division by k = 2
    assert mmpose.tolist() == [[[5.0, 10.0], [-0.5, -0.5]]]
    assert kept[0, 1].tolist() == [0.0, 0.0]  # argmax of a flat vector, kept by posekit


@pytest.mark.parametrize("scale", ["udp", "mmpose"])
def test_udp_decode_scale(scale):
    codec = UDPHeatmapCodec((48, 64), (12, 16), refine=False, decode_scale=scale)
    heatmaps = torch.zeros(1, 1, 16, 12)
    heatmaps[0, 0, 9, 7] = 1.0
    keypoints, _ = codec.decode({"heatmaps": heatmaps})
    # posekit: (W-1)/(w-1) as its encoding; mmpose: / (w - 1) * W
    factor = (47 / 11, 63 / 15) if scale == "udp" else (48 / 11, 64 / 15)
    np.testing.assert_allclose(keypoints[0, 0].numpy(), [7 * factor[0], 9 * factor[1]], rtol=1e-6)
    encoded = UDPHeatmapCodec((48, 64), (12, 16)).encode(np.array([[7 * 47 / 11, 9.0]]), np.ones(1))
    assert np.unravel_index(encoded["heatmaps"][0].argmax(), (16, 12)) == (2, 7)
    with pytest.raises(ValueError, match="decode_scale must be one of"):
        UDPHeatmapCodec((48, 64), (12, 16), decode_scale="half")


def alphapose_flip_back(logits: torch.Tensor) -> torch.Tensor:
    """AlphaPose: flip_heatmap(..., shift=True) on the flipped crop's maps (reverse, swap, one
    column right), then the sigmoid integral: the x coordinate as (x / w - 0.5)."""
    out = logits.flip(-1)[:, FLIP_INDEX].clone()
    out[..., 1:] = out[..., :-1].clone()
    probs = out.sigmoid()
    probs = probs / probs.sum(dim=(-2, -1), keepdim=True)
    w = logits.shape[-1]
    return (probs.sum(-2) * torch.arange(w)).sum(-1) / w - 0.5  # (N, K)


def test_alphapose_flip_rule_matches_alphapose_away_from_the_border():
    rng = np.random.default_rng(0)
    h, w = 16, 12
    centre = rng.uniform(4, 8, size=(1, 5, 1, 1))
    grid = torch.arange(w).view(1, 1, 1, w) - torch.from_numpy(centre)
    logits = (-2.0 * grid**2 - 20.0).expand(1, 5, h, w).double()  # low at the borders
    probs = logits.sigmoid() / logits.sigmoid().sum(dim=(-2, -1), keepdim=True)
    u = (probs.sum(-2) * torch.arange(w)).sum(-1) / w - 0.5  # the flipped crop's own x
    coords = torch.stack([u, torch.zeros_like(u)], dim=-1)
    outputs = {"coords": coords, "confidence": torch.ones(1, 5)}
    alphapose = AlphaPoseIntegralCodec((4 * w, 4 * h), flip_rule="alphapose")
    exact = AlphaPoseIntegralCodec((4 * w, 4 * h))
    mirrored = alphapose.flip_outputs(outputs, FLIP_INDEX)["coords"][..., 0]
    torch.testing.assert_close(mirrored, alphapose_flip_back(logits), atol=1e-4, rtol=0)
    # posekit's exact mirror sits 1 input pixel (1 / W) left of AlphaPose's
    exact_x = exact.flip_outputs(outputs, FLIP_INDEX)["coords"][..., 0]
    torch.testing.assert_close(mirrored - exact_x, torch.full_like(exact_x, 1 / (4 * w)))
