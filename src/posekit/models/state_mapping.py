"""Mapping the tensors of a foreign checkpoint onto a module's state dict, with a report.

Shared by the import of published pose checkpoints (:mod:`posekit.deploy.import_weights`) and
the loading of foreign backbone weights (:mod:`posekit.models.backbone_weights`). Source names
are renamed by explicit :class:`Rule`\\ s (regular expressions), never guessed from shapes; the
:class:`ConversionReport` says what was mapped, which source tensors were not used and why, and
which target tensors were left unset. A shape mismatch is an error naming both tensors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

import torch
from torch import Tensor

from posekit.models.checkpoint import read_checkpoint

COUNTER_SUFFIX = "num_batches_tracked"
SUMMARY_LINES = 10  # listed keys per group in a report; the rest are counted
# where training checkpoints of other projects keep their weights (mmpose/mmcv, timm/DeiT)
STATE_KEYS = ("state_dict", "model")


class ConversionError(ValueError):
    """The source checkpoint does not fit the target module."""


@dataclass(frozen=True)
class Rule:
    """Source keys fully matching ``pattern`` are renamed by ``re.sub(pattern, target, key)``."""

    pattern: str
    target: str

    def apply(self, key: str) -> str | None:
        match = re.fullmatch(self.pattern, key)
        return match.expand(self.target) if match else None


@dataclass(frozen=True)
class Constant:
    """Source tensors fully matching ``pattern`` are constants posekit's code fixes itself (a
    coordinate grid, a flow's standard-normal prior): checked against ``expected(tensor)`` and
    not loaded; ``why`` says what they are."""

    pattern: str
    why: str
    expected: Callable[[Tensor], Tensor]

    def matches(self, key: str) -> bool:
        return re.fullmatch(self.pattern, key) is not None


@dataclass
class ConversionReport:
    """What a conversion did.

    mapped: target key -> source key. unmapped_source: source key -> why it was not used.
    unset_target: target weights no source tensor filled. kept_counters: BatchNorm step
    counters absent from the source (left at 0). source_constants: source key -> what constant
    it holds (checked, not needed: posekit's code fixes it).
    """

    source: str
    mapped: dict[str, str] = field(default_factory=dict)
    unmapped_source: dict[str, str] = field(default_factory=dict)
    unset_target: list[str] = field(default_factory=list)
    kept_counters: list[str] = field(default_factory=list)
    source_constants: dict[str, str] = field(default_factory=dict)
    target_name: str = "posekit"

    def summary(self, limit: int | None = SUMMARY_LINES) -> str:
        """The report as text, listing at most ``limit`` keys per group (None: all)."""
        lines = [f"{self.source}: {len(self.mapped)} tensors mapped"]
        if self.kept_counters:
            lines.append(
                f"{len(self.kept_counters)} BatchNorm step counters (num_batches_tracked) not in "
                "the source: left at 0"
            )
        if self.source_constants:
            lines.append(
                f"{len(self.source_constants)} source constants checked and not needed "
                "(posekit's code fixes them):"
            )
            lines += _first_lines(
                [f"{key}: {why}" for key, why in self.source_constants.items()], limit
            )
        if self.unmapped_source:
            lines.append(f"{len(self.unmapped_source)} source tensors not used:")
            lines += _first_lines(
                [f"{key}: {why}" for key, why in self.unmapped_source.items()], limit
            )
        if self.unset_target:
            lines.append(f"{len(self.unset_target)} {self.target_name} tensors left unset:")
            lines += _first_lines(self.unset_target, limit)
        return "\n".join(lines)


def _first_lines(items: list[str], limit: int | None) -> list[str]:
    """The first ``limit`` items (all for None), indented, and how many more there are."""
    shown = items if limit is None else items[:limit]
    lines = [f"  {item}" for item in shown]
    if len(items) > len(shown):
        lines.append(f"  ... and {len(items) - len(shown)} more")
    return lines


def load_source_state_dict(path: str | Path) -> dict[str, Tensor]:
    """The tensors of a checkpoint file of another project, read with weights only.

    Accepts a bare state dict (official HRNet / SimCC ``.pth``, torchvision), a training
    checkpoint with ``state_dict`` (mmpose, Lightning) or ``model`` (timm, DeiT), and strips the
    ``module.`` prefix of ``DataParallel`` checkpoints.
    """
    path = Path(path)
    checkpoint = read_checkpoint(path)  # weights only: a foreign file cannot run code here
    state = next(
        (checkpoint[key] for key in STATE_KEYS if isinstance(checkpoint.get(key), Mapping)),
        checkpoint,
    )
    tensors = {key: value for key, value in state.items() if isinstance(value, Tensor)}
    if not tensors:
        raise ConversionError(f"{path} has no tensors (keys: {list(state)[:10]})")
    if all(key.startswith("module.") for key in tensors):
        tensors = {key[len("module.") :]: value for key, value in tensors.items()}
    return tensors


def map_state_dict(
    source_state: Mapping[str, Tensor],
    target_state: Mapping[str, Tensor],
    rename: Callable[[str], str | None],
    report: ConversionReport,
    no_rule: str,
    constants: Iterable[str] = (),
    source_constants: Iterable[Constant] = (),
) -> dict[str, Tensor]:
    """Rename the source tensors onto ``target_state``'s keys and fill ``report``.

    Args:
        rename: source key -> target key, or None when no rule maps it.
        report: filled in place.
        no_rule: why an unrenamed source tensor is unused (reported).
        constants: target tensors that are not weights (never reported as unset).
        source_constants: source tensors that are constants posekit fixes: checked, not loaded.

    Returns:
        a full state dict: the mapped source tensors, the other tensors of ``target_state``.

    Raises:
        ConversionError: a shape mismatch (naming both tensors), two source tensors mapped
            onto one target tensor, or a source constant that holds another value.
    """
    converted = dict(target_state)
    source_constants = tuple(source_constants)
    for key, value in source_state.items():
        constant = next((c for c in source_constants if c.matches(key)), None)
        if constant is not None:
            expected = constant.expected(value)
            if expected.shape != value.shape or not torch.allclose(value.float(), expected.float()):
                raise ConversionError(
                    f"source {key} {tuple(value.shape)} should be {constant.why}, but holds "
                    "other values: the file does not come from the code these rules follow"
                )
            report.source_constants[key] = constant.why
            continue
        target = rename(key)
        if target is None:
            report.unmapped_source[key] = no_rule
            continue
        if target not in target_state:
            report.unmapped_source[key] = (
                f"maps to {target}, which the {report.target_name} model lacks"
            )
            continue
        if target in report.mapped:
            raise ConversionError(
                f"source tensors {report.mapped[target]} and {key} both map to {target}"
            )
        expected = tuple(target_state[target].shape)
        if tuple(value.shape) != expected:
            raise ConversionError(
                f"shape mismatch: source {key} {tuple(value.shape)} -> {report.target_name} "
                f"{target} {expected}"
            )
        converted[target] = value.detach().to(target_state[target].dtype).clone()
        report.mapped[target] = key
    skip = set(constants)
    for key in target_state:
        if key in report.mapped or key in skip:
            continue
        if key.endswith(COUNTER_SUFFIX):
            report.kept_counters.append(key)
        else:
            report.unset_target.append(key)
    return converted
