"""A training order that visits each image's people one after another, so that one decode
serves them all (``data.group_by_image``).

Decoding the JPEG is most of a top-down sample's CPU time. COCO's training set has about 2.6
people with keypoints per image (CrowdPose and OCHuman more): when they are drawn together,
the data set's one-image decode cache (:class:`posekit.data.decode.LastImageReader`) decodes
the image once for all of them. The price is that a batch holds a few people of the same image
instead of people drawn independently; the order of images, and of people within an image,
is still shuffled every epoch.
"""

from __future__ import annotations

from typing import Hashable, Iterator, Sequence

import numpy as np
from torch.utils.data import DistributedSampler


class ImageGroupedSampler(DistributedSampler):
    """Indices of the people, image by image: images in a random order, and each image's people
    in a random order, one after another.

    ``image_keys``: one key per person (its image path), the index of the person being the
    index into the data set. The order depends only on ``seed`` and the epoch (``set_epoch``,
    which Lightning calls), so every process draws the same order; under DDP each process takes
    a contiguous block of it (not every ``num_replicas``-th index, which would send an image's
    people to different processes), the last block padded with the first people, as
    ``DistributedSampler`` pads. Being a ``DistributedSampler``, Lightning uses it as it is.
    """

    def __init__(
        self,
        image_keys: Sequence[Hashable],
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        if not image_keys:
            raise ValueError("ImageGroupedSampler: the data set has no people")
        super().__init__(range(len(image_keys)), num_replicas=num_replicas, rank=rank, seed=seed)
        groups: dict[Hashable, list[int]] = {}
        for index, key in enumerate(image_keys):
            groups.setdefault(key, []).append(index)
        # (G,) arrays of person indices, one per image, in first-seen order
        self.groups = [np.asarray(people, dtype=np.int64) for people in groups.values()]

    def order(self, epoch: int) -> np.ndarray:
        """Every person once, image by image: (len(image_keys),) int64."""
        rng = np.random.default_rng([self.seed, epoch])
        return np.concatenate(
            [rng.permutation(self.groups[g]) for g in rng.permutation(len(self.groups))]
        )

    def __iter__(self) -> Iterator[int]:
        indices = self.order(self.epoch)
        padding = self.total_size - len(indices)
        if padding > 0:
            indices = np.concatenate([indices, np.resize(indices, padding)])
        start = self.rank * self.num_samples
        return iter(indices[start : start + self.num_samples].tolist())
