"""Data loader workers that leave SIGTERM to the training process.

SLURM (a time limit, a preemption) sends SIGTERM to every process of the job, the data loader
workers included. A worker killed by it makes the main process fail with "DataLoader worker
... is killed by signal: Terminated" before Lightning's SIGTERM handling can write the step's
checkpoint. :func:`worker_init` makes the workers ignore SIGTERM: the main process stops as it
does alone (``last.ckpt`` at that step, exit 143, the resume command) and ends its workers
itself (they also exit when their parent is gone; SLURM's SIGKILL follows in any case).
"""

from __future__ import annotations

import os
import signal

from lightning.fabric.utilities.seed import pl_worker_init_function


def worker_init(worker_id: int) -> None:
    """A DataLoader's ``worker_init_fn``: ignore SIGTERM, then seed the worker as Lightning does
    after ``seed_everything(..., workers=True)`` (Lightning adds its own only where a loader has
    none, so this one does it)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if int(os.environ.get("PL_SEED_WORKERS", "0")):
        pl_worker_init_function(worker_id)
