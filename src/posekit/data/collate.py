"""Collating samples whose images differ in size (the device-side crop path)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch.utils.data import default_collate


def collate_sources(samples: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack samples, zero-padding each ``source_image`` (3, h, w) at the bottom and right to
    the largest h and w of the batch: (N, 3, h_max, w_max) uint8.

    The padding lies outside every source image, where the warp samples zeros anyway, so the
    crops are unchanged.
    """
    height = max(sample["source_image"].shape[1] for sample in samples)
    width = max(sample["source_image"].shape[2] for sample in samples)
    images = samples[0]["source_image"].new_zeros((len(samples), 3, height, width))
    for image, sample in zip(images, samples):
        source = sample["source_image"]
        image[:, : source.shape[1], : source.shape[2]] = source
    rest = default_collate([{k: v for k, v in s.items() if k != "source_image"} for s in samples])
    return {"source_image": images, **rest}
