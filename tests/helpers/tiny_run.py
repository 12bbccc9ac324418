"""Tiny training runs of the real configs for the research-workflow tests (seconds on a CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from helpers import REPO

# the stride-8 ResNet-18 at 48x64, two batches of 8 of each split, one epoch, on the CPU
TINY = [
    "model/backbone=resnet18_s8",
    "data.input_size=[48,64]",
    "data.num_workers=0",
    "data.batch_size=8",
    "data.val_batch_size=8",
    "trainer.accelerator=cpu",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=2",
    "trainer.log_every_n_steps=1",
]


def run_script(
    script: str, *overrides: str, env: dict[str, str] | None = None, timeout: int = 600
) -> subprocess.CompletedProcess:
    """``python <script> <overrides>`` in the repository; fails the test on a non-zero exit."""
    result = subprocess.run(
        [sys.executable, str(REPO / script), *overrides],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result


def read_metrics(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "metrics.json").read_text())


def float_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The numeric entries of a metrics.json (``val/boxes`` and the like are labels)."""
    return {name: value for name, value in metrics.items() if isinstance(value, float)}
