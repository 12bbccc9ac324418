"""SimCC score rules and flip averaging against numpy re-implementations of the official code
(leeyegy/SimCC lib/core/function.py: validate_sa_simdr = SimDR*, validate_simdr = SimDR) and of
mmpose's get_simcc_maximum."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.codecs import SimCCCodec

INPUT_SIZE = (48, 64)  # (W, H), k = 2 -> 96 x bins, 128 y bins
FLIP_PAIRS = [(1, 2), (3, 4)]
FLIP_INDEX = [0, 2, 1, 4, 3]


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def official_flip_back(vectors: np.ndarray, axis: str) -> np.ndarray:
    """flip_back_simdr, then SHIFT_HEATMAP's one-bin shift for x (k = 2)."""
    out = vectors[:, :, ::-1].copy() if axis == "x" else vectors.copy()
    for a, b in FLIP_PAIRS:
        out[:, [a, b]] = out[:, [b, a]]
    if axis == "x":
        out[:, :, :-1] = out[:, :, 1:].copy()
    return out


def official_validate(x, y, fx, fy, representation: str):
    """(keypoints (N, K, 2) in input pixels, scores (N, K)) as the official validate_* does."""
    fx, fy = official_flip_back(fx, "x"), official_flip_back(fy, "y")
    if representation == "sa-simdr":  # SimDR*: softmax of the averaged outputs, min score
        px, py = softmax((x + fx) * 0.5), softmax((y + fy) * 0.5)
    else:  # SimDR: mean of the softmaxes, max score
        px, py = (softmax(x) + softmax(fx)) * 0.5, (softmax(y) + softmax(fy)) * 0.5
    vx, vy = px.max(-1), py.max(-1)
    score = np.minimum(vx, vy) if representation == "sa-simdr" else np.maximum(vx, vy)
    return np.stack([px.argmax(-1), py.argmax(-1)], -1) / 2.0, score


def random_outputs(seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return tuple(rng.normal(0, 3, (3, 5, n)) for n in (96, 128, 96, 128))


@pytest.mark.parametrize(
    ("representation", "score_rule", "flip_average_of"),
    [("sa-simdr", "min", "logits"), ("simdr", "max", "probabilities")],
)
def test_flip_test_and_scores_match_the_official_code(representation, score_rule, flip_average_of):
    codec = SimCCCodec(
        INPUT_SIZE, split_ratio=2.0, score_rule=score_rule, flip_average_of=flip_average_of
    )
    x, y, fx, fy = random_outputs(1)
    averaged = codec.flip_average(
        {"simcc_x": torch.from_numpy(x), "simcc_y": torch.from_numpy(y)},
        {"simcc_x": torch.from_numpy(fx), "simcc_y": torch.from_numpy(fy)},
        FLIP_INDEX,
    )
    keypoints, scores = codec.decode(averaged)
    expected_keypoints, expected_scores = official_validate(x, y, fx, fy, representation)
    np.testing.assert_array_equal(keypoints.numpy(), expected_keypoints)
    np.testing.assert_allclose(scores.numpy(), expected_scores, rtol=1e-5)


def test_score_rules_without_flip() -> None:
    x, y, _, _ = random_outputs(2)
    outputs = {"simcc_x": torch.from_numpy(x), "simcc_y": torch.from_numpy(y)}
    vx, vy = softmax(x).max(-1), softmax(y).max(-1)
    expected = {
        "mean": 0.5 * (vx + vy),
        "min": np.minimum(vx, vy),
        "max": np.maximum(vx, vy),
        "raw": np.minimum(x.max(-1), y.max(-1)),  # mmpose's get_simcc_maximum
    }
    for rule, value in expected.items():
        keypoints, scores = SimCCCodec(INPUT_SIZE, score_rule=rule).decode(outputs)
        np.testing.assert_allclose(scores.numpy(), value, rtol=1e-5, err_msg=rule)
        np.testing.assert_array_equal(
            keypoints.numpy(), np.stack([x.argmax(-1), y.argmax(-1)], -1) / 2.0
        )


def test_unknown_options_are_refused() -> None:
    with pytest.raises(ValueError, match="score_rule must be one of"):
        SimCCCodec(INPUT_SIZE, score_rule="median")
    with pytest.raises(ValueError, match="flip_average_of must be one of"):
        SimCCCodec(INPUT_SIZE, flip_average_of="softmax")
