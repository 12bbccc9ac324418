"""Drawing a training sample as the network sees it: the crop, its skeleton and its targets."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from posekit.core.spec import KeypointSpec
from posekit.viz.skeleton import draw_skeleton


def target_map(sample: dict[str, torch.Tensor], input_size: tuple[int, int]) -> np.ndarray:
    """The targets of one sample as one map over the crop, (H, W) in [0, 1].

    Heatmaps (K, h, w): the maximum over keypoints, upsampled. SimCC (K, W*k) and (K, H*k):
    the maximum over keypoints of the outer product of each keypoint's normalised x and y
    labels, resampled to the crop. Keypoints of weight 0 are left out.
    """
    width, height = input_size
    keep = sample["keypoint_weights"] > 0  # (K,)
    if "heatmaps" in sample:
        maps = sample["heatmaps"][keep].float()  # (K', h, w)
        peak = maps.amax(dim=0) if len(maps) else torch.zeros(sample["heatmaps"].shape[1:])
    elif "simcc_x" in sample and "simcc_y" in sample:
        x = sample["simcc_x"][keep].float()  # (K', W*k)
        y = sample["simcc_y"][keep].float()  # (K', H*k)
        x = x / x.amax(dim=1, keepdim=True).clamp_min(1e-12)
        y = y / y.amax(dim=1, keepdim=True).clamp_min(1e-12)
        peak = torch.zeros(y.shape[1], x.shape[1])
        for xk, yk in zip(x, y):
            peak = torch.maximum(peak, yk[:, None] * xk[None, :])  # (H*k, W*k)
    else:
        raise ValueError(
            f"no codec targets in the sample (keys {sorted(sample)}): expected 'heatmaps' or "
            "'simcc_x' and 'simcc_y'"
        )
    shrink = peak.shape[1] > width
    resized = cv2.resize(
        peak.numpy().astype(np.float32),
        (width, height),
        interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR,
    )
    return resized / resized.max() if resized.max() > 0 else resized


LABEL_HEIGHT = 22  # px of the caption strip above a browse tile


def render_sample(
    sample: dict[str, torch.Tensor], spec: KeypointSpec, zoom: int = 1, label: str | None = None
) -> np.ndarray:
    """The crop (H, W, 3) uint8 RGB with the targets as a colour overlay and the keypoints
    (left orange, right blue) that carry weight drawn with the skeleton.

    ``zoom``: the crop and targets enlarged that many times (keypoints moved with them, pixel
    centres kept: ``x' = zoom (x + 0.5) - 0.5``) before drawing, so lines stay thin on small
    inputs; ``label``: a caption strip of ``LABEL_HEIGHT`` px above the tile. Returns
    (zoom H [+ LABEL_HEIGHT], zoom W, 3).
    """
    crop = sample["image"].permute(1, 2, 0).numpy().astype(np.uint8)  # (H, W, 3)
    height, width = crop.shape[:2]
    heat = target_map(sample, (width, height))  # (H, W)
    if zoom > 1:
        crop = cv2.resize(crop, (width * zoom, height * zoom), interpolation=cv2.INTER_LINEAR)
        heat = cv2.resize(heat, (width * zoom, height * zoom), interpolation=cv2.INTER_LINEAR)
    colour = cv2.cvtColor(
        cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB
    )
    alpha = (0.7 * np.sqrt(heat))[..., None]
    blended = (crop * (1 - alpha) + colour * alpha).astype(np.uint8)
    keypoints = (sample["keypoints"].numpy() + 0.5) * zoom - 0.5  # (K, 2)
    tile = draw_skeleton(
        blended,
        keypoints,
        (sample["keypoint_weights"] > 0).float().numpy(),
        spec.skeleton,
        names=spec.names,
        score_threshold=0.5,
    )
    if label is None:
        return tile
    strip = np.zeros((LABEL_HEIGHT, tile.shape[1], 3), dtype=np.uint8)
    font_scale = 0.5  # shrunk until the caption fits the tile's width
    while font_scale > 0.25 and cv2.getTextSize(
        label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1
    )[0][0] > tile.shape[1] - 8:
        font_scale -= 0.05
    cv2.putText(strip, label, (4, LABEL_HEIGHT - 7), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([strip, tile], axis=0)
