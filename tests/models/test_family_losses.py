"""The family losses against hand-written computations of their formulas on tiny cases."""

from __future__ import annotations

import math

import pytest
import torch

from posekit.models.losses import (
    CombinedLoss,
    JSDiscretLoss,
    KeypointMSELoss,
    KeypointOHKMMSELoss,
    KLDiscretLoss,
    RegressionLoss,
    RLELoss,
)

PRED = torch.tensor([[[0.1, 0.2], [0.5, 3.0]]])  # (1, 2, 2)
ZERO = torch.zeros(1, 2, 2)


def test_smooth_l1_l1_mse_with_target_weights():
    ones, first = torch.ones(1, 2), torch.tensor([[1.0, 0.0]])
    # smooth L1 (beta 1): 0.5 d^2 below 1, |d| - 0.5 above: 0.005, 0.02, 0.125, 2.5
    smooth = RegressionLoss("smooth_l1")
    assert smooth({"coords": PRED}, {"coords": ZERO}, ones).item() == pytest.approx(2.65 / 4)
    assert smooth({"coords": PRED}, {"coords": ZERO}, first).item() == pytest.approx(0.025 / 4)
    l1 = RegressionLoss("l1")
    assert l1({"coords": PRED}, {"coords": ZERO}, ones).item() == pytest.approx(3.8 / 4)
    mse = RegressionLoss("mse")
    assert mse({"coords": PRED}, {"coords": ZERO}, ones).item() == pytest.approx(9.3 / 4)


def test_alphapose_l1_sums_over_keypoints_and_averages_over_the_batch():
    pred = torch.cat([PRED, 2 * PRED])  # (2, 2, 2): |d| sums 3.8 and 7.6
    weights = torch.tensor([[1.0, 1.0], [2.0, 1.0]])  # AlphaPose weights body joints x 2
    loss = RegressionLoss("l1", reduction="sum")
    expected = (3.8 + (2 * 0.2 + 2 * 0.4 + 1.0 + 6.0)) / 2
    assert loss({"coords": pred}, {"coords": torch.zeros(2, 2, 2)}, weights).item() == (
        pytest.approx(expected)
    )


def test_joint_weights_multiply_the_keypoint_weights_of_every_loss():
    heat = torch.tensor([[[[1.0, 0.0]], [[0.0, 2.0]]]])  # (1, 2, 1, 2)
    target = torch.zeros_like(heat)
    mse = KeypointMSELoss(joint_weights=[1.0, 3.0])
    # HRNet: 0.5 mean((w p - w t)^2) over the K*H*W = 4 values: (1 + (3*2)^2) / 4
    assert mse({"heatmaps": heat}, {"heatmaps": target}, torch.ones(1, 2)).item() == (
        pytest.approx(0.5 * (1 + 36) / 4)
    )
    smooth = RegressionLoss("l1", joint_weights=[0.0, 2.0])
    assert smooth({"coords": PRED}, {"coords": ZERO}, torch.ones(1, 2)).item() == (
        pytest.approx((2 * 0.5 + 2 * 3.0) / 4)
    )
    logits = torch.tensor([[[0.0, 1.0], [2.0, 0.0]]])
    labels = torch.tensor([[[0.5, 0.5], [1.0, 0.0]]])
    plain = KLDiscretLoss(use_target_weight=True)
    weighted = KLDiscretLoss(joint_weights=[2.0, 0.0])
    one_hot = torch.tensor([[1.0, 0.0]])
    out, tgt = {"simcc_x": logits, "simcc_y": logits}, {"simcc_x": labels, "simcc_y": labels}
    assert weighted(out, tgt, torch.ones(1, 2)).item() == pytest.approx(
        2 * plain(out, tgt, one_hot).item()
    )
    with pytest.raises(ValueError, match="model.loss.joint_weights has 3 values"):
        three = RegressionLoss(joint_weights=[1, 1, 1])
        three({"coords": PRED}, {"coords": ZERO}, torch.ones(1, 2))
    with pytest.raises(ValueError, match="use_target_weight=true"):
        RegressionLoss(use_target_weight=False, joint_weights=[1, 1])


def test_ohkm_keeps_the_hardest_keypoints_of_each_sample():
    pred = torch.tensor([[[[1.0]], [[3.0]], [[2.0]]], [[[0.0]], [[1.0]], [[4.0]]]])  # (2, 3, 1, 1)
    target = torch.zeros_like(pred)
    loss = KeypointOHKMMSELoss(topk=2)
    # per keypoint 0.5 d^2: sample 0 -> 0.5, 4.5, 2 (top 2: 4.5 + 2); sample 1 -> 0, 0.5, 8
    expected = ((4.5 + 2.0) / 2 + (8.0 + 0.5) / 2) / 2
    assert loss({"heatmaps": pred}, {"heatmaps": target}, torch.ones(2, 3)).item() == (
        pytest.approx(expected)
    )
    with pytest.raises(ValueError, match="model.loss.topk=4"):
        KeypointOHKMMSELoss(topk=4)({"heatmaps": pred}, {"heatmaps": target}, torch.ones(2, 3))


