"""The RTMCC head of RTMPose: large-kernel conv, MLP, a gated attention unit, SimCC classifiers.

Follows mmpose's ``RTMCCHead`` with its ``RTMCCBlock`` (self-attention, no relative position
bias, no rotary encoding: the settings of every RTMPose config) and ``ScaleNorm``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.models.heads.common import simcc_geometry

_ACTIVATIONS = {"SiLU": nn.SiLU, "ReLU": nn.ReLU}


class ScaleNorm(nn.Module):
    """``g * x / max(||x|| / sqrt(dim), eps)`` over the last axis, one learnt scalar ``g``
    (mmpose's ScaleNorm: an RMS norm with a single gain)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.scale = dim**-0.5
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x: Tensor) -> Tensor:
        """(..., dim) -> (..., dim)."""
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True) * self.scale
        return x / norm.clamp(min=self.eps) * self.g


class GatedAttentionUnit(nn.Module):
    """The gated attention unit over the K keypoint tokens (mmpose's RTMCCBlock, self-attention).

    ``x -> ScaleNorm -> act(Linear(dim, 2e + s))`` split into ``u, v`` (e channels each) and a
    shared base (s channels); ``q = base * gamma_0 + beta_0``, ``k = base * gamma_1 + beta_1``;
    attention ``relu(q k^T / sqrt(s))^2``; output ``Linear(e, dim)(u * (A v))`` plus the input
    times a learnt per-channel scale (the residual), e = ``expansion_factor * dim``.

    Args:
        dim: token channels (in and out).
        s: channels of the shared query/key base.
        expansion_factor: e / dim.
        dropout_rate: dropout on the attention matrix.
        act_fn: "SiLU" (RTMPose) or "ReLU".
        eps: ScaleNorm's eps.
    """

    def __init__(
        self,
        dim: int,
        s: int = 128,
        expansion_factor: float = 2.0,
        dropout_rate: float = 0.0,
        act_fn: str = "SiLU",
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if act_fn not in _ACTIVATIONS:
            raise ValueError(f"act_fn must be one of {sorted(_ACTIVATIONS)}, got {act_fn!r}")
        self.s = s
        self.e = int(dim * expansion_factor)
        self.norm = ScaleNorm(dim, eps)
        self.uv = nn.Linear(dim, 2 * self.e + s, bias=False)
        nn.init.xavier_uniform_(self.uv.weight)
        self.gamma = nn.Parameter(torch.rand(2, s))
        self.beta = nn.Parameter(torch.rand(2, s))
        self.o = nn.Linear(self.e, dim, bias=False)
        self.act = _ACTIVATIONS[act_fn]()
        self.dropout = nn.Dropout(dropout_rate) if dropout_rate > 0 else nn.Identity()
        self.res_scale = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        """(N, K, dim) -> (N, K, dim)."""
        uv = self.act(self.uv(self.norm(x)))
        u, v, base = torch.split(uv, [self.e, self.e, self.s], dim=-1)
        qk = base.unsqueeze(2) * self.gamma + self.beta  # (N, K, 2, s)
        q, k = qk.unbind(dim=2)
        kernel = F.relu(q @ k.transpose(1, 2) / math.sqrt(self.s)).square()  # (N, K, K)
        out = self.o(u * (self.dropout(kernel) @ v))
        return x * self.res_scale + out


class RTMCCHead(nn.Module):
    """RTMPose's head: conv to K maps, flattened, ScaleNorm + Linear to ``hidden_dims``, a gated
    attention unit across the keypoints, then linear x and y classifiers over the SimCC bins.

    Args:
        in_channels: channels ``C`` of the backbone feature.
        num_keypoints: ``K``.
        input_size: model input ``(W, H)``; both must be divisible by ``in_stride``.
        in_stride: stride of the feature (32 for RTMPose's CSPNeXt).
        split_ratio: SimCC bins per input pixel ``k``.
        final_kernel: kernel of the conv to K maps (7 in RTMPose).
        hidden_dims: token channels of the MLP and the GAU (256).
        s: GAU query/key channels (128).
        expansion_factor: GAU expansion (2).
        dropout_rate: GAU attention dropout (0).
        act_fn: GAU activation ("SiLU").
    """

    def __init__(
        self,
        in_channels: int,
        num_keypoints: int,
        input_size: tuple[int, int],
        in_stride: int,
        split_ratio: float = 2.0,
        final_kernel: int = 7,
        hidden_dims: int = 256,
        s: int = 128,
        expansion_factor: float = 2.0,
        dropout_rate: float = 0.0,
        act_fn: str = "SiLU",
    ) -> None:
        super().__init__()
        self.feature_size, self.num_bins = simcc_geometry(
            input_size, in_stride, split_ratio, "RTMCC"
        )
        if final_kernel < 1 or final_kernel % 2 == 0:
            raise ValueError(f"final_kernel must be a positive odd number, got {final_kernel}")
        flat = self.feature_size[0] * self.feature_size[1]
        self.final = nn.Conv2d(in_channels, num_keypoints, final_kernel, padding=final_kernel // 2)
        self.mlp = nn.Sequential(ScaleNorm(flat), nn.Linear(flat, hidden_dims, bias=False))
        self.gau = GatedAttentionUnit(hidden_dims, s, expansion_factor, dropout_rate, act_fn)
        self.cls_x = nn.Linear(hidden_dims, self.num_bins[0], bias=False)
        self.cls_y = nn.Linear(hidden_dims, self.num_bins[1], bias=False)
        self._init_weights()

    def _init_weights(self) -> None:
        """mmpose's RTMCCHead init: convs N(0, 0.001), every linear (the GAU's too) N(0, 0.01),
        biases 0."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                std = 0.001 if isinstance(module, nn.Conv2d) else 0.01
                nn.init.normal_(module.weight, std=std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, feat: Tensor) -> dict[str, Tensor]:
        """(N, C, h, w) -> {"simcc_x": (N, K, int(W * k)), "simcc_y": (N, K, int(H * k))}."""
        w, h = self.feature_size
        if feat.shape[-2:] != (h, w):
            raise ValueError(
                f"RTMCCHead was built for a {h}x{w} (h x w) feature map, got "
                f"{feat.shape[-2]}x{feat.shape[-1]}"
            )
        tokens = self.gau(self.mlp(self.final(feat).flatten(2)))  # (N, K, hidden_dims)
        return {"simcc_x": self.cls_x(tokens), "simcc_y": self.cls_y(tokens)}
