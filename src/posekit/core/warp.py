"""The crop warp for a batch on the device: cv2.warpAffine's bilinear warp with torch's
grid_sample, so that a GPU can cut the crops from the decoded images."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def warp_affine_batch(images: Tensor, matrices: Tensor, output_size: tuple[int, int]) -> Tensor:
    """Bilinear crops (N, C, H, W) float32 of images (N, C, h, w) through matrices (N, 2, 3).

    Each matrix takes source pixels to output pixels (as ``cv2.warpAffine``'s): output pixel
    (x, y) samples the source at ``M^-1 (x, y)``, pixel centres at integer coordinates, zeros
    outside the source (``BORDER_CONSTANT`` 0). ``output_size`` is (W, H).
    """
    if images.ndim != 4 or matrices.shape != (images.shape[0], 2, 3):
        raise ValueError(
            f"expected images (N, C, h, w) and matrices (N, 2, 3), got {tuple(images.shape)} "
            f"and {tuple(matrices.shape)}"
        )
    n, _, height, width = images.shape
    out_w, out_h = output_size
    bottom = matrices.new_tensor([0.0, 0.0, 1.0], dtype=torch.float64).expand(n, 1, 3)
    square = torch.cat([matrices.to(torch.float64), bottom], dim=1)  # (N, 3, 3)
    inverse = torch.linalg.inv(square)[:, :2].to(torch.float32)  # (N, 2, 3) output -> source
    ys, xs = torch.meshgrid(
        torch.arange(out_h, device=images.device, dtype=torch.float32),
        torch.arange(out_w, device=images.device, dtype=torch.float32),
        indexing="ij",
    )
    points = torch.stack([xs, ys, torch.ones_like(xs)], dim=-1).reshape(-1, 3)  # (H*W, 3)
    source = points @ inverse.transpose(1, 2)  # (N, H*W, 2) source pixels
    return sample_bilinear(images, source.reshape(n, out_h, out_w, 2))


def sample_bilinear(images: Tensor, source: Tensor) -> Tensor:
    """Bilinear samples (N, C, H, W) float32 of images (N, C, h, w) at source pixel coordinates
    (N, H, W, 2) (x, y; pixel centres at integers, zeros outside, as ``cv2.warpAffine``'s
    ``INTER_LINEAR`` with ``BORDER_CONSTANT`` 0)."""
    height, width = images.shape[-2:]
    # align_corners=True: -1 and 1 are the centres of the first and last pixels (plain
    # arithmetic on the sizes, which torch.export keeps symbolic for an image of any size)
    grid = torch.stack(
        [source[..., 0] * (2.0 / max(width - 1, 1)) - 1.0,
         source[..., 1] * (2.0 / max(height - 1, 1)) - 1.0],
        dim=-1,
    )
    return F.grid_sample(
        images.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=True
    )
