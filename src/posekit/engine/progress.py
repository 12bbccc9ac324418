"""A progress bar that costs nothing on the steps it does not redraw."""

from __future__ import annotations

import math
import time
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar


class ThrottledRichProgressBar(RichProgressBar):
    """Lightning's rich progress bar, updated at most ``updates_per_second`` times a second
    while training (and always at an epoch's last batch).

    Lightning's bar reads every progress-bar metric (a ``.item()`` each, a host-device sync on
    a GPU) and updates its task after every training batch, whatever its ``refresh_rate``; at
    tens of steps a second that is work nobody can see. This bar shows the same figures.
    """

    def __init__(self, updates_per_second: float = 4.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not updates_per_second > 0:
            raise ValueError(f"updates_per_second must be > 0, got {updates_per_second}")
        self.min_interval = 1.0 / updates_per_second
        self._updated_at = -math.inf

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_start(trainer, pl_module)
        self._updated_at = -math.inf

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        now = time.monotonic()
        last = batch_idx + 1 >= trainer.num_training_batches
        if self.is_disabled or (now - self._updated_at < self.min_interval and not last):
            return
        self._updated_at = now
        if self.train_progress_bar_id is None:  # a run resumed mid-epoch
            self._initialize_train_progress_bar_id()
        if self.progress is not None:
            self.progress.update(self.train_progress_bar_id, completed=batch_idx + 1)
        self._update_metrics(trainer, pl_module)
        self.refresh()
