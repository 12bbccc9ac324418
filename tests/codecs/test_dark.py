"""DARK decoding against an independent implementation of DarkPose's formula (numpy + cv2)."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from posekit.codecs import MSRAHeatmapCodec

INPUT_SIZE = (192, 256)  # (W, H)
HEATMAP_SIZE = (48, 64)  # stride 4


def darkpose_decode(heatmaps: np.ndarray, kernel: int = 11) -> np.ndarray:
    """DarkPose's get_final_preds in heatmap pixels: (K, h, w) -> (K, 2).

    Written from the paper's code: the heatmap is embedded in zeros, blurred with
    cv2.GaussianBlur, rescaled to its old maximum, logged, and refined by a Taylor step.
    """
    num, height, width = heatmaps.shape
    border = (kernel - 1) // 2
    argmax = [divmod(int(np.argmax(h)), width) for h in heatmaps]  # (row, col) of the raw map
    logs = np.empty_like(heatmaps, dtype=np.float64)
    for k in range(num):
        padded = np.zeros((height + 2 * border, width + 2 * border))
        padded[border:-border, border:-border] = heatmaps[k]
        blurred = cv2.GaussianBlur(padded, (kernel, kernel), 0)[border:-border, border:-border]
        blurred *= heatmaps[k].max() / blurred.max()
        logs[k] = np.log(np.maximum(blurred, 1e-10))
    out = np.zeros((num, 2))
    for k, (py, px) in enumerate(argmax):
        hm = logs[k]
        coord = np.array([px, py], dtype=np.float64)
        if 1 < px < width - 2 and 1 < py < height - 2:
            dx = 0.5 * (hm[py, px + 1] - hm[py, px - 1])
            dy = 0.5 * (hm[py + 1, px] - hm[py - 1, px])
            dxx = 0.25 * (hm[py, px + 2] - 2 * hm[py, px] + hm[py, px - 2])
            dxy = 0.25 * (
                hm[py + 1, px + 1] - hm[py - 1, px + 1] - hm[py + 1, px - 1] + hm[py - 1, px - 1]
            )
            dyy = 0.25 * (hm[py + 2, px] - 2 * hm[py, px] + hm[py - 2, px])
            hessian = np.array([[dxx, dxy], [dxy, dyy]])
            if dxx * dyy - dxy**2 != 0:
                coord -= np.linalg.inv(hessian) @ np.array([dx, dy])
        out[k] = coord
    return out


def test_dark_target_near_the_edge_decodes_as_darkpose() -> None:
    """The issue's figure: a perfect target 8 px from the crop edge decodes to 8.85 (mmpose and
    DarkPose), not 5.61 (a blur with replicated edges)."""
    codec = MSRAHeatmapCodec(INPUT_SIZE, HEATMAP_SIZE, sigma=2.0, unbiased=True)
    target = codec.encode(np.array([[8.0, 128.0]]), np.ones(1))["heatmaps"]  # (1, h, w)
    decoded, _ = codec.decode({"heatmaps": torch.from_numpy(target)[None]})
    assert abs(decoded[0, 0, 0].item() - 8.85) < 0.005
    reference = darkpose_decode(target.astype(np.float64)) * 4.0
    np.testing.assert_allclose(decoded[0].numpy(), reference, atol=1e-3)


def test_dark_matches_darkpose_on_perfect_and_noisy_heatmaps() -> None:
    codec = MSRAHeatmapCodec(INPUT_SIZE, HEATMAP_SIZE, sigma=2.0, unbiased=True)
    rng = np.random.default_rng(0)
    keypoints = rng.uniform([0, 0], [191, 255], size=(30, 2))
    heatmaps = codec.encode(keypoints, np.ones(30))["heatmaps"]  # (30, h, w)
    noisy = np.clip(heatmaps + rng.normal(0, 0.05, heatmaps.shape), 0, None).astype(np.float32)
    for maps in (heatmaps, noisy):
        decoded, _ = codec.decode({"heatmaps": torch.from_numpy(maps)[None]})
        reference = darkpose_decode(maps.astype(np.float64))  # (30, 2) heatmap pixels
        np.testing.assert_allclose(decoded[0].numpy() / 4.0, reference, atol=2e-3)
