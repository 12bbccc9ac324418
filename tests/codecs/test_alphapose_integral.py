"""AlphaPose's integral regression: codec round trip and exact flip, the sigmoid integral and
its symmetric gradient, the L1JointRegression loss, all by hand."""

from __future__ import annotations

import numpy as np
import torch

from posekit.codecs.alphapose import AlphaPoseIntegralCodec
from posekit.models.heads.alphapose import (
    FastPoseIntegralHead,
    SymmetricIntegral,
    sigmoid_integral,
)
from posekit.models.losses import RegressionLoss


def test_encode_decode_round_trip_and_weights():
    codec = AlphaPoseIntegralCodec((48, 64))
    keypoints = np.array([[12.0, 16.0], [47.5, 0.0], [50.0, 3.0], [3.0, 4.0]])
    targets = codec.encode(keypoints, np.array([1, 1, 1, 0]))
    # 12 / 48 - 0.5 = -0.25, 16 / 64 - 0.5 = -0.25; 47.5 / 48 - 0.5 = 0.4896; x = 50 is outside
    np.testing.assert_allclose(targets["coords"][:2], [[-0.25, -0.25], [47.5 / 48 - 0.5, -0.5]])
    np.testing.assert_array_equal(targets["keypoint_weights"], [1, 1, 0, 0])
    np.testing.assert_array_equal(targets["coords"][2:], 0)
    outputs = {"coords": torch.from_numpy(targets["coords"])[None],
               "confidence": torch.ones(1, 4)}
    decoded, _ = codec.decode(outputs)
    torch.testing.assert_close(decoded[0, :2], torch.tensor(keypoints[:2], dtype=torch.float32))


def test_the_flip_is_exact():
    codec = AlphaPoseIntegralCodec((48, 64))
    keypoints = np.array([[3.0, 5.0], [40.0, 60.0], [20.5, 1.0]])
    flip_index = [0, 2, 1]
    mirrored = keypoints[flip_index].copy()
    mirrored[:, 0] = 47 - mirrored[:, 0]
    plain = torch.from_numpy(codec.encode(keypoints, np.ones(3))["coords"])[None]
    flipped = torch.from_numpy(codec.encode(mirrored, np.ones(3))["coords"])[None]
    confidence = torch.tensor([[0.1, 0.2, 0.3]])
    back = codec.flip_outputs({"coords": flipped, "confidence": confidence}, flip_index)
    torch.testing.assert_close(back["coords"], plain)
    torch.testing.assert_close(back["confidence"], torch.tensor([[0.1, 0.3, 0.2]]))


def test_sigmoid_integral_by_hand():
    # one keypoint on a 1x3 map: sigmoid(0) = 0.5 everywhere but sigmoid(big) = 1 in cell 2
    logits = torch.tensor([[[[0.0, 0.0, 30.0]]]])  # (1, 1, h=1, w=3)
    coords, confidence = sigmoid_integral(logits)
    # p = (0.5, 0.5, 1) / 2 = (0.25, 0.25, 0.5): x = 0.25 + 2 * 0.5 = 1.25 cells, / 3 - 0.5
    torch.testing.assert_close(coords, torch.tensor([[[1.25 / 3 - 0.5, 0.0 / 1 - 0.5]]]))
    torch.testing.assert_close(confidence, torch.tensor([[1.0]]))


def test_symmetric_integral_gradient_is_alphapose_sign_mask():
    probs = torch.tensor([[[0.25, 0.25, 0.5]]], requires_grad=True)  # expected index 1.25
    SymmetricIntegral.apply(probs).sum().backward()
    # bins before 1.25 get -2, bins at or after +2 (not the true gradient 0, 1, 2)
    torch.testing.assert_close(probs.grad, torch.tensor([[[-2.0, -2.0, 2.0]]]))


def test_l1_joint_regression_by_hand():
    pred = torch.tensor([[[0.1, 0.2], [0.0, 0.0]], [[0.5, -0.5], [0.3, 0.3]]])  # (2, 2, 2)
    target = torch.tensor([[[0.0, 0.0], [1.0, 1.0]], [[0.5, 0.5], [0.0, 0.0]]])
    weights = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    loss = RegressionLoss(criterion="l1", reduction="sum")  # conf/model/loss/alphapose_l1.yaml
    # sample 0: |0.1| + |0.2| = 0.3 (keypoint 1 unweighted); sample 1: 1.0 + 0.6 = 1.6
    per_sample = loss.per_sample({"coords": pred}, {"coords": target}, weights)
    torch.testing.assert_close(per_sample, torch.tensor([0.3, 1.6]))
    torch.testing.assert_close(loss({"coords": pred}, {"coords": target}, weights),
                               torch.tensor(0.95))


def test_integral_head_shapes():
    out = FastPoseIntegralHead(64, 5)(torch.randn(2, 64, 2, 3))
    assert out["coords"].shape == (2, 5, 2) and out["confidence"].shape == (2, 5)
    assert out["coords"].abs().max() <= 0.5


def test_integral_values_do_not_depend_on_the_gradient_path():
    logits = torch.randn(2, 3, 4, 5)
    with torch.no_grad():
        plain, _ = sigmoid_integral(logits)
    with_grad, _ = sigmoid_integral(logits.clone().requires_grad_())
    torch.testing.assert_close(with_grad.detach(), plain)


def test_weight_outside_keeps_alphapose_weights_for_keypoints_off_the_crop():
    """AlphaPose weighs a labelled keypoint by its visibility alone (no crop test); its target
    is x / W - 0.5 even beyond +-0.5."""
    keypoints = np.array([[10.0, 20.0], [-8.0, 20.0], [5.0, 300.0]])  # (3, 2), 2 and 3 outside 48x64
    visible = np.array([1.0, 1.0, 0.0])
    posekit = AlphaPoseIntegralCodec((48, 64)).encode(keypoints, visible)
    alphapose = AlphaPoseIntegralCodec((48, 64), weight_outside=True).encode(keypoints, visible)
    np.testing.assert_array_equal(posekit["keypoint_weights"], [1, 0, 0])
    np.testing.assert_array_equal(alphapose["keypoint_weights"], [1, 1, 0])
    np.testing.assert_allclose(alphapose["coords"][1], [-8 / 48 - 0.5, 20 / 64 - 0.5], rtol=1e-6)


def test_halpe136_regression_weights_body_and_feet_twice():
    from hydra.utils import instantiate

    from posekit.config import compose

    cfg = compose("train", ["experiment=mobilenetv3_fastposeintegral_halpe136"])
    loss = instantiate(cfg.model.loss)
    weights = torch.ones(1, 136)
    pred, target = torch.zeros(1, 136, 2), torch.full((1, 136, 2), 0.1)
    per_sample = loss.per_sample({"coords": pred}, {"coords": target}, weights)
    # 26 keypoints x 2 x (0.1 + 0.1) + 110 x (0.1 + 0.1) = 10.4 + 22.0
    torch.testing.assert_close(per_sample, torch.tensor([32.4]))
    assert cfg.model.codec.weight_outside
