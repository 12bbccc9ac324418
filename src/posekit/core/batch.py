"""The batch contract: what a top-down sample holds, read by data, models and metrics alike.

A sample (one person) is a flat dict of tensors; the data loader stacks samples into a batch,
adding the leading dimension ``N``. The codec's targets sit beside these keys under the names
of the head outputs they train (``heatmaps``, ``simcc_x``, ...; see ``posekit.codecs``);
auxiliary heads' targets are prefixed with the head's name (``aux/<name>/heatmaps``).
"""

from __future__ import annotations

from typing import TypedDict

from torch import Tensor

# The entries metrics read beside the predictions (see posekit.metrics.base.KeypointMetric).
META_KEYS: tuple[str, ...] = (
    "sample_idx", "gt_keypoints", "bbox", "bbox_score", "image_id", "area", "scale"
)
# The entries the model reads to map crop predictions back to the image.
CROP_KEYS: tuple[str, ...] = ("center", "scale")


class Meta(TypedDict, total=False):
    """What metrics need to score predictions; shapes for a batch of ``N`` people, ``K`` keypoints."""

    # (N,) int64: the record's index in its data set, unique per person (a mixture numbers
    # the people of all its validation sets in one range, see posekit.data.mixed)
    sample_idx: Tensor
    gt_keypoints: Tensor  # (N, K, 3) float32: truth x, y in image pixels and visibility
    bbox: Tensor  # (N, 4) float32: the person box x, y, w, h in image pixels
    bbox_score: Tensor  # (N,) float32: detector score (1 for ground-truth boxes)
    image_id: Tensor  # (N,) int64
    area: Tensor  # (N,) float32: annotated area, 0 where unknown
    scale: Tensor  # (N, 2) float32: (w, h) in image pixels that the crop covers


class Batch(Meta, total=False):
    """A collated batch of top-down samples (``TopDownDataset`` items stacked by the loader)."""

    image: Tensor  # (N, 3, H, W) uint8 RGB crop of the network input size (normalised on device)
    keypoints: Tensor  # (N, K, 2) float32: truth in crop pixels
    keypoint_visible: Tensor  # (N, K) float32: 1 where labelled
    keypoint_weights: Tensor  # (N, K) float32: loss weight, 0 when unlabelled or outside
    center: Tensor  # (N, 2) float32: crop centre in image pixels


def meta_of(batch: Batch) -> Meta:
    """The metric meta of a batch (the :data:`META_KEYS` entries)."""
    return {key: batch[key] for key in META_KEYS}  # type: ignore[return-value]
