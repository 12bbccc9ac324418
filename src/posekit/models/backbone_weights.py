"""Weights from a foreign checkpoint into a backbone: ``model.backbone.checkpoint=<file>``.

The file is read with weights only (:func:`posekit.models.checkpoint.read_checkpoint`); its
tensors (under ``state_dict`` or ``model`` if present, ``module.`` stripped) are renamed onto the
backbone's names by

* ``checkpoint_keys``: explicit rules, tried first: the name of a rule set of
  :mod:`posekit.models.key_maps` (``mmpose_cspnext``), a yaml file of them, or in a yaml config
  the mapping ``{<regular expression of a file key>: <backbone name>}`` (``\\1`` refers to a
  group: ``{'encoder\\.(.*)': 'stages.\\1'}``);
* ``checkpoint_prefix``: file keys starting with it are kept without it (``backbone.`` for an
  mmpose / mmdet / mmseg checkpoint);
* neither: file keys are taken as they are.

Backbone names are the module's ``state_dict`` keys, or the keys of its ``checkpoint_names()``
where it has one (:class:`~posekit.models.backbone.TimmBackbone`: the timm model's own names,
``layer1.0.conv1.weight``, as in a timm or torchvision checkpoint). What was loaded, what was left
unset and what in the file was unused is logged (:class:`ConversionReport`); a shape mismatch
names both tensors; a file of which nothing maps is an error.

:class:`~posekit.models.backbone.TimmBackbone` takes these options itself; any other backbone is
built through :func:`build_backbone` (``_target_: posekit.models.backbone_weights.build_backbone``,
``module: <import path of the class>``), as ``conf/model/backbone/example_custom.yaml`` does.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Mapping

from hydra.utils import get_class
from torch import nn

from posekit.models.backbone_protocol import check_backbone, describe
from posekit.models.key_maps import prefixed, resolve_key_map
from posekit.models.state_mapping import (
    ConversionError,
    ConversionReport,
    Rule,
    load_source_state_dict,
    map_state_dict,
)

log = logging.getLogger(__name__)


def backbone_rules(
    prefix: str | None, key_map: str | Mapping[str, str] | None
) -> list[Rule]:
    """The renaming rules: the explicit ``key_map`` first (a named rule set, a yaml file or a
    mapping: :func:`~posekit.models.key_maps.resolve_key_map`) on the file's keys, then on the
    keys under ``prefix`` without it, then the prefix rule (or identity)."""
    key_rules = resolve_key_map(key_map, "model.backbone.checkpoint_keys")
    rules = [*key_rules, *(prefixed(key_rules, prefix, "") if prefix else ())]
    rules.append(Rule(re.escape(prefix) + "(.+)" if prefix else "(.+)", r"\1"))
    return rules


def load_backbone_checkpoint(
    backbone: nn.Module,
    path: str | Path,
    prefix: str | None = None,
    key_map: str | Mapping[str, str] | None = None,
) -> ConversionReport:
    """Load the tensors of a foreign checkpoint file into ``backbone``; log and return the report.

    Args:
        backbone: the module (its ``checkpoint_names()``, if any, names its tensors).
        path: a local checkpoint file (weights only).
        prefix: keep the file keys starting with it, without it.
        key_map: explicit renaming rules, tried first: the name of a rule set
            (:data:`~posekit.models.key_maps.KEY_MAPS`), a yaml file, or a mapping
            ``{regular expression: backbone name}``.

    Raises:
        ConversionError: no file tensor maps onto the backbone, or a shape mismatch (naming both
            tensors).
    """
    source = load_source_state_dict(path)
    own = backbone.state_dict()
    names = getattr(backbone, "checkpoint_names", None)
    to_own = dict(names()) if callable(names) else {key: key for key in own}  # public -> own
    target_state = {public: own[key] for public, key in to_own.items()}
    rules = backbone_rules(prefix, key_map)
    report = ConversionReport(
        source=f"backbone checkpoint {path}", target_name=type(backbone).__name__
    )

    def rename(key: str) -> str | None:
        return next((t for rule in rules if (t := rule.apply(key)) is not None), None)

    no_rule = f"outside prefix {prefix!r}" if prefix else "no checkpoint_keys rule maps it"
    try:
        converted = map_state_dict(source, target_state, rename, report, no_rule=no_rule)
    except ConversionError as err:
        raise ConversionError(f"model.backbone.checkpoint={path}: {err}") from None
    if not report.mapped:
        raise ConversionError(
            f"model.backbone.checkpoint={path}: no tensor of the file maps onto "
            f"{describe(backbone)}. The file's keys look like {list(source)[:4]}, the backbone's "
            f"like {list(target_state)[:4]}. Fix: set model.backbone.checkpoint_prefix (e.g. "
            "'backbone.') or map names with model.backbone.checkpoint_keys "
            "({'<file key regex>': '<backbone name>'})."
        )
    backbone.load_state_dict({to_own[public]: value for public, value in converted.items()})
    log.info("%s\nloaded, by module: %s", report.summary(limit=None), loaded_by_module(report))
    return report


def loaded_by_module(report: ConversionReport) -> str:
    """``conv1 1, bn1 5, layer1 30``: how many tensors each top-level module received."""
    counts: dict[str, int] = {}
    for name in report.mapped:
        top = name.split(".")[0]
        counts[top] = counts.get(top, 0) + 1
    return ", ".join(f"{top} {count}" for top, count in counts.items())


def build_backbone(
    module: str,
    checkpoint: str | None = None,
    checkpoint_prefix: str | None = None,
    checkpoint_keys: str | Mapping[str, str] | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build the backbone class at import path ``module`` with ``kwargs``, check the backbone
    protocol and load ``checkpoint`` (see :func:`load_backbone_checkpoint`) if given.

    The module is found by Python's import path: running ``python train.py`` puts the
    repository root on it (``examples.custom_backbone.TinyBackbone``); elsewhere add the folder
    holding your package to ``PYTHONPATH``.
    """
    try:
        cls = get_class(module)
    except Exception as err:
        raise ImportError(
            f"model.backbone.module={module!r} cannot be imported ({err}). The module must be on "
            "Python's import path: run train.py from the repository root (its folder is on the "
            "path), or add the folder that holds your package to PYTHONPATH."
        ) from None
    backbone = cls(**kwargs)
    check_backbone(backbone)
    if checkpoint:
        load_backbone_checkpoint(backbone, checkpoint, checkpoint_prefix, checkpoint_keys)
    return backbone
