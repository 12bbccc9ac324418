"""Regression, RLE and integral heads: outputs, the soft-argmax formulas, and configs that do
not fit their codec refused at construction."""

from __future__ import annotations

import pytest
import torch
from helpers import compose_config
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from posekit.models.heads import IntegralHead, RegressionHead, RLEHead


def test_regression_and_rle_heads_shapes():
    feat = torch.randn(2, 16, 4, 3)
    assert RegressionHead(16, 5)(feat)["coords"].shape == (2, 5, 2)
    out = RLEHead(16, 5)(feat)
    assert out["coords"].shape == (2, 5, 2) and out["sigma"].shape == (2, 5, 2)


def integral(**kwargs) -> IntegralHead:
    defaults = dict(in_channels=4, num_keypoints=2, input_size=(32, 16), in_stride=4,
                    heatmap_size=(8, 4), deconv_channels=())
    return IntegralHead(**{**defaults, **kwargs})


def set_maps(head: IntegralHead, maps: torch.Tensor) -> None:
    """Make the head's map layers return ``maps`` (N, K, h, w) whatever its input."""
    head.maps.forward = lambda feat: {"heatmaps": maps}


def test_softmax_expectation_and_debias_by_hand():
    head = integral(beta=1.0)
    maps = torch.zeros(1, 2, 4, 8)
    maps[0, 0, 1, 6] = 5.0  # one peak at column 6, row 1
    set_maps(head, maps)
    out = head(torch.zeros(1, 4, 4, 8))
    e5 = torch.tensor(5.0).exp()
    p_peak = e5 / (e5 + 31)
    others = (1 - p_peak) / 31
    expected_x = (6 * p_peak + others * (sum(range(8)) * 4 - 6)) / 8
    assert out["coords"][0, 0, 0].item() == pytest.approx(expected_x.item(), rel=1e-5)
    assert out["heatmaps"][0, 0].sum().item() == pytest.approx(1.0)
    debiased = integral(debias=True)
    set_maps(debiased, maps)
    c = e5 + 31  # sum of exp(maps)
    got = debiased(torch.zeros(1, 4, 4, 8))["coords"][0, 0, 0].item()
    assert got == pytest.approx((c / (c - 1) * (expected_x - 1 / (2 * c))).item(), rel=1e-5)


def test_sigmoid_norm_gives_alphapose_scores_and_symmetric_gradient():
    head = integral(norm="sigmoid", symmetric_gradient=True)
    maps = torch.zeros(1, 2, 4, 8, requires_grad=True)
    set_maps(head, maps)
    out = head(torch.zeros(1, 4, 4, 8))
    assert torch.allclose(out["scores"], torch.full((1, 2), 0.5))
    out["coords"][0, 0, 0].backward()
    # uniform maps: expectation 3.5 columns; AlphaPose's gradient is +-2 per marginal bin
    grad_marginal = maps.grad[0, 0].sum(0)  # through the normalisation; signs flip at 3.5
    assert (grad_marginal[:4] < 0).all() and (grad_marginal[4:] > 0).all()


def test_integral_head_that_does_not_fit_its_codec_names_the_keys():
    with pytest.raises(ValueError, match="model.codec.heatmap_size"):
        integral(heatmap_size=(16, 8))
    with pytest.raises(ValueError, match="model.backbone.out_stride"):
        integral(in_stride=5)


def test_model_configs_refuse_a_mismatch_and_udp_without_udp_crops(tmp_path):
    cfg = compose_config("train", ["model=ipr", "model.head.deconv_channels=[]"], tmp_path)
    with pytest.raises(InstantiationException, match="model.head.deconv_channels"):
        instantiate(cfg.model)
    cfg = compose_config("train", ["model=udp", "data.udp=false"], tmp_path)
    with pytest.raises(InstantiationException, match="data.udp=true"):
        instantiate(cfg.model)
