"""Import published pose checkpoints (official HRNet, official SimCC, mmpose) into posekit.

The source tensor names are mapped onto posekit's module by explicit rules, one regular
expression per group of tensors (never by guessing from shapes):

* ``hrnet`` (leoxiaobin/deep-high-resolution-net.pytorch, e.g. ``pose_hrnet_w32_256x192.pth``):
  the backbone tensors ``conv1``, ``bn1``, ``conv2``, ``bn2``, ``layer1.*``,
  ``transition{1,2,3}.*``, ``stage{2,3,4}.*`` become ``backbone.body.<same name>`` (timm's
  HRNet uses the official names); ``final_layer.*`` becomes the heatmap head's ``head.final.*``.
* ``simcc`` (leeyegy/SimCC): the same, plus ``mlp_head_x.*`` / ``mlp_head_y.*`` ->
  ``head.mlp_x.*`` / ``head.mlp_y.*`` (``final_layer`` is the SimCC head's conv to K maps).
* ``mmpose`` (mmpose 1.x ``head.*`` or 0.x ``keypoint_head.*``): ``backbone.<official name>``
  -> ``backbone.body.<official name>``; ``final_layer`` -> ``head.final``, heatmap deconvolutions
  ``deconv_layers.N`` -> ``head.deconv.N``, ``mlp_head_x/y`` -> ``head.mlp_x/y``.

Every source tensor no rule maps, or that maps to a name posekit's model lacks, is reported
(an error unless allowed); so is every posekit tensor left unset. A shape mismatch is an error
naming both keys. The model's normalisation constants (``pixel_mean``, ``pixel_std``) are not
weights and are kept; BatchNorm step counters (``num_batches_tracked``) missing from a source
stay at 0 (they do not change evaluation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from torch import Tensor

from posekit.models.checkpoint import read_checkpoint

# the tensors of the official / timm HRNet, by their first name component
_HRNET = r"(?:conv1|bn1|conv2|bn2|layer1|transition[1-3]|stage[2-4])\..+"
_MM_HEAD = r"(?:head|keypoint_head)"
# posekit tensors that are not learned weights: fixed by the code, not read from a source
CONSTANT_TENSORS = ("pixel_mean", "pixel_std")
COUNTER_SUFFIX = "num_batches_tracked"
SUMMARY_LINES = 10  # listed keys per group in a report; the rest are counted


@dataclass(frozen=True)
class Rule:
    """Source keys fully matching ``pattern`` are renamed by ``re.sub(pattern, target, key)``."""

    pattern: str
    target: str

    def apply(self, key: str) -> str | None:
        match = re.fullmatch(self.pattern, key)
        return match.expand(self.target) if match else None


_HRNET_RULES = (
    Rule(rf"({_HRNET})", r"backbone.body.\1"),
    Rule(r"final_layer\.(weight|bias)", r"head.final.\1"),
)
_SIMCC_MLP_RULES = (
    Rule(r"mlp_head_x\.(weight|bias)", r"head.mlp_x.\1"),
    Rule(r"mlp_head_y\.(weight|bias)", r"head.mlp_y.\1"),
)
RULES: dict[str, tuple[Rule, ...]] = {
    "hrnet": _HRNET_RULES,
    "simcc": _HRNET_RULES + _SIMCC_MLP_RULES,
    "mmpose": (
        Rule(rf"backbone\.({_HRNET})", r"backbone.body.\1"),
        Rule(rf"{_MM_HEAD}\.final_layer\.(weight|bias)", r"head.final.\1"),
        Rule(rf"{_MM_HEAD}\.deconv_layers\.(\d+\..+)", r"head.deconv.\1"),
        Rule(rf"{_MM_HEAD}\.mlp_head_x\.(weight|bias)", r"head.mlp_x.\1"),
        Rule(rf"{_MM_HEAD}\.mlp_head_y\.(weight|bias)", r"head.mlp_y.\1"),
    ),
}
SOURCES = tuple(RULES)


class ConversionError(ValueError):
    """The source checkpoint does not fit the posekit model."""


@dataclass
class ConversionReport:
    """What a conversion did.

    mapped: posekit key -> source key. unmapped_source: source key -> why it was not used.
    unset_target: posekit weights no source tensor filled. kept_counters: BatchNorm step
    counters absent from the source (left at 0).
    """

    source: str
    mapped: dict[str, str] = field(default_factory=dict)
    unmapped_source: dict[str, str] = field(default_factory=dict)
    unset_target: list[str] = field(default_factory=list)
    kept_counters: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{self.source}: {len(self.mapped)} tensors mapped"]
        if self.kept_counters:
            lines.append(
                f"{len(self.kept_counters)} BatchNorm step counters (num_batches_tracked) not in "
                "the source: left at 0"
            )
        if self.unmapped_source:
            lines.append(f"{len(self.unmapped_source)} source tensors not used:")
            lines += _first_lines([f"{key}: {why}" for key, why in self.unmapped_source.items()])
        if self.unset_target:
            lines.append(f"{len(self.unset_target)} posekit tensors left unset:")
            lines += _first_lines(self.unset_target)
        return "\n".join(lines)


def _first_lines(items: list[str]) -> list[str]:
    """The first SUMMARY_LINES items, indented, and how many more there are."""
    lines = [f"  {item}" for item in items[:SUMMARY_LINES]]
    if len(items) > SUMMARY_LINES:
        lines.append(f"  ... and {len(items) - SUMMARY_LINES} more")
    return lines


def mapped_counts(
    source_state: Mapping[str, Tensor], target_state: Mapping[str, Tensor]
) -> dict[str, int]:
    """For each known source, how many source tensors its rules map onto the posekit model
    with the right shape: the source with the most is what the file most likely is."""
    counts = {}
    for name, rules in RULES.items():
        count = 0
        for key, value in source_state.items():
            target = next((t for rule in rules if (t := rule.apply(key)) is not None), None)
            if target in target_state and tuple(target_state[target].shape) == tuple(value.shape):
                count += 1
        counts[name] = count
    return counts


def load_source_state_dict(path: str | Path) -> dict[str, Tensor]:
    """The tensors of a published checkpoint file.

    Accepts a bare state dict (official HRNet / SimCC ``.pth``), a training checkpoint with
    ``state_dict`` (mmpose, the official ``checkpoint.pth``), and strips the ``module.`` prefix
    of ``DataParallel`` checkpoints.
    """
    path = Path(path)
    checkpoint = read_checkpoint(path)  # weights only: a published file cannot run code here
    state = checkpoint.get("state_dict", checkpoint)
    tensors = {key: value for key, value in state.items() if isinstance(value, Tensor)}
    if not tensors:
        raise ConversionError(f"{path} has no tensors (keys: {list(state)[:10]})")
    if all(key.startswith("module.") for key in tensors):
        tensors = {key[len("module.") :]: value for key, value in tensors.items()}
    return tensors


def convert_state_dict(
    source_state: Mapping[str, Tensor],
    target_state: Mapping[str, Tensor],
    source: str,
    allow_unmapped: bool = False,
    allow_unset: bool = False,
) -> tuple[dict[str, Tensor], ConversionReport]:
    """Map ``source_state`` (names of ``source``) onto posekit names.

    Args:
        source_state: the published tensors.
        target_state: the posekit model's ``state_dict()`` (names, shapes and the values of
            tensors the source does not provide).
        source: one of ``SOURCES``.
        allow_unmapped: accept source tensors that posekit does not use (e.g. an ImageNet
            classifier) instead of raising.
        allow_unset: accept posekit weights that the source leaves unset (they keep the
            values of ``target_state``) instead of raising.

    Returns:
        a full state dict for ``load_state_dict`` and the report.

    Raises:
        ConversionError: a shape mismatch (naming both keys), two source tensors mapped to one
            posekit tensor, or (unless allowed) unmapped source / unset posekit tensors.
    """
    if source not in RULES:
        raise ConversionError(f"unknown source {source!r}; choose one of {SOURCES}")
    report = ConversionReport(source=source)
    converted = dict(target_state)
    for key, value in source_state.items():
        target = next((t for rule in RULES[source] if (t := rule.apply(key)) is not None), None)
        if target is None:
            report.unmapped_source[key] = f"no {source} rule maps it"
            continue
        if target not in target_state:
            report.unmapped_source[key] = f"maps to {target}, which the posekit model lacks"
            continue
        if target in report.mapped:
            raise ConversionError(
                f"source tensors {report.mapped[target]} and {key} both map to {target}"
            )
        expected = tuple(target_state[target].shape)
        if tuple(value.shape) != expected:
            raise ConversionError(
                f"shape mismatch: source {key} {tuple(value.shape)} -> posekit {target} "
                f"{expected}; the experiment (backbone width, keypoint count, input size, "
                "split ratio) does not match the checkpoint"
            )
        converted[target] = value.detach().to(target_state[target].dtype).clone()
        report.mapped[target] = key
    for key in target_state:
        if key in report.mapped or key in CONSTANT_TENSORS:
            continue
        if key.endswith(COUNTER_SUFFIX):
            report.kept_counters.append(key)
        else:
            report.unset_target.append(key)
    if not report.mapped:
        raise ConversionError(
            f"no tensor of the checkpoint maps onto the posekit model with --source {source} "
            "(whatever --allow-unmapped / --allow-unset say, an import of nothing is refused)"
            + _source_hint(source_state, target_state, source)
        )
    problems = []
    if report.unmapped_source and not allow_unmapped:
        problems.append("source tensors are not used (allow_unmapped=True, --allow-unmapped)")
    if report.unset_target and not allow_unset:
        problems.append("posekit tensors are left unset (allow_unset=True, --allow-unset)")
    if problems:
        hint = _source_hint(source_state, target_state, source)
        raise ConversionError("; ".join(problems) + hint + "\n" + report.summary())
    return converted, report


def _source_hint(
    source_state: Mapping[str, Tensor], target_state: Mapping[str, Tensor], source: str
) -> str:
    """``; it looks like --source X (maps N of M tensors)`` when another source fits better."""
    counts = mapped_counts(source_state, target_state)
    best = max(counts, key=lambda name: counts[name])
    if best == source or counts[best] <= counts[source]:
        return ""
    return (
        f". The file looks like --source {best}: its rules map {counts[best]} of "
        f"{len(source_state)} tensors (--source {source}: {counts[source]})"
    )
