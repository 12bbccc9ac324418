"""Import published pose checkpoints (official HRNet / SimCC, mmpose 1.x, AlphaPose) into posekit.

The source tensor names are mapped onto posekit's module by explicit rules, one regular
expression per group of tensors (never by guessing from shapes). Backbone tensors are mapped onto
the backbone's public names (timm's own, :meth:`TimmBackbone.checkpoint_names`) by a named key
map of :mod:`posekit.models.key_maps`; the head tensors by the rules of the source:

* ``hrnet`` (leoxiaobin/deep-high-resolution-net.pytorch, e.g. ``pose_hrnet_w32_256x192.pth``):
  ``conv1`` ... ``stage4`` are timm's HRNet names (key map ``hrnet``); ``final_layer`` becomes
  the heatmap head's ``head.final``.
* ``simcc`` (leeyegy/SimCC): the same, plus ``mlp_head_x/y`` -> ``head.mlp_x/y``.
* ``mmpose`` (mmpose 1.x ``head.*``, 0.x ``keypoint_head.*``): ``backbone.*`` by the key map
  ``mmpose_cspnext`` when the file has ``backbone.stem`` (RTMPose), else as they are (ResNet,
  HRNet); heads: ``final_layer`` -> ``head.final``, ``deconv_layers`` -> ``head.deconv``,
  ``mlp_head_x/y`` -> ``head.mlp_x/y`` (HeatmapHead, SimCCHead; SimCCHead's
  ``deconv_head.*`` -> ``head.deconv`` / ``head.final``); RTMCCHead ``mlp``, ``gau``, ``cls_x/y``
  (``gau.ln`` -> ``gau.norm``, ``gau.res_scale.scale`` -> ``gau.res_scale``); IPR / DSNT /
  debias ``simplebaseline_head.*`` -> ``head.maps.*``; RLE ``fc`` and the flow of its loss
  ``loss_module.flow_model.*`` -> ``loss_fn.flow.*``.
* ``alphapose`` (MVIG-SJTU/AlphaPose FastPose, a plain state dict): ``preact.*`` (its SE-ResNet,
  torchvision's names) -> the backbone as they are; ``duc1``, ``duc2``, ``conv_out`` -> ``head.*``.

Without a source, :func:`detect_source` tells it from the file's keys. Every source tensor no
rule maps, or that maps to a name posekit's model lacks, is reported (an error unless allowed);
so is every posekit tensor left unset. A shape mismatch is an error naming both keys. Source
constants posekit's code fixes itself (mmpose's integral grids ``linspace_x/y``, RLE's prior
``loc`` / ``cov``) are checked and reported, not loaded. The model's normalisation constants
(``pixel_mean``, ``pixel_std``) are not weights and are kept; BatchNorm step counters
(``num_batches_tracked``) missing from a source stay at 0 (they do not change evaluation).
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor, nn

from posekit.models.key_maps import KEY_MAPS, prefixed, resolve_key_map
from posekit.models.state_mapping import (
    Constant,
    ConversionError,
    ConversionReport,
    Rule,
    load_source_state_dict,
    map_state_dict,
)

_MM_HEAD = r"(?:head|keypoint_head)"
# posekit tensors that are not learned weights: fixed by the code, not read from a source
CONSTANT_TENSORS = ("pixel_mean", "pixel_std")
__all__ = [
    "CONSTANT_TENSORS",
    "ConversionError",
    "ConversionReport",
    "HEAD_RULES",
    "Rule",
    "SOURCES",
    "convert_state_dict",
    "detect_source",
    "load_source_state_dict",
    "public_names",
    "source_rules",
]

_SIMCC_MLP_RULES = (
    Rule(r"mlp_head_x\.(weight|bias)", r"head.mlp_x.\1"),
    Rule(r"mlp_head_y\.(weight|bias)", r"head.mlp_y.\1"),
)


def _heatmap_head(source: str, target: str) -> tuple[Rule, ...]:
    """mmpose's HeatmapHead under ``source`` (its ``deconv_layers``, ``final_layer``) onto
    posekit's (``deconv``, ``final``) under ``target``."""
    return (
        Rule(rf"{source}deconv_layers\.(\d+\..+)", rf"{target}deconv.\1"),
        Rule(rf"{source}final_layer\.(weight|bias)", rf"{target}final.\1"),
    )


