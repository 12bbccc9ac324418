"""Typed checks of the numbers a composed config must hold, before anything is built.

Hydra parses ``data.batch_size=abc`` as the string ``'abc'``; without a check it surfaces as a
bare ``TypeError`` or ``AssertionError`` deep in a DataLoader, the Trainer or the optimizer.
:func:`check_config_types` names the key, the value and an example of a valid one.
"""

from __future__ import annotations

import math
from typing import Any

from omegaconf import DictConfig, OmegaConf

# key -> (kind, smallest value allowed); absent or null keys are not checked
INTEGERS: dict[str, int] = {
    "data.batch_size": 1,
    "data.val_batch_size": 1,
    "data.num_workers": 0,
    "data.epoch_length": 1,
    "trainer.max_epochs": -1,
    "trainer.min_epochs": 0,
    "trainer.max_steps": -1,
    "trainer.num_nodes": 1,
    "trainer.log_every_n_steps": 1,
    "trainer.accumulate_grad_batches": 1,
    "trainer.check_val_every_n_epoch": 1,
    "seed": 0,
}
NUMBERS: dict[str, float] = {
    "model.optimizer.lr": 0.0,
    "model.optimizer.weight_decay": 0.0,
    "trainer.gradient_clip_val": 0.0,
    "trainer.limit_train_batches": 0.0,
    "trainer.limit_val_batches": 0.0,
    "data.bbox_padding": 0.0,
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def check_config_types(cfg: DictConfig) -> None:
    """Refuse a config whose known numeric keys hold text, booleans, non-finite numbers or
    values below their minimum, naming the key.

    Raises:
        ValueError: ``data.batch_size='abc' must be an integer >= 1 (e.g. data.batch_size=32)``.
    """
    checks = ((INTEGERS, _is_int, "an integer"), (NUMBERS, _is_number, "a number"))
    for keys, valid, kind in checks:
        for key, least in keys.items():
            value = OmegaConf.select(cfg, key, default=None, throw_on_missing=False)
            if value is None or OmegaConf.is_config(value):
                continue
            if not valid(value) or value < least:
                example = f"{key}={max(least, 1) if kind == 'an integer' else '0.001'}"
                raise ValueError(
                    f"{key}={value!r} must be {kind} >= {least:g} (e.g. {example}); fix the "
                    "override or the config that sets it"
                )
