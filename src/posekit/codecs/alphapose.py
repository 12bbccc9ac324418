"""AlphaPose's integral-regression targets: keypoints as fractions of the input, centred on 0.

As AlphaPose's ``SimpleTransform._integral_target_generator``: ``u = x / W - 0.5`` and
``v = y / H - 0.5`` for a keypoint at input pixel (x, y); decoding is ``x = (u + 0.5) W``
(AlphaPose maps ``(u + 0.5) w`` heatmap cells to pixels at ``W / w`` pixels a cell).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from posekit.codecs.base import Codec, as_size, check_keypoints, flip_index_tensor

COORDS = "coords"  # (N, K, 2) normalised coordinates, the target
CONFIDENCE = "confidence"  # (N, K) the head's keypoint scores, not a target
# the flip test's mirror of the coordinates: "exact" (posekit: u = -u' - 1/W) or "alphapose"
# (AlphaPose's flip_heatmap(shift=True) before the integral: the reversed maps moved one
# column right, which mirrors the expected coordinate as u = -u')
FLIP_RULES = ("exact", "alphapose")


class AlphaPoseIntegralCodec(Codec):
    """Targets ``coords`` (K, 2) = (x / W - 0.5, y / H - 0.5); weight 0 for keypoints that
    are unlabelled or (unless ``weight_outside``) outside the crop (their targets are 0).
    ``weight_outside=True`` is AlphaPose's ``_integral_target_generator``: a labelled keypoint
    outside the crop keeps weight 1 and its target beyond +-0.5.

    Decoding reads ``coords`` and the head's ``confidence`` (AlphaPose: the peak of the
    sigmoid heatmap). The flip is exact (``flip_rule="exact"``): mirrored pixel ``W - 1 - x``
    has ``u' = -u - 1 / W``, so ``u = -u' - 1 / W``. AlphaPose's own code (``"alphapose"``)
    reverses the maps and moves them one column right (``flip_heatmap(..., shift=True)``)
    before the integral, which gives ``u = -u'`` (up to the mass in the first and last
    columns, which that shift repeats and drops): 1 input pixel right of the exact mirror.
    """

    output_keys = (COORDS,)
    repr_fields = ("input_size", "flip_rule")

    def __init__(
        self, input_size: Sequence[int], flip_rule: str = "exact", weight_outside: bool = False
    ) -> None:
        self.input_size = as_size("input_size", input_size)
        if flip_rule not in FLIP_RULES:
            raise ValueError(f"flip_rule must be one of {FLIP_RULES}, got {flip_rule!r}")
        self.flip_rule = flip_rule
        self.weight_outside = bool(weight_outside)

    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        keypoints, labelled = check_keypoints(keypoints, visible)  # (K, 2), (K,)
        size = np.array(self.input_size, dtype=np.float64)
        inside = ((keypoints >= 0) & (keypoints < size)).all(axis=1) | self.weight_outside
        weights = (labelled & inside).astype(np.float32)
        coords = np.where(weights[:, None] > 0, keypoints / size - 0.5, 0.0)
        return {COORDS: coords.astype(np.float32), "keypoint_weights": weights}

    def decode(self, outputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        if CONFIDENCE not in outputs:
            raise KeyError(
                f"AlphaPoseIntegralCodec decodes scores from the head's '{CONFIDENCE}' output; "
                f"the head gives {sorted(outputs)}: use the FastPose integral head"
            )
        coords = outputs[COORDS]  # (N, K, 2)
        size = coords.new_tensor(self.input_size)
        return (coords + 0.5) * size, outputs[CONFIDENCE]

    def flip_outputs(
        self, outputs: dict[str, torch.Tensor], flip_index: Sequence[int]
    ) -> dict[str, torch.Tensor]:
        coords = outputs[COORDS]
        index = flip_index_tensor(flip_index, coords.shape[1], coords.device)
        flipped = coords[:, index].clone()
        offset = 1.0 / self.input_size[0] if self.flip_rule == "exact" else 0.0
        flipped[..., 0] = -flipped[..., 0] - offset
        result = {COORDS: flipped}
        if CONFIDENCE in outputs:
            result[CONFIDENCE] = outputs[CONFIDENCE][:, index]
        return result

