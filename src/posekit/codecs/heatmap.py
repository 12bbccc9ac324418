"""Gaussian heatmap codec: MSRA/HRNet targets and decoding, with optional DARK (unbiased) mode."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from posekit.codecs.base import (
    Codec,
    as_odd_kernel,
    as_positive,
    as_size,
    check_keypoints,
    flip_index_tensor,
    gaussian_blur,
)

# Hessians with |det| below this are treated as singular by the DARK refinement.
_MIN_HESSIAN_DET = 1e-6


class MSRAHeatmapCodec(Codec):
    """One Gaussian heatmap per keypoint, as in SimpleBaseline / HRNet (and DARK if ``unbiased``).

    The heatmap is the input crop sampled with ``stride = input_size / heatmap_size`` per axis;
    heatmap pixel i sits at input pixel ``i * stride`` (the HRNet convention), so a keypoint at
    input x has heatmap coordinate ``x / stride``.

    Encoding:
      * ``unbiased=False`` (MSRA/HRNet): a Gaussian of peak 1 centred at the *rounded* heatmap
        location ``floor(x / stride + 0.5)``, cut to a square window of ``floor(3 sigma)`` pixels
        each side. The weight is 0 when that window does not overlap the heatmap at all (HRNet's
        test, without its off-by-one that keeps weight 1 for a window ending at column -1).
      * ``unbiased=True`` (DARK): an untruncated Gaussian centred at the exact float location;
        weight 0 when the location lies more than ``3 sigma`` outside the heatmap.

    Decoding takes the argmax of each heatmap (score = its value), then refines it: MSRA moves
    0.25 pixel toward the higher neighbour on each axis; DARK blurs the heatmap, takes its log and
    makes one Newton step (as DarkPose: zero-padded blur, see ``_dark_offset``). Keypoints
    whose maximum is <= 0 keep the argmax.

    Args:
        input_size: (W, H) of the network input in pixels.
        heatmap_size: (w, h) of the heatmaps.
        sigma: standard deviation of the target Gaussian, in heatmap pixels.
        unbiased: DARK encoding and decoding instead of MSRA's.
        blur_kernel_size: odd size of the Gaussian blur of the DARK decoding; its sigma follows
            OpenCV's default for that size, ``0.3 * ((size - 1) / 2 - 1) + 0.8`` (2.0 for 11).
    """

    output_keys = ("heatmaps",)
    repr_fields = ("input_size", "heatmap_size", "sigma", "unbiased", "blur_kernel_size")

    def __init__(
        self,
        input_size: Sequence[int],
        heatmap_size: Sequence[int],
        sigma: float = 2.0,
        unbiased: bool = False,
        blur_kernel_size: int = 11,
    ) -> None:
        self.input_size = as_size("input_size", input_size)
        self.heatmap_size = as_size("heatmap_size", heatmap_size)
        self.sigma = as_positive("sigma", sigma)
        self.unbiased = bool(unbiased)
        self.blur_kernel_size = as_odd_kernel("blur_kernel_size", blur_kernel_size)
        # input pixels per heatmap pixel, (x, y)
        self.stride = (
            self.input_size[0] / self.heatmap_size[0],
            self.input_size[1] / self.heatmap_size[1],
        )


    # ------------------------------------------------------------------ encode (numpy)
    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        keypoints, labelled = check_keypoints(keypoints, visible)  # (K, 2), (K,)
        w, h = self.heatmap_size
        centre = keypoints / np.asarray(self.stride)  # (K, 2) heatmap coordinates
        if self.unbiased:
            radius = 3.0 * self.sigma
        else:
            centre = np.floor(centre + 0.5)
            radius = math.floor(3.0 * self.sigma)
        overlaps = (centre + radius >= 0) & (centre - radius <= np.array([w - 1, h - 1]))  # (K, 2)
        weights = (labelled & overlaps.all(axis=1)).astype(np.float32)  # (K,)
        profile_x = self._profile(w, centre[:, 0], radius)  # (K, w)
        profile_y = self._profile(h, centre[:, 1], radius)  # (K, h)
        # the 2-D Gaussian is separable: (K, h, 1) * (K, 1, w); zero the rows of weight-0 keypoints
        heatmaps = (profile_y * weights[:, None])[:, :, None] * profile_x[:, None, :]  # (K, h, w)
        return {"heatmaps": heatmaps, "keypoint_weights": weights}

    def _profile(self, size: int, centre: np.ndarray, radius: float) -> np.ndarray:
        """1-D Gaussian along one axis for centres (K,); truncated to ``radius`` unless unbiased."""
        grid = np.arange(size, dtype=np.float32)  # (size,)
        offset = grid[None, :] - centre[:, None].astype(np.float32)  # (K, size)
        profile = np.exp(-0.5 * np.square(offset / np.float32(self.sigma)))  # (K, size)
        if not self.unbiased:
            profile[np.abs(offset) > radius] = 0.0
        return profile

    # ------------------------------------------------------------------ decode (torch)
    def decode(self, outputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        heatmaps = outputs["heatmaps"]
        if heatmaps.ndim != 4:
            raise ValueError(f"heatmaps must be (N, K, h, w), got shape {tuple(heatmaps.shape)}")
        heatmaps = heatmaps.float()  # (N, K, h, w)
        width = heatmaps.shape[-1]
        scores, index = heatmaps.flatten(2).max(dim=2)  # (N, K), (N, K)
        ix, iy = index % width, index // width  # (N, K)
        if self.unbiased:
            offset = self._dark_offset(heatmaps, scores, ix, iy)
        else:
            offset = self._msra_offset(heatmaps, ix, iy)
        offset = offset * (scores > 0).unsqueeze(-1)  # (N, K, 2)
        keypoints = torch.stack([ix, iy], dim=-1).float() + offset  # (N, K, 2) heatmap pixels
        return keypoints * keypoints.new_tensor(self.stride), scores

    @staticmethod
    def _msra_offset(heatmaps: torch.Tensor, ix: torch.Tensor, iy: torch.Tensor) -> torch.Tensor:
        """Quarter-pixel step toward the higher neighbour on each axis: (N, K, 2)."""
        height, width = heatmaps.shape[-2:]
        dx = _sample(heatmaps, ix, iy, 1, 0) - _sample(heatmaps, ix, iy, -1, 0)  # (N, K)
        dy = _sample(heatmaps, ix, iy, 0, 1) - _sample(heatmaps, ix, iy, 0, -1)  # (N, K)
        dx = dx.sign() * ((ix > 0) & (ix < width - 1))
        dy = dy.sign() * ((iy > 0) & (iy < height - 1))
        return 0.25 * torch.stack([dx, dy], dim=-1)

    def _dark_offset(
        self, heatmaps: torch.Tensor, scores: torch.Tensor, ix: torch.Tensor, iy: torch.Tensor
    ) -> torch.Tensor:
        """DARK as DarkPose's ``taylor`` (and mmpose's ``refine_keypoints_dark``): one Newton step
        ``-H^-1 grad`` on the log of the blurred heatmap at the argmax of the raw heatmap.

        Central differences: first derivatives over +-1 pixel, the second derivatives d2/dx2 and
        d2/dy2 over +-2 pixels (divided by 4), the mixed one over the four diagonal neighbours.
        Returns the offsets (N, K, 2); 0 within 2 pixels of the border (``1 < x < w - 2``) and
        where the Hessian is singular.
        """
        height, width = heatmaps.shape[-2:]
        blurred = gaussian_blur(heatmaps, self.blur_kernel_size)  # (N, K, h, w)
        blurred_max = blurred.flatten(2).amax(dim=2)  # (N, K)
        rescale = torch.where(blurred_max > 0, scores / blurred_max.clamp_min(1e-10), 1.0)
        log_map = (blurred * rescale[..., None, None]).clamp_min(1e-10).log()  # (N, K, h, w)

        def at(dx: int, dy: int) -> torch.Tensor:
            return _sample(log_map, ix, iy, dx, dy)  # (N, K)

        centre = at(0, 0)
        grad_x, grad_y = 0.5 * (at(1, 0) - at(-1, 0)), 0.5 * (at(0, 1) - at(0, -1))
        h_xx = 0.25 * (at(2, 0) - 2 * centre + at(-2, 0))
        h_yy = 0.25 * (at(0, 2) - 2 * centre + at(0, -2))
        h_xy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
        det = h_xx * h_yy - h_xy * h_xy
        valid = (
            (det.abs() > _MIN_HESSIAN_DET)
            & (ix > 1) & (ix < width - 2)
            & (iy > 1) & (iy < height - 2)
        )  # (N, K)
        det = torch.where(valid, det, 1.0)
        offset_x = -(h_yy * grad_x - h_xy * grad_y) / det
        offset_y = -(h_xx * grad_y - h_xy * grad_x) / det
        offset = torch.stack([offset_x, offset_y], dim=-1)  # (N, K, 2)
        return torch.where(valid.unsqueeze(-1), offset, 0.0)

    # ------------------------------------------------------------------ flip test (torch)
    def flip_outputs(
        self, outputs: dict[str, torch.Tensor], flip_index: Sequence[int]
    ) -> dict[str, torch.Tensor]:
        """Mirror the heatmaps of the flipped crop back, swap left/right channels, shift one column.

        Input pixel x -> W-1-x is heatmap u -> w - 1/stride - u, while reversing the w columns is
        u -> w-1-u: the reversed heatmap sits ``1 - 1/stride`` columns too far left. Like the
        official HRNet flip test, this shifts it by one whole column (``out[..., 1:] =
        out[..., :-1]``, column 0 kept), which leaves a bias of 1/stride column = 1 input pixel,
        but keeps the heatmap a plain copy (no interpolation that would widen the peak).
        """
        heatmaps = outputs["heatmaps"]  # (N, K, h, w)
        index = flip_index_tensor(flip_index, heatmaps.shape[1], heatmaps.device)
        flipped = heatmaps.flip(-1).index_select(1, index)
        return {"heatmaps": torch.cat([flipped[..., :1], flipped[..., :-1]], dim=-1)}


def _sample(
    maps: torch.Tensor, ix: torch.Tensor, iy: torch.Tensor, dx: int, dy: int
) -> torch.Tensor:
    """Values of maps (N, K, h, w) at (iy + dy, ix + dx), clamped to the border: (N, K)."""
    height, width = maps.shape[-2:]
    x = (ix + dx).clamp(0, width - 1)
    y = (iy + dy).clamp(0, height - 1)
    return maps.flatten(2).gather(2, (y * width + x).unsqueeze(-1)).squeeze(-1)