_MM_HEAD_RULES = (
    # HeatmapHead (HRNet, UDP, SimpleBaseline), SimCCHead
    *_heatmap_head("", "head."),
    *_SIMCC_MLP_RULES,
    # SimCCHead with deconvolutions (simcc_res50): its HeatmapHead is `deconv_head`
    *_heatmap_head(r"deconv_head\.", "head."),
    # RTMCCHead (RTMPose)
    Rule(r"mlp\.(\d+\.(?:g|weight))", r"head.mlp.\1"),
    Rule(r"gau\.ln\.g", r"head.gau.norm.g"),
    Rule(r"gau\.res_scale\.scale", r"head.gau.res_scale"),
    Rule(r"gau\.(gamma|beta|uv\.weight|o\.weight)", r"head.gau.\1"),
    Rule(r"(cls_[xy])\.weight", r"head.\1.weight"),
    # IPR / DSNT / debias (DSNTHead is an IntegralRegressionHead): `simplebaseline_head`
    *_heatmap_head(r"simplebaseline_head\.", "head.maps."),
    # RLE: the regression fc and the RealNVP flow of its loss
    Rule(r"fc\.(weight|bias)", r"head.fc.\1"),
    Rule(r"loss_module\.flow_model\.(mask|[st]\.\d+\.\d+\.(?:weight|bias))", r"loss_fn.flow.\1"),
)
HEAD_RULES: dict[str, tuple[Rule, ...]] = {
    "hrnet": (Rule(r"final_layer\.(weight|bias)", r"head.final.\1"),),
    "simcc": (Rule(r"final_layer\.(weight|bias)", r"head.final.\1"), *_SIMCC_MLP_RULES),
    "mmpose": tuple(
        Rule(rf"{_MM_HEAD}\.{rule.pattern}", rule.target) for rule in _MM_HEAD_RULES
    ),
    "alphapose": (Rule(r"((?:duc1|duc2|conv_out)\..+)", r"head.\1"),),
}
SOURCES = tuple(HEAD_RULES)
# where each source keeps its backbone: (prefix in the file, the key map when not chosen)
_BACKBONES = {
    "hrnet": ("", "hrnet"),
    "simcc": ("", "hrnet"),
    "mmpose": ("backbone.", "identity"),
    "alphapose": ("preact.", "identity"),
}


def _grid(tensor: Tensor) -> Tensor:
    """mmpose's integral grid: ``arange(n) / n`` in the tensor's shape (n its length)."""
    return (torch.arange(tensor.numel(), dtype=torch.float64) / tensor.numel()).reshape(
        tensor.shape
    )


SOURCE_CONSTANTS: dict[str, tuple[Constant, ...]] = {
    "mmpose": (
        Constant(rf"{_MM_HEAD}\.linspace_[xy]", "the integral grid arange(n) / n", _grid),
        Constant(
            rf"{_MM_HEAD}\.loss_module\.flow_model\.loc",
            "the flow prior's mean 0",
            torch.zeros_like,
        ),
        Constant(
            rf"{_MM_HEAD}\.loss_module\.flow_model\.cov",
            "the flow prior's covariance I",
            lambda tensor: torch.eye(tensor.shape[0]),
        ),
    ),
}


def detect_source(source_state: Mapping[str, Tensor]) -> str:
    """The source of a published state dict, told from its keys.

    mmpose: ``backbone.*`` and ``head.*`` (0.x ``keypoint_head.*``); AlphaPose: ``preact.*`` and
    ``conv_out.*``; official SimCC: ``mlp_head_x.weight`` beside ``final_layer.weight``;
    official HRNet: ``final_layer.weight`` and ``stage2.*``.

    Raises:
        ConversionError: no signature fits; the message shows the file's first keys.
    """
    keys = list(source_state)

    def has(prefix: str) -> bool:
        return any(key.startswith(prefix) for key in keys)

    if has("backbone.") and (has("head.") or has("keypoint_head.")):
        return "mmpose"
    if has("preact.") and has("conv_out."):
        return "alphapose"
    if "final_layer.weight" in source_state and "mlp_head_x.weight" in source_state:
        return "simcc"
    if "final_layer.weight" in source_state and has("stage2."):
        return "hrnet"
    raise ConversionError(
        f"cannot tell the source from the file's keys (first: {keys[:4]}); name it with "
        f"source=<name> ({', '.join(SOURCES)})"
    )


def source_rules(
    source: str, source_keys: list[str], backbone_keys: str | Mapping[str, str] | None = None
) -> tuple[Rule, ...]:
    """The renaming rules of ``source`` onto posekit's public names (``backbone.<timm name>``,
    ``head.*``): the backbone key map (``backbone_keys``, else the source's own: for mmpose
    ``mmpose_cspnext`` when the file has ``backbone.stem``), then the head rules."""
    if source not in HEAD_RULES:
        raise ConversionError(f"unknown source {source!r}; choose one of {SOURCES}")
    prefix, default = _BACKBONES[source]
    if source == "mmpose" and any(key.startswith("backbone.stem.") for key in source_keys):
        default = "mmpose_cspnext"
    backbone = (
        resolve_key_map(backbone_keys, "backbone_keys") if backbone_keys else KEY_MAPS[default]
    )
    # the head rules first: a catch-all backbone map must not take `final_layer` of a bare file
    return HEAD_RULES[source] + prefixed(backbone, prefix, "backbone.")


