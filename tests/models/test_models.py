"""Backbone wrapper, heads and losses."""

from __future__ import annotations

import socket
import time

import huggingface_hub.constants
import pytest
import torch

from posekit.models import (
    HeatmapHead,
    KeypointMSELoss,
    KLDiscretLoss,
    SimCCHead,
    TimmBackbone,
)


def _unused_parameters(model: torch.nn.Module, output: torch.Tensor) -> list[str]:
    output.sum().backward()
    return [name for name, p in model.named_parameters() if p.grad is None]


# ---------------------------------------------------------------- backbone


@pytest.mark.parametrize(
    ("stride", "channels"), [(2, 64), (4, 64), (8, 128), (16, 256), (32, 512)]
)
def test_resnet18_every_stride(stride: int, channels: int) -> None:
    backbone = TimmBackbone("resnet18", out_stride=stride)
    assert backbone.out_channels == channels and backbone.stride == stride
    (out,) = backbone(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, channels, 64 // stride, 64 // stride)


@pytest.mark.parametrize(("stride", "channels"), [(4, 8), (32, 288)])
def test_mobilenet_keeps_only_the_layers_it_needs(stride: int, channels: int) -> None:
    backbone = TimmBackbone("mobilenetv3_small_050", out_stride=stride)
    assert backbone.out_channels == channels
    (out,) = backbone(torch.randn(1, 3, 64, 64))
    assert out.shape == (1, channels, 64 // stride, 64 // stride)
    # timm's default MobileNetV3 feature wrapper keeps (and runs) every block
    assert _unused_parameters(backbone, out) == []


def test_hrnet_stride4_branch() -> None:
    backbone = TimmBackbone("hrnet_w18_small", out_stride=4)
    assert backbone.out_channels == 16  # the width of the high-resolution branch
    (out,) = backbone(torch.randn(1, 3, 64, 64))
    assert out.shape == (1, 16, 16, 16)
    # the final fusions into the lower-resolution branches are trimmed, as in the pose HRNet
    assert _unused_parameters(backbone, out) == []


def test_extra_strides_come_after_the_main_feature() -> None:
    backbone = TimmBackbone("hrnet_w18_small", out_stride=4, extra_strides=(16, 8))
    assert backbone.strides == (4, 16, 8) and backbone.channels == (16, 64, 32)
    features = backbone(torch.randn(1, 3, 64, 64))
    assert [tuple(f.shape[1:]) for f in features] == [(16, 16, 16), (64, 4, 4), (32, 8, 8)]
    # the fusions up to the stride-16 branch are kept; every parameter gets a gradient
    assert _unused_parameters(backbone, sum(f.mean() for f in features)) == []
    with pytest.raises(ValueError, match=r"no feature map with stride 64 .*extra_strides"):
        TimmBackbone("hrnet_w18_small", out_stride=4, extra_strides=(64,))


def test_hrnet_needs_input_divisible_by_32() -> None:
    backbone = TimmBackbone("hrnet_w18_small", out_stride=4)
    with pytest.raises(ValueError, match="divisible by 32"):
        backbone(torch.randn(1, 3, 64, 48))


def test_missing_stride_lists_the_available_ones() -> None:
    with pytest.raises(ValueError, match=r"stride 64.*\[2, 4, 8, 16, 32\]"):
        TimmBackbone("resnet18", out_stride=64)


def test_pretrained_without_network_explains_the_fixes(monkeypatch, tmp_path) -> None:
    # huggingface_hub reads HF_HUB_OFFLINE when imported, so patch the parsed value as well
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    start = time.monotonic()
    with pytest.raises(RuntimeError) as info:
        # an empty cache folder, so that a filled user cache cannot make the download succeed
        TimmBackbone("mobilenetv3_small_050", pretrained=True, cache_dir=tmp_path)
    assert time.monotonic() - start < 30
    message = str(info.value)
    assert "mobilenetv3_small_050" in message and "ImageNet weights" in message
    assert "model.backbone.pretrained=false" in message and "HF_HUB_OFFLINE" in message


def test_pretrained_with_an_unreachable_hub_fails_at_once(monkeypatch, tmp_path) -> None:
    """Without HF_HUB_OFFLINE, no network: the error comes at once, not after a minute of
    download retries (the probe's connection is refused here whatever this machine's network)."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    for variable in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)

    def unreachable(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    start = time.monotonic()
    with pytest.raises(RuntimeError) as info:
        TimmBackbone("mobilenetv3_small_050", pretrained=True, cache_dir=tmp_path)
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert "cannot be reached" in message and "huggingface.co" in message
    assert "model.backbone.pretrained=false" in message and "HF_HUB_OFFLINE" in message


# ---------------------------------------------------------------- heads


def test_heatmap_head_without_deconv_is_hrnet_head() -> None:
    head = HeatmapHead(32, 17)
    assert head.upsample == 1
    out = head(torch.randn(2, 32, 16, 12))
    assert set(out) == {"heatmaps"} and out["heatmaps"].shape == (2, 17, 16, 12)
    assert torch.all(head.final.bias == 0)
    assert head.final.weight.std().item() < 0.01


@pytest.mark.parametrize("kernel", [2, 3, 4])
def test_heatmap_head_deconvs_double_each_time(kernel: int) -> None:
    head = HeatmapHead(64, 5, deconv_channels=(16, 16), deconv_kernel=kernel, final_kernel=3)
    assert head.upsample == 4
    assert head(torch.randn(1, 64, 4, 3))["heatmaps"].shape == (1, 5, 16, 12)


def test_heatmap_head_rejects_bad_kernels() -> None:
    with pytest.raises(ValueError, match="deconv_kernel"):
        HeatmapHead(8, 2, deconv_channels=(8,), deconv_kernel=5)
    with pytest.raises(ValueError, match="final_kernel"):
        HeatmapHead(8, 2, final_kernel=2)


def test_simple_baseline_on_resnet() -> None:
    backbone = TimmBackbone("resnet18", out_stride=32)
    head = HeatmapHead(backbone.out_channels, 17, deconv_channels=(32, 32, 32))
    heatmaps = head(backbone(torch.randn(1, 3, 64, 64))[0])["heatmaps"]
    assert heatmaps.shape == (1, 17, 16, 16)  # stride 32 / 8 = stride 4


def test_simcc_head_shapes() -> None:
    head = SimCCHead(16, 5, input_size=(48, 64), in_stride=4, split_ratio=2.0)
    out = head(torch.randn(3, 16, 16, 12))
    assert out["simcc_x"].shape == (3, 5, 96) and out["simcc_y"].shape == (3, 5, 128)
    with pytest.raises(ValueError, match="16x12"):
        head(torch.randn(3, 16, 12, 16))


def test_simcc_head_hrnet_w32_parameter_count() -> None:
    head = SimCCHead(32, 17, input_size=(192, 256), in_stride=4, split_ratio=2.0)
    linear = sum(p.numel() for p in [*head.mlp_x.parameters(), *head.mlp_y.parameters()])
    assert linear == 3072 * (384 + 512) + 384 + 512  # 2.75M
    assert sum(p.numel() for p in head.parameters()) == linear + 32 * 17 + 17


def test_simcc_head_rejects_indivisible_input() -> None:
    with pytest.raises(ValueError, match="not divisible"):
        SimCCHead(32, 17, input_size=(190, 256), in_stride=4)


# ---------------------------------------------------------------- losses


def test_mse_matches_hand_computation() -> None:
    pred = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # (1, 2, 1, 2)
    target = torch.tensor([[[[0.0, 0.0]], [[1.0, 1.0]]]])
    weights = torch.tensor([[1.0, 0.5]])
    loss = KeypointMSELoss()({"heatmaps": pred}, {"heatmaps": target}, weights)
    # weighted differences 1, 2 | 0.5 * 2, 0.5 * 3: 0.5 * mean(1, 4, 1, 2.25)
    assert loss.item() == pytest.approx(0.5 * (1 + 4 + 1 + 2.25) / 4)
    unweighted = KeypointMSELoss(use_target_weight=False, loss_weight=2.0)
    loss = unweighted({"heatmaps": pred}, {"heatmaps": target}, weights)
    assert loss.item() == pytest.approx(2.0 * 0.5 * (1 + 4 + 4 + 9) / 4)


def _simcc_batch(n: int = 4, k: int = 3, bins_x: int = 24, bins_y: int = 32):
    torch.manual_seed(0)
    outputs = {
        "simcc_x": (torch.randn(n, k, bins_x) * 5).requires_grad_(),
        "simcc_y": (torch.randn(n, k, bins_y) * 5).requires_grad_(),
    }
    targets = {
        "simcc_x": torch.softmax(torch.randn(n, k, bins_x) * 3, dim=-1),
        "simcc_y": torch.softmax(torch.randn(n, k, bins_y) * 3, dim=-1),
    }
    return outputs, targets, torch.ones(n, k)


def test_kl_matches_definition_and_is_zero_on_a_perfect_prediction() -> None:
    outputs, targets, weights = _simcc_batch()
    loss = KLDiscretLoss(beta=2.0)(outputs, targets, weights)
    expected = 0.0
    for key in ("simcc_x", "simcc_y"):
        t = targets[key]
        log_p = torch.log_softmax(outputs[key] * 2.0, dim=-1)
        expected = expected + (t * (t.log() - log_p)).mean(dim=-1).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)

    logits = {key: t.log() for key, t in targets.items()}
    assert KLDiscretLoss()(logits, targets, weights).item() == pytest.approx(0.0, abs=1e-6)


def test_kl_is_invariant_to_batch_size() -> None:
    outputs, targets, weights = _simcc_batch()
    weights[0, 1] = 0.0
    loss_fn = KLDiscretLoss(beta=10.0, label_softmax=True)
    single = loss_fn(outputs, targets, weights)
    doubled = loss_fn(
        {key: torch.cat([v, v]) for key, v in outputs.items()},
        {key: torch.cat([v, v]) for key, v in targets.items()},
        torch.cat([weights, weights]),
    )
    assert doubled.item() == pytest.approx(single.item(), rel=1e-6)


@pytest.mark.parametrize("label_softmax", [False, True])
def test_kl_ignores_zero_weight_keypoints(label_softmax: bool) -> None:
    outputs, targets, weights = _simcc_batch()
    weights[:, 2] = 0.0
    for key in targets:
        targets[key][:, 2] = 0.0  # no target at all for the unlabelled keypoint
    loss_fn = KLDiscretLoss(beta=10.0, label_softmax=label_softmax)
    loss = loss_fn(outputs, targets, weights)
    assert torch.isfinite(loss)
    wild = {key: v.detach().clone() for key, v in outputs.items()}
    for key in wild:
        wild[key][:, 2] = torch.randn_like(wild[key][:, 2]) * 1e4
        wild[key].requires_grad_()
    wild_loss = loss_fn(wild, targets, weights)
    assert wild_loss.item() == pytest.approx(loss.item(), rel=1e-6)
    wild_loss.backward()
    for key in wild:
        grad = wild[key].grad
        assert torch.isfinite(grad).all()
        assert torch.all(grad[:, 2] == 0) and grad[:, :2].abs().sum() > 0


def test_mse_ignores_zero_weight_keypoints_and_passes_gradients() -> None:
    torch.manual_seed(0)
    pred = torch.randn(2, 3, 8, 6, requires_grad=True)
    target = torch.rand(2, 3, 8, 6)
    target[:, 1] = 0.0
    weights = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.5]])
    loss = KeypointMSELoss()({"heatmaps": pred}, {"heatmaps": target}, weights)
    wild = pred.detach().clone()
    wild[:, 1] = torch.randn(2, 8, 6) * 1e4
    wild_loss = KeypointMSELoss()({"heatmaps": wild}, {"heatmaps": target}, weights)
    assert torch.isfinite(loss) and wild_loss.item() == pytest.approx(loss.item(), rel=1e-6)
    loss.backward()
    assert torch.isfinite(pred.grad).all()
    assert torch.all(pred.grad[:, 1] == 0) and pred.grad[:, 0].abs().sum() > 0


def test_losses_name_missing_keys_and_bad_shapes() -> None:
    heatmaps = torch.zeros(1, 2, 4, 4)
    with pytest.raises(KeyError, match="heatmaps"):
        KeypointMSELoss()({"simcc_x": heatmaps}, {"heatmaps": heatmaps}, torch.ones(1, 2))
    with pytest.raises(ValueError, match="keypoint_weights"):
        KeypointMSELoss()({"heatmaps": heatmaps}, {"heatmaps": heatmaps}, torch.ones(1, 3))
    outputs, targets, weights = _simcc_batch()
    targets["simcc_x"] = targets["simcc_x"][..., :-1]
    with pytest.raises(ValueError, match="simcc_x"):
        KLDiscretLoss()(outputs, targets, weights)


@pytest.mark.parametrize("loss_name", ["mse", "kl"])
def test_per_sample_losses_average_to_the_batch_loss(loss_name):
    """Evaluation counts each person once through ``per_sample``; its mean is the batch loss."""
    torch.manual_seed(0)
    weights = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    if loss_name == "mse":
        loss = KeypointMSELoss()
        outputs = {"heatmaps": torch.randn(2, 3, 4, 5)}
        targets = {"heatmaps": torch.rand(2, 3, 4, 5)}
    else:
        loss = KLDiscretLoss()
        outputs = {"simcc_x": torch.randn(2, 3, 8), "simcc_y": torch.randn(2, 3, 10)}
        targets = {key: torch.softmax(torch.randn_like(v), -1) for key, v in outputs.items()}
    per_sample = loss.per_sample(outputs, targets, weights)
    assert per_sample.shape == (2,)
    # each sample's loss written out from its formula, element by element
    expected = torch.zeros(2)
    for n in range(2):
        terms = []
        for k in range(3):
            w = weights[n, k]
            if loss_name == "mse":  # HRNet: 0.5 * mean((w p - w t)^2) over keypoints and pixels
                terms.append(0.5 * ((w * outputs["heatmaps"][n, k]
                                     - w * targets["heatmaps"][n, k]) ** 2).mean())
            else:  # SimCC: w * mean over bins of t (log t - log softmax p), x plus y
                terms.append(sum(
                    w * (targets[a][n, k] * (targets[a][n, k].log()
                                             - outputs[a][n, k].log_softmax(-1))).mean()
                    for a in ("simcc_x", "simcc_y")))
        expected[n] = torch.stack(terms).mean()
    torch.testing.assert_close(per_sample, expected)
    torch.testing.assert_close(loss(outputs, targets, weights), expected.mean())
    alone = loss(
        {k: v[1:] for k, v in outputs.items()},
        {k: v[1:] for k, v in targets.items()},
        weights[1:],
    )
    torch.testing.assert_close(per_sample[1], alone)


def test_input_normalisation_follows_the_recipe(tmp_path):
    """AlphaPose's weights read mean-subtracted images without std division."""
    from helpers import compose_config

    from posekit.models.checkpoint import build_model

    cfg = compose_config("train", ["data.input_size=[48,64]", "+recipe=alphapose_eval"], tmp_path)
    assert cfg.protocol.rescoring == "bbox_alphapose"
    model = build_model(cfg)
    image = torch.tensor([255, 0, 51], dtype=torch.uint8).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    expected = torch.tensor([1 - 0.406, -0.457, 0.2 - 0.480]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    torch.testing.assert_close(model.normalize(image), expected)
