"""The training sampler of a mixture: each epoch draws from the sources in given proportions."""

from __future__ import annotations

import math
from typing import Iterator, Sequence

import numpy as np
from torch.utils.data import DistributedSampler


def apportion(total: int, ratios: Sequence[float]) -> np.ndarray:
    """``total`` split by ``ratios`` (largest remainders): (S,) int64 summing to ``total``."""
    weights = np.asarray(ratios, dtype=np.float64)
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    rest = total - int(counts.sum())
    counts[np.argsort(-(exact - counts), kind="stable")[:rest]] += 1
    return counts


class MixtureSampler(DistributedSampler):
    """Indices into the concatenation of the sources' training sets, drawn per epoch.

    Each epoch draws ``length`` people. ``replacement=False``: source ``s`` gets exactly its
    share of the epoch (``length * ratio_s / sum(ratios)``, largest remainders) and its people
    are drawn without replacement (a new shuffled pass when the share exceeds the source);
    ``replacement=True``: each draw picks a source with probability ``ratio_s / sum(ratios)``
    and one of its people uniformly. The draws are then shuffled together.

    The draw depends only on ``seed`` and the epoch (``set_epoch``, which Lightning calls), so
    every process of a distributed run draws the same epoch and takes every
    ``num_replicas``-th index from ``rank`` (the last round padded with the first draws, as
    ``DistributedSampler`` does). Being a ``DistributedSampler``, Lightning uses it as it is.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        ratios: Sequence[float],
        length: int,
        replacement: bool = False,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        if len(sizes) != len(ratios) or not sizes:
            raise ValueError(f"need one ratio per source, got sizes {sizes} and ratios {ratios}")
        if any(r < 0 for r in ratios) or sum(ratios) <= 0:
            raise ValueError(f"ratios must be >= 0 and not all 0, got {list(ratios)}")
        if any(size == 0 and ratio > 0 for size, ratio in zip(sizes, ratios)):
            raise ValueError(f"a source with a ratio > 0 has no people (sizes {list(sizes)})")
        if length <= 0:
            raise ValueError(f"the epoch length must be > 0, got {length}")
        super().__init__(range(length), num_replicas=num_replicas, rank=rank, seed=seed)
        self.sizes = [int(s) for s in sizes]
        self.ratios = [float(r) for r in ratios]
        self.length = int(length)
        self.replacement = replacement
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)

    def draw(self, epoch: int) -> np.ndarray:
        """The epoch's ``length`` indices into the concatenated sources, (length,) int64."""
        rng = np.random.default_rng([self.seed, epoch])
        probabilities = np.asarray(self.ratios) / sum(self.ratios)
        if self.replacement:
            source = rng.choice(len(self.sizes), size=self.length, p=probabilities)
            counts = np.bincount(source, minlength=len(self.sizes))
        else:
            counts = apportion(self.length, self.ratios)
        parts = []
        for s, (size, count) in enumerate(zip(self.sizes, counts)):
            if count == 0:
                continue
            if self.replacement:
                local = rng.integers(0, size, count)
            else:
                passes = math.ceil(count / size)
                local = np.concatenate([rng.permutation(size) for _ in range(passes)])[:count]
            parts.append(self.offsets[s] + local)
        indices = np.concatenate(parts)
        return indices[rng.permutation(len(indices))]

    def __iter__(self) -> Iterator[int]:
        indices = self.draw(self.epoch)
        padding = self.total_size - len(indices)
        if padding > 0:
            indices = np.concatenate([indices, np.resize(indices, padding)])
        return iter(indices[self.rank : self.total_size : self.num_replicas].tolist())