def public_names(model: nn.Module) -> dict[str, str]:
    """posekit's public tensor names -> its ``state_dict`` names: the backbone's tensors by its
    ``checkpoint_names()`` (timm's names, ``backbone.layer1.0.conv1.weight``) where it has one,
    every other tensor by its own name."""
    own = list(model.state_dict())
    names = getattr(getattr(model, "backbone", None), "checkpoint_names", None)
    if not callable(names):
        return {key: key for key in own}
    public = {f"backbone.{pub}": f"backbone.{key}" for pub, key in names().items()}
    taken = set(public.values())
    public.update({key: key for key in own if key not in taken})
    return public


def convert_state_dict(
    source_state: Mapping[str, Tensor],
    target: nn.Module | Mapping[str, Tensor],
    source: str | None = None,
    allow_unmapped: bool = False,
    allow_unset: bool = False,
    backbone_keys: str | Mapping[str, str] | None = None,
) -> tuple[dict[str, Tensor], ConversionReport]:
    """Map ``source_state`` (names of ``source``) onto posekit names.

    Args:
        source_state: the published tensors.
        target: the posekit model (its backbone's tensors under their public names,
            :func:`public_names`), or a state dict taken by its own names: names, shapes and
            the values of tensors the source does not provide.
        source: one of ``SOURCES``; None: :func:`detect_source`.
        allow_unmapped: accept source tensors that posekit does not use (e.g. an ImageNet
            classifier) instead of raising.
        allow_unset: accept posekit weights that the source leaves unset (they keep the
            values of ``target_state``) instead of raising.
        backbone_keys: the backbone key map (a name of ``KEY_MAPS``, a yaml file, a mapping)
            instead of the source's own.

    Returns:
        a full state dict for ``load_state_dict`` and the report (keys: the state dict's).

    Raises:
        ConversionError: a shape mismatch (naming both keys), two source tensors mapped to one
            posekit tensor, or (unless allowed) unmapped source / unset posekit tensors.
    """
    source = source or detect_source(source_state)
    rules = source_rules(source, list(source_state), backbone_keys)
    if isinstance(target, nn.Module):
        target_state, names = target.state_dict(), public_names(target)
    else:
        target_state, names = target, {key: key for key in target}
    public_state = {public: target_state[own] for public, own in names.items()}
    report = ConversionReport(source=source)
    try:
        converted = map_state_dict(
            source_state,
            public_state,
            lambda key: next((t for rule in rules if (t := rule.apply(key)) is not None), None),
            report,
            no_rule=f"no {source} rule maps it",
            constants=CONSTANT_TENSORS,
            source_constants=SOURCE_CONSTANTS.get(source, ()),
        )
    except ConversionError as err:
        if not str(err).startswith("shape mismatch"):
            raise
        raise ConversionError(
            f"{err}; the experiment (backbone width, keypoint count, input size, split ratio) "
            "does not match the checkpoint"
        ) from None
    _to_own(report, names)
    if not report.mapped:
        raise ConversionError(
            f"no tensor of the checkpoint maps onto the posekit model with source={source} "
            "(whatever allow_unmapped / allow_unset say, an import of nothing is refused)"
            + _source_hint(source_state, public_state, source)
        )
    problems = []
    if report.unmapped_source and not allow_unmapped:
        problems.append(
            f"{len(report.unmapped_source)} source tensors are not used "
            "(allow_unmapped=true to import them anyway)"
        )
    if report.unset_target and not allow_unset:
        problems.append(
            f"{len(report.unset_target)} posekit tensors would be left at their initialisation "
            "(allow_unset=true to import them anyway)"
        )
    if problems:
        hint = _source_hint(source_state, public_state, source)
        raise ConversionError("; ".join(problems) + hint + "\n" + report.summary())
    return {names[public]: value for public, value in converted.items()}, report


def _to_own(report: ConversionReport, names: Mapping[str, str]) -> None:
    """Rename the report's posekit keys from public names to ``state_dict`` names."""
    report.mapped = {names[public]: key for public, key in report.mapped.items()}
    report.unset_target = [names[public] for public in report.unset_target]
    report.kept_counters = [names[public] for public in report.kept_counters]


def mapped_counts(
    source_state: Mapping[str, Tensor], target_state: Mapping[str, Tensor]
) -> dict[str, int]:
    """For each known source, how many source tensors its rules map onto the posekit model
    (``target_state`` by public names) with the right shape: the source with the most is what
    the file most likely is."""
    counts = {}
    for name in SOURCES:
        rules = source_rules(name, list(source_state))
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
    """``; it looks like source=X (maps N of M tensors)`` when another source fits better."""
    counts = mapped_counts(source_state, target_state)
    best = max(counts, key=lambda name: counts[name])
    if best == source or counts[best] <= counts[source]:
        return ""
    return (
        f". The file looks like source={best}: its rules map {counts[best]} of "
        f"{len(source_state)} tensors (source={source}: {counts[source]})"
    )
