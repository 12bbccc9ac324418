"""Switch the training augmentation at a given epoch (RTMPose's milder last stage).

mmpose's RTMPose configs run ``PipelineSwitchHook`` at ``max_epochs - 30``: the last 30 epochs
use milder box jitter and less dropout. :class:`AugmentationSwitch` does this for any posekit
data module.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import lightning as L

log = logging.getLogger(__name__)

# the data module's training augmentation settings this callback may replace
SWITCHABLE = ("augmentation", "photometric")


class AugmentationSwitch(L.Callback):
    """From epoch ``epoch`` (0-based) on, train with other augmentation settings.

    ``settings`` maps data module attributes (``augmentation``: a
    :class:`~posekit.data.augment.GeometricAugmentation`; ``photometric``: a pixel transform or
    None) to their new values. They are set on the data module and on its training set, and
    the training loader is rebuilt before that epoch, so that loader workers, persistent ones
    included, see the change (they hold copies of the data set made when they started). A run
    resumed after ``epoch`` switches before its first epoch.

    Args:
        epoch: the first epoch trained with ``settings`` (RTMPose: ``max_epochs - 30``).
        settings: attribute name -> new value, names among ``augmentation`` and ``photometric``.
    """

    def __init__(self, epoch: int, settings: Mapping[str, Any]) -> None:
        if epoch < 0:
            raise ValueError(f"callbacks.augmentation_switch.epoch must be >= 0, got {epoch}")
        unknown = sorted(set(settings) - set(SWITCHABLE))
        if unknown or not settings:
            raise ValueError(
                f"callbacks.augmentation_switch.settings may set {list(SWITCHABLE)}, got "
                f"{sorted(settings)}"
            )
        self.epoch = epoch
        self.settings = dict(settings)
        self.switched = False

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch >= self.epoch:  # resumed past the switch
            self._switch(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch + 1 >= self.epoch:  # the next epoch trains with the settings
            self._switch(trainer)

    def _switch(self, trainer: L.Trainer) -> None:
        if self.switched:
            return
        datamodule = trainer.datamodule
        for name, value in self.settings.items():
            if not hasattr(datamodule, name):
                raise AttributeError(
                    f"callbacks.augmentation_switch.settings.{name}: the data module "
                    f"{type(datamodule).__name__} has no attribute '{name}'"
                )
            setattr(datamodule, name, value)
            train_set = getattr(datamodule, "train_set", None)
            if train_set is not None:
                setattr(train_set, name, value)
        # The fit loop builds its training loader (and starts persistent workers) once and
        # keeps it; dropping it makes the loop request a new loader before the next epoch.
        fit_loop = trainer.fit_loop
        if fit_loop._data_fetcher is not None:
            fit_loop._data_fetcher.teardown()  # stops the old loader's workers
        fit_loop._combined_loader = None
        self.switched = True
        log.info("augmentation switched at epoch %d: %s", self.epoch, sorted(self.settings))
