"""The mixture's epoch: drawn in the given proportions, each process its share."""

from __future__ import annotations

import numpy as np
import pytest
from torch.utils.data import DistributedSampler

from posekit.data.mixture_sampler import MixtureSampler, apportion

SIZES = [50, 300, 20]  # people per source; offsets 0, 50, 350
RATIOS = [2.0, 1.0, 1.0]


def source_of(indices: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.cumsum(SIZES), indices, side="right")


def test_apportion_by_largest_remainders():
    # 10 * (2, 1, 1) / 4 = (5, 2.5, 2.5): the tie goes to the first source
    assert apportion(10, [2, 1, 1]).tolist() == [5, 3, 2]
    assert apportion(7, [1, 1, 1]).tolist() == [3, 2, 2]
    assert apportion(5, [0, 1, 0]).tolist() == [0, 5, 0]


@pytest.mark.parametrize("replacement", [False, True])
def test_drawn_proportions_match_the_ratios(replacement):
    sampler = MixtureSampler(SIZES, RATIOS, length=400, replacement=replacement, seed=3)
    counts = np.zeros(3)
    for epoch in range(50):  # 20 000 draws
        sampler.set_epoch(epoch)
        indices = np.fromiter(iter(sampler), dtype=np.int64)
        assert len(indices) == len(sampler) == 400
        counts += np.bincount(source_of(indices), minlength=3)
    shares = counts / counts.sum()
    assert shares == pytest.approx([0.5, 0.25, 0.25], abs=0.01)
    if not replacement:  # exact shares every epoch
        assert counts.tolist() == [200 * 50, 100 * 50, 100 * 50]


def test_without_replacement_each_person_once_per_pass():
    sampler = MixtureSampler(SIZES, RATIOS, length=400, replacement=False)
    indices = np.fromiter(iter(sampler), dtype=np.int64)
    source = source_of(indices)
    first = indices[source == 0]  # 200 draws from 50 people: four full passes
    assert np.bincount(first, minlength=50).tolist() == [4] * 50
    second = indices[source == 1]  # 100 of 300 people, none twice
    assert len(np.unique(second)) == 100 and second.min() >= 50 and second.max() < 350
    # the sources are interleaved, not concatenated in order
    assert (np.diff(source) != 0).sum() > 100


def test_epochs_differ_and_a_seed_repeats_its_draws():
    a, b = MixtureSampler(SIZES, RATIOS, 100, seed=1), MixtureSampler(SIZES, RATIOS, 100, seed=1)
    assert list(a) == list(b)
    b.set_epoch(1)
    assert list(a) != list(b)


def test_processes_split_the_same_epoch_between_them():
    single = MixtureSampler(SIZES, RATIOS, length=101, seed=5)
    ranks = [MixtureSampler(SIZES, RATIOS, length=101, seed=5, num_replicas=2, rank=r)
             for r in (0, 1)]
    for sampler in (single, *ranks):
        sampler.set_epoch(4)
    assert all(isinstance(s, DistributedSampler) for s in ranks)  # Lightning keeps it as it is
    drawn = list(single)
    shares = [list(s) for s in ranks]
    assert [len(s) for s in shares] == [51, 51]  # 101 people padded by one repeat
    assert shares[0] == drawn[0::2] and shares[1] == drawn[1::2] + [drawn[0]]


@pytest.mark.parametrize(
    "ratios, match", [([1, -1, 0], "ratios must be >= 0"), ([0, 0, 0], "not all 0")]
)
def test_bad_ratios_are_refused(ratios, match):
    with pytest.raises(ValueError, match=match):
        MixtureSampler(SIZES, ratios, length=10)
