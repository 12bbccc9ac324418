"""What a config read from a file may build: a checkpoint or a run folder is data, never code.

A posekit checkpoint carries the run config it was trained with, and a model is rebuilt from it
by ``hydra.utils.instantiate``. Instantiating a file someone sent would call whatever its
``_target_`` (or a custom backbone's ``module``) names, with the file's arguments, and OmegaConf
would run any resolver an ``${...}`` string calls. So a config that comes from a file is
checked first (:func:`check_file_config`):

* every ``_target_`` and ``model.backbone.module`` must be a class of posekit's models, codecs,
  metrics, data or keypoint specs, a ``torch.nn`` / ``torch.optim`` / albumentations class, one
  of posekit's builder functions (:data:`POSEKIT_FUNCTIONS`), or something defined in a module
  the user trusts by name (``trusted_modules=[mypkg.backbones]`` for train.py, eval.py,
  scripts/infer.py and scripts/export.py, ``trusted_modules=`` in Python);
* no string may hold ``${``: posekit saves resolved configs, so an interpolation in a file was
  put there by hand, and resolving it could call a resolver.

The check locates each target (importing it, as instantiation would) and compares where the
object is *defined*, so ``posekit.models.heads.heatmap.HeatmapHead`` and the re-export
``posekit.models.heads.HeatmapHead`` are both fine while an import chain such as
``posekit.models.checkpoint.torch.save`` is not.
"""

from __future__ import annotations

import inspect
from typing import Any, Iterable, Mapping, Sequence

from hydra.utils import get_object

BUILD_BACKBONE = "posekit.models.backbone_weights.build_backbone"

# modules whose classes a file config may instantiate (by where the class is defined)
TRUSTED_CLASS_MODULES = (
    "posekit.models",
    "posekit.codecs",
    "posekit.metrics",
    "posekit.data",
    "posekit.core.spec",
    "torch.nn",
    "torch.optim",
    "albumentations",
)
# functions a file config may call: posekit's builders in conf/ (files, data, ema: never)
POSEKIT_FUNCTIONS = frozenset({
    "posekit.core.spec.build_keypoint_spec",
    "posekit.core.spec.load_keypoint_spec",
    BUILD_BACKBONE,
    "posekit.models.optim.paramwise_adamw",
    "posekit.models.restart_schedule.multistep_with_restart",
    "posekit.models.schedules.warmup_cosine",
    "posekit.models.schedules.warmup_flat_cosine",
    "posekit.models.schedules.warmup_multistep",
})
OPT_IN = (
    "if you trust this file, name the module that defines it: train.py, eval.py, "
    "scripts/infer.py or scripts/export.py 'trusted_modules=[{module}]', or "
    "trusted_modules=['{module}'] in Python"
)


class UntrustedConfigError(ValueError):
    """A config read from a file names code posekit does not build from files."""


def _inside(name: str, packages: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _located(target: Any, trusted_modules: Sequence[str]) -> tuple[str, bool] | None:
    """``(module, is_class)`` of the object ``target`` names, where it is defined; None when
    ``target`` is not a dotted path under posekit's or the user's modules (nothing else is ever
    imported) or does not import."""
    if not isinstance(target, str) or not target:
        return None
    if not (_inside(target, TRUSTED_CLASS_MODULES) or _inside(target, trusted_modules)):
        return None
    try:
        obj = get_object(target)
    except Exception:
        return None
    module = str(getattr(obj, "__module__", "") or "")
    if inspect.isclass(obj):
        return module, True
    return f"{module}.{getattr(obj, '__qualname__', '')}", False


def is_trusted(target: str, trusted_modules: Sequence[str] = ()) -> bool:
    """True when ``target`` (a dotted import path) is posekit's own, a torch.nn / torch.optim /
    albumentations class, or defined in one of ``trusted_modules``."""
    user = [str(m) for m in trusted_modules]
    found = _located(target, user)
    if found is None:
        return False
    name, is_class = found
    if _inside(name, user):
        return True
    return _inside(name, TRUSTED_CLASS_MODULES) if is_class else name in POSEKIT_FUNCTIONS


def _walk(node: Any, key: str) -> Iterable[tuple[str, Any]]:
    yield key, node
    if isinstance(node, Mapping):
        for name, value in node.items():
            yield from _walk(value, f"{key}.{name}" if key else str(name))
    elif isinstance(node, (list, tuple)):
        for index, value in enumerate(node):
            yield from _walk(value, f"{key}[{index}]")


def check_no_interpolation(config: Any, source: str, where: str = "") -> None:
    """Refuse ``config`` (plain containers read from ``source``) when a string in it holds
    ``${``: posekit saves resolved configs, and resolving a file's interpolation could call a
    resolver. ``where``: the dotted key of ``config`` in the file, for the message.

    Raises:
        UntrustedConfigError: naming the file, the key and the value.
    """
    for key, value in _walk(config, where):
        if isinstance(value, str) and "${" in value:
            raise UntrustedConfigError(
                f"{source} was refused: {key} holds the interpolation {value[:200]!r}. posekit "
                "saves resolved configs and never resolves interpolations from a file (a "
                "resolver could run code); re-save the checkpoint with posekit"
            )


def check_file_config(
    config: Any, source: str, trusted_modules: Sequence[str] = (), where: str = ""
) -> None:
    """Refuse ``config`` (plain containers read from ``source``, the part of it that will be
    instantiated) when it holds an interpolation (:func:`check_no_interpolation`) or names code
    posekit does not build from files (:func:`is_trusted`).

    Args:
        config: the part of the file's config that will be instantiated.
        source: the file, for the message.
        trusted_modules: modules the user named as trusted (``mypkg.backbones``).
        where: the dotted key of ``config`` in the file (``model``), for the message.

    Raises:
        UntrustedConfigError: naming the file, the key, the offending value and the opt-in.
    """
    check_no_interpolation(config, source, where)
    for key, value in _walk(config, where):
        if not isinstance(value, Mapping):
            continue
        named = [("_target_", value.get("_target_"))]
        if _located(value.get("_target_"), ()) == (BUILD_BACKBONE, False):  # by any path
            named.append(("module", value.get("module")))
        for field, target in named:
            if target is not None and not is_trusted(target, trusted_modules):
                module = str(target).rsplit(".", 1)[0]
                raise UntrustedConfigError(
                    f"{source} was refused: {key}.{field}={target!r} is not one of posekit's "
                    "own classes, and posekit builds nothing else from a file (it could run "
                    f"code). {OPT_IN.format(module=module)}"
                )


def impose_trust(config: Any, trusted_modules: Sequence[str]) -> None:
    """Replace every ``trusted_modules`` value inside ``config`` (plain containers read from a
    file, changed in place) by the caller's: a file never widens what the user trusts (a
    distillation teacher's checkpoint is loaded with the trust of whoever loads the student)."""
    for _, value in _walk(config, ""):
        if isinstance(value, dict) and "trusted_modules" in value:
            value["trusted_modules"] = list(trusted_modules)
