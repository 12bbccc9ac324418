"""Box and affine geometry of the top-down crop, for numpy (data) and torch (decoding)."""

from __future__ import annotations

import math

import numpy as np
import torch


def bbox_to_center_scale(
    bbox: np.ndarray, aspect_ratio: float, padding: float = 1.25
) -> tuple[np.ndarray, np.ndarray]:
    """Box (4,) xywh -> centre (2,) and scale (2,) = the (w, h) in pixels the crop covers.

    The box is widened or heightened to the input's ``aspect_ratio`` (w / h), then padded.
    """
    x, y, w, h = (float(v) for v in bbox)
    center = np.array([x + w * 0.5, y + h * 0.5], dtype=np.float32)
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    else:
        w = h * aspect_ratio
    return center, np.array([w * padding, h * padding], dtype=np.float32)


def boxes_to_center_scale(
    boxes: torch.Tensor, aspect_ratio: float, padding: float = 1.25
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`bbox_to_center_scale` for a batch in torch, to the bit: boxes (N, 4) xywh ->
    centres (N, 2) and scales (N, 2) float32, computed in float64 as the numpy function does
    (the crop inside an exported graph, ``crop_in_graph``)."""
    x, y, w, h = boxes.double().unbind(-1)  # each (N,)
    center = torch.stack([x + w * 0.5, y + h * 0.5], dim=-1)
    wider = w > aspect_ratio * h
    width = torch.where(wider, w, h * aspect_ratio)
    height = torch.where(wider, w / aspect_ratio, h)
    return center.float(), torch.stack([width * padding, height * padding], dim=-1).float()


def crop_affine_matrices(
    center: torch.Tensor, scale: torch.Tensor, output_size: tuple[int, int], udp: bool = False
) -> torch.Tensor:
    """:func:`crop_affine_matrix` (``udp``: :func:`udp_affine_matrix`) without rotation for a
    batch in torch, to the bit: centres and scales (N, 2) float32 -> (N, 2, 3) float32."""
    out_w, out_h = output_size
    cx, cy = center.double().unbind(-1)
    sw, sh = scale.double().unbind(-1)
    if udp:
        zoom_x, zoom_y = (out_w - 1) / sw, (out_h - 1) / sh
        half_w, half_h = (out_w - 1) * 0.5, (out_h - 1) * 0.5
    else:
        zoom_x = zoom_y = out_w / sw
        half_w, half_h = out_w * 0.5, out_h * 0.5
    zero = torch.zeros_like(zoom_x)
    rows = [
        torch.stack([zoom_x, zero, half_w - zoom_x * cx], dim=-1),
        torch.stack([zero, zoom_y, half_h - zoom_y * cy], dim=-1),
    ]
    return torch.stack(rows, dim=1).float()


def crop_affine_matrix(
    center: np.ndarray,
    scale: np.ndarray,
    rotation: float,
    output_size: tuple[int, int],
    udp: bool = False,
) -> np.ndarray:
    """(2, 3) matrix taking image pixels to crop pixels.

    The crop of ``output_size`` (W, H) shows the region of width ``scale[0]`` around
    ``center``, rotated by ``rotation`` degrees (counter-clockwise in the image); the centre
    lands at (W / 2, H / 2), the convention of the HRNet and SimCC code.

    ``udp``: UDP's matrix instead (:func:`udp_affine_matrix`).
    """
    if udp:
        return udp_affine_matrix(center, scale, rotation, output_size)
    out_w, out_h = output_size
    zoom = out_w / float(scale[0])
    theta = math.radians(rotation)
    cos, sin = math.cos(theta) * zoom, math.sin(theta) * zoom
    linear = np.array([[cos, sin], [-sin, cos]], dtype=np.float64)
    offset = np.array([out_w * 0.5, out_h * 0.5]) - linear @ np.asarray(center, np.float64)
    return np.concatenate([linear, offset[:, None]], axis=1).astype(np.float32)


def udp_affine_matrix(
    center: np.ndarray, scale: np.ndarray, rotation: float, output_size: tuple[int, int]
) -> np.ndarray:
    """UDP's (2, 3) image -> crop matrix (mmpose's ``get_udp_warp_matrix``).

    Measured in pixel intervals: the box of ``scale`` (w, h) around ``center`` spans W - 1 and
    H - 1 crop pixels, ``x' = (W-1) / scale_w * (R (p - center))_x + (W-1) / 2`` (and the same
    for y with H - 1, scale_h), so the centre lands at ((W-1)/2, (H-1)/2) and the scaling differs
    a little per axis. R rotates by ``rotation`` degrees counter-clockwise in the image, as
    :func:`crop_affine_matrix`; mmpose's ``rot`` turns the other way (its ``rot`` is
    ``-rotation``).
    """
    out_w, out_h = output_size
    zoom = np.array([(out_w - 1) / float(scale[0]), (out_h - 1) / float(scale[1])])  # (2,)
    theta = math.radians(rotation)
    rotate = np.array([[math.cos(theta), math.sin(theta)], [-math.sin(theta), math.cos(theta)]])
    linear = zoom[:, None] * rotate  # (2, 2)
    offset = np.array([(out_w - 1) * 0.5, (out_h - 1) * 0.5]) - linear @ np.asarray(
        center, np.float64
    )
    return np.concatenate([linear, offset[:, None]], axis=1).astype(np.float32)


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine matrix."""
    linear_inv = np.linalg.inv(matrix[:, :2].astype(np.float64))
    offset = -linear_inv @ matrix[:, 2].astype(np.float64)
    return np.concatenate([linear_inv, offset[:, None]], axis=1).astype(np.float32)


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Points (..., 2) through a (2, 3) affine matrix."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def crop_to_image(
    keypoints: torch.Tensor,
    center: torch.Tensor,
    scale: torch.Tensor,
    input_size: tuple[int, int],
    udp: bool = False,
) -> torch.Tensor:
    """Batched inverse of the (unrotated) crop: keypoints (N, K, 2) in crop pixels -> image pixels.

    center, scale: (N, 2), as given by :func:`bbox_to_center_scale`. ``udp``: the inverse of
    :func:`udp_affine_matrix`, ``x = (x' - (W-1)/2) scale_w / (W-1) + center_x`` (y alike).
    """
    out_w, out_h = input_size
    if udp:
        half = keypoints.new_tensor([(out_w - 1) * 0.5, (out_h - 1) * 0.5])
        per_pixel = scale.to(keypoints.dtype) / keypoints.new_tensor([out_w - 1, out_h - 1])
        return (keypoints - half) * per_pixel[:, None, :] + center[:, None, :].to(keypoints)
    half = keypoints.new_tensor([out_w * 0.5, out_h * 0.5])
    pixels_per_unit = (scale[:, 0] / out_w).to(keypoints.dtype)  # (N,)
    return (keypoints - half) * pixels_per_unit[:, None, None] + center[:, None, :].to(keypoints)
