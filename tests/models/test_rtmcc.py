"""The RTMCC head of RTMPose: shapes, ScaleNorm and the gated attention unit by hand, and
RTMPose's flat-then-cosine schedule."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from posekit.models.heads.rtmcc import GatedAttentionUnit, RTMCCHead, ScaleNorm
from posekit.models.schedules import warmup_flat_cosine


def test_scale_norm_divides_by_the_rms():
    norm = ScaleNorm(2)
    with torch.no_grad():
        norm.g.fill_(2.0)
    # ||(3, 4)|| / sqrt(2) = 5 / 1.41421 = 3.53553; 2 * (3, 4) / 3.53553
    out = norm(torch.tensor([[3.0, 4.0]]))
    torch.testing.assert_close(out, torch.tensor([[1.69706, 2.26274]]), rtol=0, atol=1e-5)


def test_gated_attention_unit_by_hand():
    gau = GatedAttentionUnit(dim=2, s=1, expansion_factor=1.0, act_fn="ReLU")
    with torch.no_grad():
        # uv(x) = (x0, x1 | x0, x1 | x0): u, v and the base
        gau.uv.weight.copy_(torch.tensor([[1.0, 0], [0, 1], [1, 0], [0, 1], [1, 0]]))
        gau.gamma.copy_(torch.tensor([[2.0], [3.0]]))
        gau.beta.zero_()
        gau.o.weight.copy_(torch.eye(2))
    tokens = torch.tensor([[[1.0, 1.0], [1.0, -1.0]]])  # (1, K=2, 2); ScaleNorm leaves them
    # relu(uv): t1 -> u (1, 1), v (1, 1), base 1; t2 -> u (1, 0), v (1, 0), base 1
    # q = 2 base, k = 3 base: every q.k = 6, relu(6 / sqrt(1))^2 = 36
    # A v = 36 (v1 + v2) = (72, 36) for both; u * A v: (72, 36) and (72, 0); plus the input
    expected = torch.tensor([[[73.0, 37.0], [73.0, -1.0]]])
    torch.testing.assert_close(gau(tokens), expected)


def test_rtmcc_head_shapes_at_rtmpose_m_size():
    head = RTMCCHead(768, 17, input_size=(192, 256), in_stride=32, split_ratio=2.0)
    out = head(torch.randn(2, 768, 8, 6))
    assert out["simcc_x"].shape == (2, 17, 384) and out["simcc_y"].shape == (2, 17, 512)
    assert head.final.kernel_size == (7, 7)
    # every parameter takes part
    (out["simcc_x"].sum() + out["simcc_y"].sum()).backward()
    assert [n for n, p in head.named_parameters() if p.grad is None] == []
    # mmpose's init: linears N(0, 0.01), the GAU's too
    assert head.gau.uv.weight.std().item() == pytest.approx(0.01, rel=0.1)


def test_rtmcc_head_rejects_sizes_that_do_not_fit():
    with pytest.raises(ValueError, match=r"not divisible by the feature stride 32 .*in_stride"):
        RTMCCHead(16, 17, input_size=(100, 128), in_stride=32)
    head = RTMCCHead(16, 17, input_size=(64, 64), in_stride=32)
    with pytest.raises(ValueError, match="built for a 2x2"):
        head(torch.randn(1, 16, 4, 4))


def test_warmup_flat_cosine_by_hand():
    optimizer = torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=1.0)
    scheduler = warmup_flat_cosine(optimizer, steps_per_epoch=10, epochs=4, flat_epochs=2,
                                   eta_min_ratio=0.05, warmup_iters=5, warmup_ratio=0.1)
    lrs = []
    for _ in range(41):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    # warmup 0.1 -> 1 over 5 steps, flat to step 20, cosine to 0.05 at step 40
    assert lrs[0] == pytest.approx(0.1) and lrs[1] == pytest.approx(0.1 + 0.9 / 5)
    assert lrs[5] == pytest.approx(1.0) and lrs[20] == pytest.approx(1.0)
    assert lrs[30] == pytest.approx(0.05 + 0.95 * 0.5) and lrs[40] == pytest.approx(0.05)
    with pytest.raises(ValueError, match="flat_epochs"):
        warmup_flat_cosine(optimizer, steps_per_epoch=10, epochs=4, flat_epochs=4)


def test_paramwise_adamw_spares_norms_and_biases():
    from posekit.models.optim import paramwise_adamw

    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 2), ScaleNorm(2))
    optimizer = paramwise_adamw(net, lr=4e-3, weight_decay=0.05)
    decay_of = {id(p): g["weight_decay"] for g in optimizer.param_groups for p in g["params"]}
    conv, bn, linear, scale_norm = net
    assert decay_of[id(conv.weight)] == 0.05 and decay_of[id(linear.weight)] == 0.05
    assert decay_of[id(conv.bias)] == 0.0 and decay_of[id(linear.bias)] == 0.0
    assert decay_of[id(bn.weight)] == 0.0 and decay_of[id(bn.bias)] == 0.0
    assert decay_of[id(scale_norm.g)] == 0.05  # not an mmengine norm layer
    assert len(decay_of) == len(list(net.parameters()))
