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

from typing import Mapping

from torch import Tensor

from posekit.models.state_mapping import (
    ConversionError,
    ConversionReport,
    Rule,
    load_source_state_dict,
    map_state_dict,
)

# the tensors of the official / timm HRNet, by their first name component
_HRNET = r"(?:conv1|bn1|conv2|bn2|layer1|transition[1-3]|stage[2-4])\..+"
_MM_HEAD = r"(?:head|keypoint_head)"
# posekit tensors that are not learned weights: fixed by the code, not read from a source
CONSTANT_TENSORS = ("pixel_mean", "pixel_std")
__all__ = [
    "CONSTANT_TENSORS",
    "ConversionError",
    "ConversionReport",
    "RULES",
    "Rule",
    "SOURCES",
    "convert_state_dict",
    "load_source_state_dict",
]


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
    rules = RULES[source]
    try:
        converted = map_state_dict(
            source_state,
            target_state,
            lambda key: next((t for rule in rules if (t := rule.apply(key)) is not None), None),
            report,
            no_rule=f"no {source} rule maps it",
            constants=CONSTANT_TENSORS,
        )
    except ConversionError as err:
        if not str(err).startswith("shape mismatch"):
            raise
        raise ConversionError(
            f"{err}; the experiment (backbone width, keypoint count, input size, split ratio) "
            "does not match the checkpoint"
        ) from None
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
