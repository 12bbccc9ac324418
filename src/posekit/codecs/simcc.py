"""SimCC / SimDR codec: each coordinate is a classification over sub-pixel bins."""

from __future__ import annotations

import math
from numbers import Real
from typing import Sequence

import numpy as np
import torch

from posekit.codecs.base import (
    Codec,
    as_positive,
    as_size,
    check_keypoints,
    flip_index_tensor,
)

_LABEL_TYPES = ("gaussian", "onehot")
# keypoint score from the two axes' peaks: softmax maxima combined by mean, min (official
# SimDR*, sa-simdr), max (official SimDR); "raw": the smaller of the raw output maxima, without
# softmax (mmpose's get_simcc_maximum, RTMPose); "relative": the smaller of the softmax maxima
# each divided by the peak of the codec's own label distribution (1 for a perfect prediction,
# as a heatmap peak: posekit's rule, on the scale of COCO's 0.2 rescoring threshold)
SCORE_RULES = ("mean", "min", "max", "raw", "relative")
# the flip test's correction of the reversed x bins: "exact" (posekit: Wx - 1 - (W - 1) k bins),
# "none" (mmpose's flip_vectors, RTMPose), "one_bin" (the official SimCC code's SHIFT_HEATMAP)
FLIP_SHIFTS = ("exact", "none", "one_bin")
# keypoints whose score is <= 0: kept at their argmax ("keep") or set to bin -1, crop
# coordinate -1/k ("minus_one": mmpose's get_simcc_maximum, then its division by k)
NONPOSITIVE_KEYPOINTS = ("keep", "minus_one")
# what the flip test averages: the raw outputs (official SimDR*) or their softmax (SimDR)
FLIP_AVERAGES = ("logits", "probabilities")
# where the Gaussian is centred and which keypoints keep their weight: "exact" (the float x k;
# weight 0 outside the bins) or "mmpose" (SimCCLabel: the rounded bin; weight 1 while the
# 3-sigma window [mu - 3 sigma, mu + 3 sigma + 1] overlaps the bins)
LABEL_RULES = ("exact", "mmpose")


