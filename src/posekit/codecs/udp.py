"""UDP heatmaps (unbiased data processing, Huang et al. 2020; mmpose's UDPHeatmap, gaussian):
heatmap pixel u sits at input pixel ``u (W-1) / (w-1)``, so the flip test is exact."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from posekit.codecs.base import (
    Codec,
    as_odd_kernel,
    as_positive,
    as_size,
    check_keypoints,
    flip_index_tensor,
    gaussian_blur,
)

# mmpose's DARK-UDP clips the blurred heatmaps to [1e-3, 50] before the log
_LOG_CLIP = (1e-3, 50.0)
_HESSIAN_EPS = float(np.finfo(np.float32).eps)
# heatmap pixels -> input pixels when decoding: (W-1)/(w-1) as the encoding ("udp"), or
# W/(w-1) as mmpose's UDPHeatmap.decode ("mmpose")
DECODE_SCALES = ("udp", "mmpose")


class UDPHeatmapCodec(Codec):
    """UDP Gaussian heatmaps, encoded and decoded as mmpose's ``UDPHeatmap`` (``gaussian``).

    With ``factor = (W-1, H-1) / (w-1, h-1)``, a keypoint at input x has heatmap coordinate
    ``mu = x / factor``. Target: ``exp(-((u - mu_x)^2 + (v - mu_y)^2) / (2 sigma^2))`` centred at
    the exact ``mu``, kept on the square window ``[m - r, m + r]`` around ``m = int(mu + 0.5)``,
    ``r = 3 sigma`` (zero elsewhere); weight 0 for unlabelled keypoints and when the window
    misses the heatmap.

    Decoding: argmax, then mmpose's DARK-UDP step (blur with zero padding keeping the maximum,
    clip to [1e-3, 50], log, edge padding, one Newton step with the Hessian + eps I; no step
    where that matrix is singular), then times ``factor`` (``decode_scale="udp"``, consistent
    with the encoding) or times ``(W, H) / (w-1, h-1)`` (``"mmpose"``: mmpose's
    ``UDPHeatmap.decode``, ``/ (w-1) * W``, against its encoding's ``(W-1) / (w-1)``: a keypoint
    at input x decodes to ``x W / (W-1)``). Score: the maximum. Flip test:
    reverse the columns and swap left/right: column u -> w-1-u is exactly input x -> W-1-x (no
    shift).

    Args:
        input_size: (W, H) of the network input in pixels.
        heatmap_size: (w, h) of the heatmaps, each at least 2.
        sigma: Gaussian sigma in heatmap pixels.
        blur_kernel_size: odd size of the decoding blur (OpenCV's sigma for that size).
        refine: the DARK-UDP step (mmpose always takes it); without it, the argmax x factor
            (what exported graphs decode, see ``posekit.deploy.export.export_codec``).
        decode_scale: one of ``DECODE_SCALES``: "udp" (posekit, self-consistent) or "mmpose".
    """

    output_keys = ("heatmaps",)
    repr_fields = (
        "input_size", "heatmap_size", "sigma", "blur_kernel_size", "refine", "decode_scale"
    )
    needs_udp_crops = True  # its pixel grid is UDP's: the crops must be too (data.udp)

    def __init__(
        self,
        input_size: Sequence[int],
        heatmap_size: Sequence[int],
        sigma: float = 2.0,
        blur_kernel_size: int = 11,
        refine: bool = True,
        decode_scale: str = "udp",
    ) -> None:
        self.input_size = as_size("input_size", input_size)
        self.heatmap_size = as_size("heatmap_size", heatmap_size)
        if min(self.heatmap_size) < 2:
            raise ValueError(f"heatmap_size must be at least 2 per axis, got {self.heatmap_size}")
        self.sigma = as_positive("sigma", sigma)
        self.blur_kernel_size = as_odd_kernel("blur_kernel_size", blur_kernel_size)
        self.refine = bool(refine)
        self.factor = (
            (self.input_size[0] - 1) / (self.heatmap_size[0] - 1),
            (self.input_size[1] - 1) / (self.heatmap_size[1] - 1),
        )
        if decode_scale not in DECODE_SCALES:
            raise ValueError(f"decode_scale must be one of {DECODE_SCALES}, got {decode_scale!r}")
        self.decode_scale = decode_scale
        # input pixels per heatmap pixel when decoding, (x, y)
        self.decode_factor = self.factor if decode_scale == "udp" else (
            self.input_size[0] / (self.heatmap_size[0] - 1),
            self.input_size[1] / (self.heatmap_size[1] - 1),
        )


    # ------------------------------------------------------------------ encode (numpy)
    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        keypoints, labelled = check_keypoints(keypoints, visible)  # (K, 2), (K,)
        mu = keypoints / np.asarray(self.factor)  # (K, 2) heatmap coordinates
        radius = 3.0 * self.sigma
        rounded = np.floor(mu + 0.5)  # (K, 2), mmpose's int(mu + 0.5) for mu >= 0
        low = np.trunc(rounded - radius)  # (K, 2) first pixel of the window
        high = np.trunc(rounded + radius + 1)  # (K, 2) one past its last pixel
        size = np.asarray(self.heatmap_size)
        misses = (low >= size) | (high < 0)  # (K, 2)
        weights = (labelled & ~misses.any(axis=1)).astype(np.float32)  # (K,)
        # the window's Gaussian is centred at low + floor((2r + 1) / 2) + (mu - rounded) = mu
        centre = low + math.floor((2 * radius + 1) / 2) + (mu - rounded)  # (K, 2)
        profile_x = self._profile(size[0], centre[:, 0], low[:, 0], high[:, 0])  # (K, w)
        profile_y = self._profile(size[1], centre[:, 1], low[:, 1], high[:, 1])  # (K, h)
        heatmaps = (profile_y * weights[:, None])[:, :, None] * profile_x[:, None, :]
        return {"heatmaps": heatmaps.astype(np.float32), "keypoint_weights": weights}

    def _profile(
        self, size: int, centre: np.ndarray, low: np.ndarray, high: np.ndarray
    ) -> np.ndarray:
        """1-D Gaussians (K, size) centred at ``centre`` (K,), zero outside [low, high)."""
        grid = np.arange(size, dtype=np.float64)[None, :]  # (1, size)
        values = np.exp(-0.5 * np.square((grid - centre[:, None]) / self.sigma))  # (K, size)
        inside = (grid >= low[:, None]) & (grid < high[:, None])
        return np.where(inside, values, 0.0)

    # ------------------------------------------------------------------ decode (torch)
    def decode(self, outputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        heatmaps = outputs["heatmaps"]
        if heatmaps.ndim != 4:
            raise ValueError(f"heatmaps must be (N, K, h, w), got shape {tuple(heatmaps.shape)}")
        heatmaps = heatmaps.float()  # (N, K, h, w)
        n, k, h, w = heatmaps.shape
        scores, index = heatmaps.flatten(2).max(dim=2)  # (N, K)
        ix, iy = index % w, index // w  # (N, K)
        if not self.refine:
            argmax = torch.stack([ix, iy], dim=-1).float()  # (N, K, 2) heatmap pixels
            return argmax * heatmaps.new_tensor(self.decode_factor), scores
        # the log and the Newton step in float64: on flat maps the step divides by a tiny Hessian
        log_map = self._blur(heatmaps).double().clamp(*_LOG_CLIP).log()  # (N, K, h, w)
        padded = F.pad(log_map.view(n * k, 1, h, w), (1, 1, 1, 1), mode="replicate")
        padded = padded.view(n, k, (h + 2) * (w + 2))

        def at(dx: int, dy: int) -> torch.Tensor:  # (N, K) values at (iy + dy, ix + dx)
            flat = (iy + 1 + dy) * (w + 2) + (ix + 1 + dx)
            return padded.gather(2, flat.unsqueeze(-1)).squeeze(-1)

        centre, right, left, down, up = at(0, 0), at(1, 0), at(-1, 0), at(0, 1), at(0, -1)
        grad = torch.stack([0.5 * (right - left), 0.5 * (down - up)], dim=-1)  # (N, K, 2)
        h_xx = right - 2 * centre + left
        h_yy = down - 2 * centre + up
        h_xy = 0.5 * (at(1, 1) - right - down + 2 * centre - left - up + at(-1, -1))
        # mmpose: inv(Hessian + eps I) @ gradient; the 2x2 inverse written out (exports to ONNX)
        a, d = h_xx + _HESSIAN_EPS, h_yy + _HESSIAN_EPS
        det = a * d - h_xy * h_xy  # (N, K)
        safe = det != 0
        det = torch.where(safe, det, 1.0)
        step_x = (d * grad[..., 0] - h_xy * grad[..., 1]) / det
        step_y = (a * grad[..., 1] - h_xy * grad[..., 0]) / det
        step = torch.stack([step_x, step_y], dim=-1) * safe.unsqueeze(-1)  # (N, K, 2)
        keypoints = torch.stack([ix, iy], dim=-1).double() - step  # (N, K, 2) heatmap pixels
        keypoints = (keypoints * log_map.new_tensor(self.decode_factor)).float()
        return keypoints, scores

    def _blur(self, heatmaps: torch.Tensor) -> torch.Tensor:
        """mmpose's ``gaussian_blur``: zero padding, then rescaled to keep each map's maximum."""
        maps = gaussian_blur(heatmaps, self.blur_kernel_size)  # (N, K, h, w)
        before = heatmaps.flatten(2).amax(dim=2)[..., None, None]  # (N, K, 1, 1)
        after = maps.flatten(2).amax(dim=2)[..., None, None]
        return maps * before / torch.where(after == 0, 1.0, after)

    # ------------------------------------------------------------------ flip test (torch)
    def flip_outputs(
        self, outputs: dict[str, torch.Tensor], flip_index: Sequence[int]
    ) -> dict[str, torch.Tensor]:
        """Reverse the columns and swap left/right channels: exact under UDP's scaling."""
        heatmaps = outputs["heatmaps"]  # (N, K, h, w)
        index = flip_index_tensor(flip_index, heatmaps.shape[1], heatmaps.device)
        return {"heatmaps": heatmaps.flip(-1).index_select(1, index)}