def flow_log_prob_by_jacobian(loss: RLELoss, x: torch.Tensor) -> torch.Tensor:
    """log p(x) = log N(z(x); 0, I) + log |det dz/dx|, the Jacobian taken by autograd."""

    def to_latent(point: torch.Tensor) -> torch.Tensor:
        z = point
        for i in reversed(range(6)):
            keep = loss.flow.mask[i]
            s = loss.flow.s[i](keep * z) * (1 - keep)
            t = loss.flow.t[i](keep * z) * (1 - keep)
            z = keep * z + (1 - keep) * (z - t) * torch.exp(-s)
        return z

    values = []
    for point in x:
        z = to_latent(point)
        jacobian = torch.autograd.functional.jacobian(to_latent, point)  # (2, 2)
        normal = torch.distributions.MultivariateNormal(torch.zeros(2), torch.eye(2))
        values.append(normal.log_prob(z) + torch.linalg.det(jacobian).abs().log())
    return torch.stack(values)


def test_rle_loss_is_the_residual_log_likelihood():
    torch.manual_seed(0)
    loss = RLELoss()
    for module in loss.flow.modules():  # a flow far from identity, so the test means something
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, std=0.5)
    pred = torch.tensor([[[0.3, 0.6], [0.1, 0.9]]])
    target = torch.tensor([[[0.25, 0.7], [0.5, 0.5]]])
    sigma_logits = torch.tensor([[[-1.0, 0.5], [0.0, -2.0]]])
    weights = torch.tensor([[1.0, 0.5]])
    sigma = torch.sigmoid(sigma_logits)
    error = (pred - target) / (sigma + 1e-9)  # (1, 2, 2)
    log_phi = flow_log_prob_by_jacobian(loss, error.view(-1, 2)).view(1, 2, 1)
    expected = (sigma.log() - log_phi) + torch.log(2 * sigma) + error.abs()  # laplace residual
    expected = (expected * weights[..., None]).sum()
    got = loss({"coords": pred, "sigma": sigma_logits}, {"coords": target}, weights)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
    gaussian = RLELoss(q_distribution="gaussian")
    gaussian.flow.load_state_dict(loss.flow.state_dict())
    expected_g = (sigma.log() - log_phi) + torch.log(sigma * math.sqrt(2 * math.pi))
    expected_g = ((expected_g + 0.5 * error**2) * weights[..., None]).sum()
    got_g = gaussian({"coords": pred, "sigma": sigma_logits}, {"coords": target}, weights)
    assert got_g.item() == pytest.approx(expected_g.item(), rel=1e-5)


def test_rle_flow_trains_with_the_model_and_moves_with_it():
    loss = RLELoss()
    module = torch.nn.ModuleDict({"loss": loss})
    assert any(name.startswith("loss.flow.s.0") for name, _ in module.named_parameters())
    pred = torch.zeros(1, 1, 2, requires_grad=True)
    out = loss({"coords": pred, "sigma": torch.zeros(1, 1, 2)}, {"coords": torch.ones(1, 1, 2)},
               torch.ones(1, 1))
    out.backward()
    assert loss.flow.s[0][0].weight.grad is not None


def test_js_divergence_by_hand():
    p = torch.tensor([[[[0.75, 0.25]]]])  # (1, 1, 1, 2)
    t = torch.tensor([[[[0.25, 0.75]]]])
    m = [0.5, 0.5]
    kl_pm = 0.75 * math.log(0.75 / m[0]) + 0.25 * math.log(0.25 / m[1])
    kl_tm = 0.25 * math.log(0.25 / m[0]) + 0.75 * math.log(0.75 / m[1])
    got = JSDiscretLoss()({"heatmaps": p}, {"heatmaps": t}, torch.ones(1, 1))
    assert got.item() == pytest.approx(0.5 * (kl_pm + kl_tm), rel=1e-5)
    empty = {"heatmaps": torch.zeros_like(t)}
    zero_target = JSDiscretLoss()({"heatmaps": p}, empty, torch.ones(1, 1))
    assert torch.isfinite(zero_target)


def test_combined_loss_sums_its_terms():
    terms = {"a": RegressionLoss("l1"), "b": RegressionLoss("mse", loss_weight=2.0)}
    got = CombinedLoss(terms)({"coords": PRED}, {"coords": ZERO}, torch.ones(1, 2))
    assert got.item() == pytest.approx(3.8 / 4 + 2 * 9.3 / 4)


def test_joint_weights_come_from_the_keypoint_spec(tmp_path):
    from helpers import compose_config
    from hydra.utils import instantiate

    override = "model.loss.joint_weights='${joint_weights:${data.keypoints}}'"
    cfg = compose_config("train", ["model=rle", override], tmp_path)
    weights = instantiate(cfg.model.loss).joint_weights.tolist()
    # conf/keypoints/coco.yaml: elbows and knees 1.2, wrists and ankles 1.5, the rest 1
    assert weights == pytest.approx([1.0] * 7 + [1.2, 1.2, 1.5, 1.5, 1.0, 1.0, 1.2, 1.2, 1.5, 1.5])