class SimCCCodec(Codec):
    """SimCC: x is classified over ``Wx = int(W * k)`` bins and y over ``Hy = int(H * k)`` bins.

    ``k = split_ratio``; bin j stands for input coordinate ``j / k``.

    Labels:
      * ``"gaussian"`` (SimDR*): ``exp(-(j - x k)^2 / (2 sigma^2))`` over the bins j, centred at the
        float ``x k``, sigma in bins; with ``normalize`` divided by ``sigma sqrt(2 pi)`` (the
        official SimCC convention: sums to about 1, and stays finite, unlike a division by the sum).
      * ``"onehot"`` (SimDR): ``1 - eps`` at bin ``round(x k)`` and ``eps / (bins - 1)`` elsewhere,
        ``eps = label_smoothing``.

    Keypoints that are unlabelled or with ``x k`` outside [0, Wx) or ``y k`` outside [0, Hy) get
    weight 0 and all-zero labels.

    Decoding: coordinate = argmax bin / k; the score follows ``score_rule`` from the two axes'
    peaks: ``"mean"``, ``"min"`` (official SimDR*) or ``"max"`` (official SimDR) of the maxima of
    the softmax of the outputs (taken as logits), or ``"raw"``: the smaller of the maxima of the
    outputs themselves (mmpose, RTMPose). The flip test averages the raw outputs
    (``flip_average_of="logits"``, official SimDR*) or their softmax (``"probabilities"``,
    official SimDR; returned as log-probabilities so that decoding's softmax gives back the
    averaged probabilities).

    Args:
        input_size: (W, H) of the network input in pixels.
        split_ratio: bins per input pixel, k > 0.
        sigma: Gaussian sigma in bins, one value or (sigma_x, sigma_y).
        label_type: "gaussian" or "onehot".
        label_smoothing: eps in [0, 1) of the one-hot labels.
        normalize: divide the Gaussian labels by ``sigma sqrt(2 pi)``.
        score_rule: one of ``SCORE_RULES``: "relative" (default), "mean", "min", "max", "raw".
        flip_average_of: one of ``FLIP_AVERAGES``: "logits" or "probabilities".
        flip_shift: one of ``FLIP_SHIFTS``: how the reversed x bins are corrected (see
            :meth:`flip_outputs`): "exact", "none" (mmpose) or "one_bin" (official SimCC).
        nonpositive_keypoints: one of ``NONPOSITIVE_KEYPOINTS``: "keep" or "minus_one".
        label_rule: one of ``LABEL_RULES`` (Gaussian labels): "exact" or "mmpose".
    """

    output_keys = ("simcc_x", "simcc_y")
    repr_fields = (
        "input_size", "split_ratio", "sigma", "label_type", "label_smoothing", "normalize",
        "score_rule", "flip_average_of", "flip_shift_rule", "nonpositive_keypoints", "label_rule",
    )  # fmt: skip

    def __init__(
        self,
        input_size: Sequence[int],
        split_ratio: float = 2.0,
        sigma: float | tuple[float, float] = 6.0,
        label_type: str = "gaussian",
        label_smoothing: float = 0.0,
        normalize: bool = True,
        score_rule: str = "relative",
        flip_average_of: str = "logits",
        flip_shift: str = "exact",
        nonpositive_keypoints: str = "keep",
        label_rule: str = "exact",
    ) -> None:
        self.input_size = as_size("input_size", input_size)
        self.split_ratio = as_positive("split_ratio", split_ratio)
        try:
            sigmas = (sigma, sigma) if isinstance(sigma, Real) else tuple(sigma)
        except TypeError:
            raise ValueError(
                f"sigma must be one number or (sigma_x, sigma_y), got {sigma!r}"
            ) from None
        if len(sigmas) != 2:
            raise ValueError(f"sigma must be one number or (sigma_x, sigma_y), got {sigma!r}")
        self.sigma = (as_positive("sigma", sigmas[0]), as_positive("sigma", sigmas[1]))
        if label_type not in _LABEL_TYPES:
            raise ValueError(f"label_type must be one of {_LABEL_TYPES}, got {label_type!r}")
        self.label_type = label_type
        if (
            isinstance(label_smoothing, bool)
            or not isinstance(label_smoothing, Real)
            or not 0.0 <= label_smoothing < 1.0
        ):
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)
        self.normalize = bool(normalize)
        if score_rule not in SCORE_RULES:
            raise ValueError(f"score_rule must be one of {SCORE_RULES}, got {score_rule!r}")
        self.score_rule = score_rule
        if flip_average_of not in FLIP_AVERAGES:
            raise ValueError(
                f"flip_average_of must be one of {FLIP_AVERAGES}, got {flip_average_of!r}"
            )
        self.flip_average_of = flip_average_of
        for name, value, allowed in (
            ("flip_shift", flip_shift, FLIP_SHIFTS),
            ("nonpositive_keypoints", nonpositive_keypoints, NONPOSITIVE_KEYPOINTS),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        self.flip_shift_rule = flip_shift
        self.nonpositive_keypoints = nonpositive_keypoints
        if label_rule not in LABEL_RULES or (label_rule == "mmpose" and label_type != "gaussian"):
            raise ValueError(
                f"label_rule must be one of {LABEL_RULES} ('mmpose' with Gaussian labels only), "
                f"got {label_rule!r} with label_type {label_type!r}"
            )
        self.label_rule = label_rule
        # (Wx, Hy): number of bins of each axis
        self.simcc_size = (
            int(self.input_size[0] * self.split_ratio),
            int(self.input_size[1] * self.split_ratio),
        )
        if min(self.simcc_size) < 2:
            raise ValueError(
                f"split_ratio {split_ratio} gives {self.simcc_size} bins for input_size "
                f"{self.input_size}; each axis needs at least 2"
            )
        # bins by which the reversed x vector of the flipped crop lies too far right
        # (see flip_outputs); rounded to drop floating-point noise
        exact_shift = self.simcc_size[0] - 1 - (self.input_size[0] - 1) * self.split_ratio
        shifts = {"exact": round(exact_shift, 9), "none": 0.0, "one_bin": 1.0}
        self.flip_shift = shifts[flip_shift]
        # (x, y): the peak of each axis' label distribution (labels / their sum) for a keypoint
        # at a bin centre, what the softmax of a perfect prediction peaks at ("relative" rule)
        self.label_peak = (
            self._label_peak(self.simcc_size[0], self.sigma[0]),
            self._label_peak(self.simcc_size[1], self.sigma[1]),
        )

    def _label_peak(self, bins: int, sigma: float) -> float:
        """The largest value of one axis' labels divided by their sum (mid-axis keypoint)."""
        if self.label_type == "onehot":
            return 1.0 - self.label_smoothing
        labels = self._labels(np.array([bins / 2.0]), bins, sigma)[0].astype(np.float64)
        return float(labels.max() / labels.sum())


    # ------------------------------------------------------------------ encode (numpy)
    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        keypoints, labelled = check_keypoints(keypoints, visible)  # (K, 2), (K,)
        centre = keypoints * self.split_ratio  # (K, 2) in bins
        bins = np.asarray(self.simcc_size)
        if self.label_rule == "mmpose":  # rounded centre, the 3-sigma window overlaps the bins
            centre = np.round(centre)
            radius = 3 * np.asarray(self.sigma)
            inside = ((centre - radius < bins) & (centre + radius + 1 >= 0)).all(axis=1)  # (K,)
        else:
            inside = ((centre >= 0) & (centre < bins)).all(axis=1)  # (K,)
        weights = (labelled & inside).astype(np.float32)  # (K,)
        simcc_x = self._labels(centre[:, 0], self.simcc_size[0], self.sigma[0])  # (K, Wx)
        simcc_y = self._labels(centre[:, 1], self.simcc_size[1], self.sigma[1])  # (K, Hy)
        return {
            "simcc_x": simcc_x * weights[:, None],
            "simcc_y": simcc_y * weights[:, None],
            "keypoint_weights": weights,
        }

    def _labels(self, centre: np.ndarray, bins: int, sigma: float) -> np.ndarray:
        """Labels (K, bins) along one axis for centres (K,) in bins."""
        if self.label_type == "gaussian":
            grid = np.arange(bins, dtype=np.float32)  # (bins,)
            offset = grid[None, :] - centre[:, None].astype(np.float32)  # (K, bins)
            labels = np.exp(-0.5 * np.square(offset / np.float32(sigma)))  # (K, bins)
            if self.normalize:
                labels /= np.float32(sigma * math.sqrt(2 * math.pi))
            return labels
        eps = self.label_smoothing
        index = np.clip(np.floor(centre + 0.5), 0, bins - 1).astype(np.int64)  # (K,)
        labels = np.full((centre.shape[0], bins), eps / (bins - 1), dtype=np.float32)  # (K, bins)
        labels[np.arange(centre.shape[0]), index] = 1.0 - eps
        return labels

    def encode_batch(
        self, keypoints: torch.Tensor, visible: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """:meth:`encode` for a batch on any device: keypoints (N, K, 2) crop pixels, visible
        (N, K) -> simcc_x (N, K, Wx), simcc_y (N, K, Hy), keypoint_weights (N, K), float32."""
        keypoints = keypoints.to(torch.float32)
        finite = torch.isfinite(keypoints).all(dim=-1)  # (N, K)
        centre = torch.where(finite[..., None], keypoints, 0.0) * self.split_ratio  # (N, K, 2)
        bins = centre.new_tensor(self.simcc_size)
        if self.label_rule == "mmpose":  # as encode
            centre = torch.round(centre)
            radius = 3 * centre.new_tensor(self.sigma)
            inside = ((centre - radius < bins) & (centre + radius + 1 >= 0)).all(dim=-1)  # (N, K)
        else:
            inside = ((centre >= 0) & (centre < bins)).all(dim=-1)  # (N, K)
        weights = ((visible > 0) & finite & inside).to(torch.float32)  # (N, K)
        simcc_x = self._labels_torch(centre[..., 0], self.simcc_size[0], self.sigma[0])
        simcc_y = self._labels_torch(centre[..., 1], self.simcc_size[1], self.sigma[1])
        return {
            "simcc_x": simcc_x * weights[..., None],
            "simcc_y": simcc_y * weights[..., None],
            "keypoint_weights": weights,
        }

    def _labels_torch(self, centre: torch.Tensor, bins: int, sigma: float) -> torch.Tensor:
        """Labels (N, K, bins) along one axis for centres (N, K) in bins."""
        if self.label_type == "gaussian":
            grid = torch.arange(bins, device=centre.device, dtype=torch.float32)  # (bins,)
            labels = torch.exp(-0.5 * torch.square((grid - centre[..., None]) / sigma))
            return labels / (sigma * math.sqrt(2 * math.pi)) if self.normalize else labels
        eps = self.label_smoothing
        index = torch.floor(centre + 0.5).clamp(0, bins - 1).long()  # (N, K)
        labels = centre.new_full((*centre.shape, bins), eps / (bins - 1))  # (N, K, bins)
        return labels.scatter_(-1, index[..., None], 1.0 - eps)

    # ------------------------------------------------------------------ decode (torch)
    def decode(self, outputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        simcc_x = outputs["simcc_x"].float()  # (N, K, Wx)
        simcc_y = outputs["simcc_y"].float()  # (N, K, Hy)
        if simcc_x.ndim != 3 or simcc_y.ndim != 3:
            raise ValueError(
                f"simcc_x and simcc_y must be (N, K, bins), got {tuple(simcc_x.shape)} "
                f"and {tuple(simcc_y.shape)}"
            )
        if self.score_rule == "raw":
            peak_x, index_x = simcc_x.max(dim=-1)  # (N, K)
            peak_y, index_y = simcc_y.max(dim=-1)  # (N, K)
        else:
            peak_x, index_x = simcc_x.softmax(dim=-1).max(dim=-1)  # (N, K)
            peak_y, index_y = simcc_y.softmax(dim=-1).max(dim=-1)  # (N, K)
        if self.score_rule == "relative":
            peak_x, peak_y = peak_x / self.label_peak[0], peak_y / self.label_peak[1]
        keypoints = torch.stack([index_x, index_y], dim=-1).float() / self.split_ratio  # (N, K, 2)
        if self.score_rule == "mean":
            scores = 0.5 * (peak_x + peak_y)
        elif self.score_rule == "max":
            scores = torch.maximum(peak_x, peak_y)
        else:  # "min", "raw" and "relative"
            scores = torch.minimum(peak_x, peak_y)
        if self.nonpositive_keypoints == "minus_one":
            # mmpose sets the bin to -1, then divides by k
            invalid = (scores <= 0).unsqueeze(-1)  # (N, K, 1)
            keypoints = torch.where(invalid, -1.0 / self.split_ratio, keypoints)
        return keypoints, scores  # (N, K, 2), (N, K)

    def flip_average(
        self,
        outputs: dict[str, torch.Tensor],
        flipped_crop_outputs: dict[str, torch.Tensor],
        flip_index: Sequence[int],
    ) -> dict[str, torch.Tensor]:
        """The flip test: the mean of the raw outputs (``flip_average_of="logits"``) or of their
        softmax over the bins (``"probabilities"``, returned as their log, (N, K, bins))."""
        if self.flip_average_of == "logits":
            return super().flip_average(outputs, flipped_crop_outputs, flip_index)
        flipped = self.flip_outputs(flipped_crop_outputs, flip_index)
        return {
            key: (0.5 * (outputs[key].softmax(dim=-1) + flipped[key].softmax(dim=-1))).log()
            for key in self.output_keys
        }

    # ------------------------------------------------------------------ flip test (torch)
    def flip_outputs(
        self, outputs: dict[str, torch.Tensor], flip_index: Sequence[int]
    ) -> dict[str, torch.Tensor]:
        """Reverse the x bins of the flipped crop, swap left/right channels, correct the offset.

        Bin u = x k. The pixel flip x -> W-1-x is u -> W k - k - u, while reversing the Wx bins is
        u -> Wx-1-u, so the reversed x vector lies ``Wx - 1 - (W-1) k`` bins (k - 1 when W k is an
        integer) too far right; it is shifted left by that much: ``out[..., j] = rev[..., j + s]``.
        A fractional s interpolates linearly between the two neighbouring integer shifts; the bins
        vacated at the border repeat the edge value. y only has its channels swapped.

        The official SimCC code always shifts one bin, which is right only at k = 2
        (``flip_shift="one_bin"``); mmpose does not shift (``flip_shift="none"``), which leaves
        the flipped half k - 1 bins too far right.
        """
        simcc_x, simcc_y = outputs["simcc_x"], outputs["simcc_y"]  # (N, K, Wx), (N, K, Hy)
        index = flip_index_tensor(flip_index, simcc_x.shape[1], simcc_x.device)
        reversed_x = simcc_x.flip(-1).index_select(1, index)
        return {
            "simcc_x": _shift_left(reversed_x, self.flip_shift),
            "simcc_y": simcc_y.index_select(1, index),
        }


def _shift_left(vectors: torch.Tensor, shift: float) -> torch.Tensor:
    """``out[..., j] = vectors[..., j + shift]`` with linear interpolation and edge repeat."""
    bins = vectors.shape[-1]
    whole = math.floor(shift)
    fraction = shift - whole
    source = torch.arange(bins, device=vectors.device) + whole  # (bins,)
    shifted = vectors.index_select(-1, source.clamp(0, bins - 1))
    if fraction == 0:
        return shifted
    following = vectors.index_select(-1, (source + 1).clamp(0, bins - 1))
    return (1 - fraction) * shifted + fraction * following
