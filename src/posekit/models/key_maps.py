"""Named rule sets renaming a foreign backbone's tensors onto timm's names.

A key map is a list of :class:`~posekit.models.state_mapping.Rule`\\ s (``file key regex ->
timm name``, the first that matches wins). It can be given by the name of a rule set below
(``model.backbone.checkpoint_keys=mmpose_cspnext``), by a yaml file of ``{regex: name}``
(``checkpoint_keys=conf/local/my_keys.yaml``), or, in a yaml config, as the mapping itself; so no
regular expression has to be written on the command line.

* ``identity``: the names as they are. timm's ResNet uses torchvision's names, which are also
  mmcv's / mmpose's ``ResNet`` and AlphaPose's ``SEResnet`` (``conv1``, ``bn1``,
  ``layer1.0.conv1``), and timm's HRNet the official HRNet names (``conv1`` ... ``stage4``):
  these need no renaming.
* ``hrnet``: only the official HRNet backbone tensors (``conv1``, ``bn1``, ``conv2``, ``bn2``,
  ``layer1``, ``transition1-3``, ``stage2-4``), the rest of the file left unmapped.
* ``resnet``: only the ResNet backbone tensors (``conv1``, ``bn1``, ``layer1-4``).
* ``mmpose_cspnext``: mmdet / mmpose ``CSPNeXt`` (RTMDet, RTMPose) onto timm's ``cspnext_*``:
  ``stem.*`` as it is, ``stage1-4.*`` -> ``stages.0-3.*`` (the blocks inside have the same names).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import yaml

from posekit.models.state_mapping import Rule

HRNET_NAMES = r"(?:conv1|bn1|conv2|bn2|layer1|transition[1-3]|stage[2-4])\..+"
RESNET_NAMES = r"(?:conv1|bn1|layer[1-4])\..+"
KEY_MAPS: dict[str, tuple[Rule, ...]] = {
    "identity": (Rule(r"(.+)", r"\1"),),
    "hrnet": (Rule(rf"({HRNET_NAMES})", r"\1"),),
    "resnet": (Rule(rf"({RESNET_NAMES})", r"\1"),),
    "mmpose_cspnext": (
        Rule(r"stem\.(.+)", r"stem.\1"),
        *(Rule(rf"stage{i + 1}\.(.+)", rf"stages.{i}.\1") for i in range(4)),
    ),
}


def rules_from_mapping(key_map: Mapping[str, str], where: str) -> tuple[Rule, ...]:
    """``{regex: target}`` as rules, each pattern checked; ``where`` names the setting."""
    rules = []
    for pattern, target in key_map.items():
        try:
            re.compile(str(pattern))
        except re.error as err:
            raise ValueError(f"{where}: {pattern!r} is not a regular expression ({err})") from None
        rules.append(Rule(str(pattern), str(target)))
    return tuple(rules)


def resolve_key_map(
    spec: str | Path | Mapping[str, str] | None, where: str = "checkpoint_keys"
) -> tuple[Rule, ...]:
    """The rules of ``spec``: a name of :data:`KEY_MAPS`, a yaml file of ``{regex: name}``, or
    such a mapping (None or empty: no rules).

    Raises:
        ValueError: an unknown name that is no file either, a yaml file that is not a mapping,
            or a pattern that is not a regular expression; the message lists the named sets.
    """
    if not spec:
        return ()
    if isinstance(spec, Mapping):
        return rules_from_mapping(spec, where)
    name = str(spec)
    if name in KEY_MAPS:
        return KEY_MAPS[name]
    path = Path(name).expanduser()
    if not path.is_file():
        raise ValueError(
            f"{where}={name!r} is neither a named key map ({', '.join(KEY_MAPS)}) nor a yaml "
            "file of {'<file key regex>': '<backbone name>'}"
        )
    loaded = yaml.safe_load(path.read_text())
    if not isinstance(loaded, Mapping):
        raise ValueError(
            f"{where}={name}: the file must hold a mapping {{'<file key regex>': "
            f"'<backbone name>'}}, got {type(loaded).__name__}"
        )
    return rules_from_mapping(loaded, f"{where} ({path})")


def prefixed(rules: tuple[Rule, ...], source_prefix: str, target_prefix: str) -> tuple[Rule, ...]:
    """``rules`` for keys under ``source_prefix``, their results put under ``target_prefix``."""
    return tuple(
        Rule(re.escape(source_prefix) + rule.pattern, target_prefix + rule.target)
        for rule in rules
    )
