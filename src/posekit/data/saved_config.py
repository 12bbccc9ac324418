"""A data config saved in a checkpoint, made to point at the data given now.

A checkpoint keeps its run config resolved: a metric's ``ann_file`` (``${path_join:${...root},
${...val_ann}}`` in the data config) was saved as the training machine's absolute path. Setting
``data.root`` on such a config moves the images but leaves the metric scoring against the old
annotations: a silently wrong AP. :func:`rebase_data_config` restores the interpolation of every
path the saved config derived from ``root`` before it applies the new root and settings.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from posekit.config import path_join


def _derived_path(value: Any, data: dict[str, Any]) -> str | None:
    """The data key whose ``path_join(root, data[key])`` was resolved into ``value``, if any."""
    if not isinstance(value, str):
        return None
    # a validation path first: a set whose train and val files are one file still follows val_ann
    for key, path in sorted(data.items(), key=lambda item: "val" not in item[0]):
        if key != "root" and isinstance(path, str) and path:
            if value == path_join(data["root"], path):
                return key
    return None


def _restore_interpolations(node: Any) -> Any:
    """``node`` (a resolved data config as plain containers) with every metric option that was
    ``path_join(root, <key>)`` turned back into that interpolation, in mixtures' sources too."""
    if isinstance(node, list):
        return [_restore_interpolations(value) for value in node]
    if not isinstance(node, dict):
        return node
    node = {key: _restore_interpolations(value) for key, value in node.items()}
    metrics = node.get("metrics")
    if isinstance(node.get("root"), str) and isinstance(metrics, dict):
        for metric in metrics.values():
            if not isinstance(metric, dict):
                continue
            for option, value in metric.items():
                key = _derived_path(value, node)
                if key is not None:  # metric option -> metrics -> the data node
                    metric[option] = f"${{path_join:${{...root}},${{...{key}}}}}"
    return node


def rebase_data_config(
    data: DictConfig | dict[str, Any], root: str | None = None, **overrides: Any
) -> DictConfig:
    """The ``data`` node of a saved (resolved) run config with ``root`` and ``data.<key>``
    ``overrides`` applied, its metrics' paths following them as a freshly composed config's do.

    Raises:
        KeyError: an override names a key the data config does not have.
    """
    container = data if isinstance(data, dict) else OmegaConf.to_container(data, resolve=True)
    config = OmegaConf.create(_restore_interpolations(container))
    for key, value in overrides.items():
        if key not in config:
            raise KeyError(f"data.{key} is not in the run's data config ({sorted(config)})")
        config[key] = value
    if root is not None:
        config.root = str(root)
    return config
