"""Crop warps in torch: a batch on the device (cv2.warpAffine's bilinear warp with torch's
grid_sample, so that a GPU can cut the crops from the decoded images), and OpenCV 4's
fixed-point warpAffine to the level (the crop inside an exported graph)."""

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
    # align_corners=True: -1 and 1 are the centres of the first and last pixels
    scale = source.new_tensor([2.0 / max(width - 1, 1), 2.0 / max(height - 1, 1)])
    grid = (source * scale - 1.0).reshape(n, out_h, out_w, 2)
    return F.grid_sample(
        images.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=True
    )


# OpenCV's fixed point for INTER_LINEAR warps (imgproc's AB_BITS, INTER_BITS, INTER_REMAP_COEF_BITS)
AB_SCALE = 1024.0  # the inverse map is computed in 1/1024 pixel
TAB_SIZE = 32.0  # and sampled in 1/32 pixel
COEF_SCALE = 32768.0  # bilinear weights in 1/32768, summing to it


def opencv_warp_affine(image: Tensor, matrices: Tensor, output_size: tuple[int, int]) -> Tensor:
    """``cv2.warpAffine(image, M, output_size, flags=cv2.INTER_LINEAR)`` (border 0) for each
    matrix, to the level, as OpenCV 4 computes it: the matrix inverted in float64, the
    source position of each crop pixel rounded to 1/32 pixel through 1/1024 steps, integer
    bilinear weights in 1/32768 and the sum rounded. Every step is done on whole numbers in
    float64, so it is exact in torch and in an exported ONNX graph.

    image: (H, W, C) 0-255 whole numbers (uint8); matrices: (N, 2, 3) image -> crop pixels
    (float32 values, as OpenCV receives them); output_size: (W, H) -> (N, C, H, W) float32.
    """
    m = matrices.double()
    m0, m1, m2, m3, m4, m5 = (m[:, i // 3, i % 3] for i in range(6))  # each (N,)
    determinant = m0 * m4 - m1 * m3
    inverse_det = torch.where(determinant != 0, 1.0 / determinant, torch.zeros_like(determinant))
    a0, a4 = m4 * inverse_det, m0 * inverse_det
    a1, a3 = m1 * -inverse_det, m3 * -inverse_det
    a2, a5 = -a0 * m2 - a1 * m5, -a3 * m2 - a4 * m5
    out_w, out_h = output_size
    xs = torch.arange(out_w, dtype=torch.float64, device=m.device)
    ys = torch.arange(out_h, dtype=torch.float64, device=m.device)
    # source positions in 1/32 pixel: (row start + column step) >> 5, OpenCV's order of rounding
    half_step = AB_SCALE / TAB_SIZE / 2
    x_rows = torch.round((a1[:, None] * ys + a2[:, None]) * AB_SCALE) + half_step  # (N, H)
    y_rows = torch.round((a4[:, None] * ys + a5[:, None]) * AB_SCALE) + half_step
    x_steps = torch.round(a0[:, None] * xs * AB_SCALE)  # (N, W)
    y_steps = torch.round(a3[:, None] * xs * AB_SCALE)
    step = AB_SCALE / TAB_SIZE
    x_fine = torch.floor((x_rows[:, :, None] + x_steps[:, None, :]) / step)  # (N, H, W)
    y_fine = torch.floor((y_rows[:, :, None] + y_steps[:, None, :]) / step)
    x0, y0 = torch.floor(x_fine / TAB_SIZE), torch.floor(y_fine / TAB_SIZE)
    fx, fy = x_fine - x0 * TAB_SIZE, y_fine - y0 * TAB_SIZE  # 0 .. 31
    height, width, channels = image.shape[0], image.shape[1], image.shape[2]
    pixels = image.reshape(-1, channels).double()  # (H*W, C)
    total = torch.zeros((*x_fine.shape, channels), dtype=torch.float64, device=m.device)
    unit = COEF_SCALE / TAB_SIZE / TAB_SIZE
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        weight = (fx if dx else TAB_SIZE - fx) * (fy if dy else TAB_SIZE - fy) * unit
        tx, ty = x0 + dx, y0 + dy
        inside = (tx >= 0) & (tx <= width - 1) & (ty >= 0) & (ty <= height - 1)  # else 0
        index = ty.clamp(0, height - 1) * width + tx.clamp(0, width - 1)
        total = total + (weight * inside)[..., None] * pixels[index.long()]
    levels = torch.floor((total + COEF_SCALE / 2) / COEF_SCALE)  # (N, H, W, C)
    return levels.permute(0, 3, 1, 2).float()
