"""Data loader workers ignore SIGTERM (SLURM sends it to the whole process group) and are seeded
exactly as Lightning seeds them."""

from __future__ import annotations

import functools
import os
import signal

import torch
from lightning.fabric.utilities.seed import pl_worker_init_function
from torch.utils.data import DataLoader, Dataset

from posekit.data.workers import worker_init


class SignalledDataset(Dataset):
    """Each item sends SIGTERM to the worker that loads it (if ``kill``), then returns a random
    number."""

    def __init__(self, kill: bool) -> None:
        self.kill = kill

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> torch.Tensor:
        if self.kill:
            os.kill(os.getpid(), signal.SIGTERM)
        return torch.rand(1)


def test_a_worker_outlives_sigterm_and_is_seeded_as_lightning_seeds_it(monkeypatch):
    monkeypatch.setenv("PL_SEED_WORKERS", "1")

    def first_batches(init, kill: bool) -> torch.Tensor:
        loader = DataLoader(SignalledDataset(kill), batch_size=2, num_workers=1,
                            worker_init_fn=init, generator=torch.Generator().manual_seed(7))
        return torch.cat(list(loader))

    # without the fix: "DataLoader worker ... is killed by signal: Terminated"
    ours = first_batches(worker_init, kill=True)
    reference = first_batches(functools.partial(pl_worker_init_function, rank=0), kill=False)
    assert ours.shape == (4, 1) and torch.equal(ours, reference)
