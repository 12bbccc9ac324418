"""SimCC labels as mmpose's SimCCLabel draws them (RTMPose), and why its batch-summed loss needs
no counterpart: Adam(W) steps do not change when the loss is scaled."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.codecs import SimCCCodec


def mmpose_gaussian(keypoints: np.ndarray, visible: np.ndarray, input_size, k, sigma):
    """mmpose 1.3.2 SimCCLabel._generate_gaussian (normalize=False) for one instance, written out."""
    W, H = int(round(input_size[0] * k)), int(round(input_size[1] * k))
    mu_all = np.around(keypoints * k).astype(np.int64)
    weights = visible.astype(np.float32).copy()
    sigma = np.asarray(sigma, dtype=np.float32)
    radius = sigma * 3
    x, y = np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32)
    tx, ty = np.zeros((len(keypoints), W), np.float32), np.zeros((len(keypoints), H), np.float32)
    for i, mu in enumerate(mu_all):
        if visible[i] < 0.5:
            continue
        left, top = mu - radius
        right, bottom = mu + radius + 1
        if left >= W or top >= H or right < 0 or bottom < 0:
            weights[i] = 0
            continue
        tx[i] = np.exp(-((x - mu[0]) ** 2) / (2 * sigma[0] ** 2))
        ty[i] = np.exp(-((y - mu[1]) ** 2) / (2 * sigma[1] ** 2))
    return tx, ty, weights


def test_mmpose_label_rule_matches_simcc_label():
    rng = np.random.default_rng(0)
    # inside, just outside (the 3-sigma window still overlaps: weight 1), far outside, unlabelled
    keypoints = np.concatenate([rng.uniform(0, [192, 256], (20, 2)),
                                [[-5.3, 100.0], [195.0, 30.0], [-40.0, 10.0], [50.0, 50.0],
                                 [10.25, 20.75]]])
    visible = np.ones(len(keypoints))
    visible[-2] = 0
    codec = SimCCCodec((192, 256), 2.0, (4.9, 5.66), normalize=False, label_rule="mmpose")
    ours = codec.encode(keypoints, visible)
    tx, ty, weights = mmpose_gaussian(keypoints, visible, (192, 256), 2.0, (4.9, 5.66))
    np.testing.assert_array_equal(ours["keypoint_weights"], weights)
    assert weights[20] == 1 and weights[21] == 1 and weights[22] == 0  # posekit's rule: 0, 0, 0
    np.testing.assert_allclose(ours["simcc_x"], tx * weights[:, None], atol=1e-6)
    np.testing.assert_allclose(ours["simcc_y"], ty * weights[:, None], atol=1e-6)
    batch = codec.encode_batch(torch.as_tensor(keypoints)[None], torch.as_tensor(visible)[None])
    np.testing.assert_allclose(batch["simcc_x"][0].numpy(), ours["simcc_x"], atol=1e-6)
    np.testing.assert_array_equal(batch["keypoint_weights"][0].numpy(), weights)
    exact = SimCCCodec((192, 256), 2.0, (4.9, 5.66), normalize=False).encode(keypoints, visible)
    assert exact["keypoint_weights"][20:23].sum() == 0


def test_mmpose_label_rule_needs_gaussian_labels():
    with pytest.raises(ValueError, match="label_rule"):
        SimCCCodec((48, 64), label_type="onehot", label_rule="mmpose")


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_a_batch_summed_loss_trains_as_the_batch_mean_under_adam(optimizer):
    """mmpose's KLDiscretLoss sums over the batch (divides by K only), posekit's averages:
    the loss differs by the factor N. Adam's step m / (sqrt(v) + eps) does not change when
    every gradient is scaled by N, except through eps, so RTMPose (AdamW, no gradient
    clipping) trains alike; measured here over 20 steps of a small network."""
    def run(scale: float, name: str = optimizer) -> torch.Tensor:
        """The parameters' change over 20 steps."""
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.SiLU(), torch.nn.Linear(16, 4))
        start = torch.cat([p.detach().flatten() for p in net.parameters()])
        cls = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}[name]
        opt = cls(net.parameters(), lr=4e-3, weight_decay=0.05 if name == "adamw" else 0.0)
        data = torch.randn(20, 32, 8, generator=torch.Generator().manual_seed(1))
        for batch in data:
            loss = net(batch).square().mean() * scale
            opt.zero_grad()
            loss.backward()
            opt.step()
        return torch.cat([p.detach().flatten() for p in net.parameters()]) - start

    mean, summed = run(1.0), run(32.0)  # the batch of 32: sum = 32 x mean
    assert (summed - mean).abs().max() < 1e-3 * mean.abs().max()
    # where it would matter: SGD moves 32x as far
    assert run(32.0, "sgd").abs().max() > 10 * run(1.0, "sgd").abs().max()
