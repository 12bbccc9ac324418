"""Composing posekit's Hydra configs: one way for entry points, scripts, tests and notebooks.

Importing this module registers the config resolvers (``${path_join:a,b}``,
``${size_div:size,n}``, ``${joint_weights:${data.keypoints}}``, ``${auto_precision:...}``,
``${linear_lr:lr}``);
the entry points import it before Hydra composes. :func:`compose` gives the config
``train.py`` or ``eval.py`` would see for a list of command-line overrides.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from pathlib import Path
from typing import Callable, Sequence

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import ConfigCompositionException
from hydra.initialize import get_gh_backup, restore_gh_from_backup
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

REPO_ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = REPO_ROOT / "conf"


SPEC_BUILDERS = (  # the keypoint spec nodes ${joint_weights:...} may build
    "posekit.core.spec.build_keypoint_spec",
    "posekit.core.spec.load_keypoint_spec",
)


def path_join(root: str, path: str) -> str:
    """``path`` when absolute, else ``root/path`` (``${path_join:${data.root},${data.val_ann}}``)."""
    return str(Path(path)) if Path(str(path)).is_absolute() else str(Path(str(root)) / str(path))


def size_div(size: Sequence[int], divisor: int) -> ListConfig:
    """A (W, H) size divided by ``divisor`` (``${size_div:${data.input_size},4}``: heatmaps at
    1/4 of the input); the size must be divisible."""
    values = [int(v) for v in size]
    if any(v % int(divisor) for v in values):
        raise ValueError(f"size {values} is not divisible by {divisor}")
    return ListConfig([v // int(divisor) for v in values])


def joint_weights(keypoints: DictConfig) -> ListConfig:
    """The ``joint_weights`` of a keypoint spec node (``${joint_weights:${data.keypoints}}``),
    ones where the spec gives none: the losses' ``joint_weights`` option. Only a keypoint
    spec node is built: anything else is refused, naming its ``_target_``."""
    from hydra.utils import instantiate

    target = keypoints.get("_target_") if isinstance(keypoints, DictConfig) else None
    if target not in SPEC_BUILDERS:
        raise ValueError(
            f"${{joint_weights:...}} takes a keypoint spec node ({' or '.join(SPEC_BUILDERS)}), "
            f"got _target_={target!r}"
        )
    return ListConfig(list(instantiate(keypoints).joint_weights))


def process_id() -> int:
    """``${pid:}``: this process's id, which makes run folder names unique on one machine."""
    return os.getpid()


def cpu_computes_bf16() -> bool:
    """True when this CPU has bfloat16 instructions (AVX512-BF16 or AMX-BF16), where oneDNN
    runs bf16 convolutions natively; without them bf16 is emulated and slower than float32."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def auto_precision(accelerator: str = "auto") -> str:
    """``${auto_precision:${trainer.accelerator}}``: ``bf16-mixed`` for training on a CPU that
    computes bf16 natively (:func:`cpu_computes_bf16`), else ``32-true``. GPUs keep 32-true:
    their precision is chosen explicitly (``trainer=gpu``, ``trainer.precision=...``).

    Evaluation runs in float32 whatever this gives (:func:`posekit.models.predict.predict_crops`).
    """
    import torch

    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    return "bf16-mixed" if on_cpu and cpu_computes_bf16() else "32-true"


def total_batch(cfg: DictConfig) -> int:
    """The samples per optimizer step of a composed run config: ``data.batch_size`` (per
    device) x ``trainer.devices`` x ``trainer.num_nodes`` x ``trainer.accumulate_grad_batches``."""
    devices = cfg.trainer.get("devices", 1)
    if isinstance(devices, (list, ListConfig)):
        devices = len(devices)
    elif isinstance(devices, str) and devices.strip().isdigit():
        devices = int(devices)
    if not isinstance(devices, int) or devices < 1:
        raise ValueError(
            f"trainer.devices={devices!r} does not say how many devices train, so the total batch "
            "(and recipe.scale_lr) is unknown: give trainer.devices as a number"
        )
    nodes = int(cfg.trainer.get("num_nodes", 1))
    accumulate = int(cfg.trainer.get("accumulate_grad_batches", 1))
    return int(cfg.data.batch_size) * devices * nodes * accumulate


def linear_scaled_lr(lr: float, batch: int, reference_batch: int) -> float:
    """The linear scaling rule (Goyal et al. 2017; mmengine's ``auto_scale_lr``): the
    learning rate ``lr`` published for a total batch of ``reference_batch``, for ``batch``."""
    return float(lr) * batch / reference_batch


def linear_lr(lr: float, *, _root_: DictConfig) -> float:
    """``${linear_lr:<published lr>}``: the published lr, or, with ``recipe.scale_lr: true``,
    that lr x (this run's total batch / the recipe's published ``recipe.total_batch``)."""
    recipe = _root_.get("recipe") or {}
    if not recipe.get("scale_lr", False):
        return float(lr)
    if recipe.get("total_batch") is None:
        raise ValueError("recipe.scale_lr=true needs recipe.total_batch, the published total batch")
    return linear_scaled_lr(lr, total_batch(_root_), int(recipe.total_batch))


def _compose(
    config_name: str, overrides: Sequence[str], return_hydra_config: bool = False
) -> DictConfig:
    # also inside a running command (hydra.main has initialised Hydra): composed aside, and
    # the command's Hydra state put back
    running = get_gh_backup()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            return hydra_compose(
                config_name=config_name,
                overrides=list(overrides),
                return_hydra_config=return_hydra_config,
            )
    finally:
        restore_gh_from_backup(running)


def suggest_key(cfg: DictConfig, dotted: str) -> str | None:
    """The key of ``cfg`` closest to the misspelt ``dotted`` (``model.optimzer.lr`` ->
    ``model.optimizer.lr``): each part that is not there replaced by its nearest sibling
    (difflib); None when some part has no near match."""
    node, parts = cfg, []
    for part in dotted.split("."):
        if isinstance(node, DictConfig) and part in node:
            parts.append(part)
        elif isinstance(node, DictConfig):
            close = difflib.get_close_matches(part, [str(k) for k in node.keys()], n=1,
                                              cutoff=0.6)
            if not close:
                return None
            parts.append(close[0])
        else:
            return None
        node = OmegaConf.select(cfg, ".".join(parts), default=None, throw_on_missing=False)
    return ".".join(parts) if parts != dotted.split(".") else None


def unknown_key_hint(
    config_name: str, overrides: Sequence[str], error: Exception | None = None
) -> str | None:
    """"Did you mean ...?" for the override that Hydra could not apply (``error``, else found
    by composing ``overrides``); None when the failure is not a misspelt key."""
    if error is None:
        try:
            _compose(config_name, overrides)
            return None
        except ConfigCompositionException as raised:
            error = raised
    found = re.search(r"Could not override '([^']+)'", str(error))
    if not found:
        return None
    key = found.group(1)
    others = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") != key]
    try:
        cfg = _compose(config_name, others)
    except ConfigCompositionException:
        return None
    suggestion = suggest_key(cfg, key)
    if suggestion is None:
        return None
    value = next((o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0] == key), "...")
    return f"Did you mean {suggestion}={value}?"


def run_with_key_hints(main: Callable[[], object], config_name: str) -> None:
    """Run a ``@hydra.main`` entry point; when it fails on a misspelt key (Hydra prints its
    error and exits with 1), add the :func:`unknown_key_hint` to what it printed."""
    try:
        main()
    except SystemExit as stop:
        if stop.code not in (0, None):
            overrides = [arg for arg in sys.argv[1:] if not arg.startswith("-")]
            hint = unknown_key_hint(config_name, overrides)
            if hint:
                print(hint, file=sys.stderr)
        raise


def register_resolvers() -> None:
    """The resolvers posekit's configs use: ``path_join``, ``size_div``, ``joint_weights``,
    ``pid``, ``auto_precision`` and ``linear_lr``."""
    resolvers = (
        ("path_join", path_join),
        ("size_div", size_div),
        ("joint_weights", joint_weights),
        ("pid", process_id),
        ("auto_precision", auto_precision),
        ("linear_lr", linear_lr),
    )
    for name, function in resolvers:
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, function)


def set_repo_root(root: str | Path = REPO_ROOT) -> None:
    """``paths.root_dir`` of the configs (``${oc.env:POSEKIT_ROOT}``), unless already set."""
    os.environ.setdefault("POSEKIT_ROOT", str(root))


def compose(
    config_name: str = "train",
    overrides: Sequence[str] = (),
    output_dir: str | Path | None = None,
    return_hydra_config: bool = False,
) -> DictConfig:
    """The config ``train.py`` (``config_name="train"``) or ``eval.py`` would compose from
    ``overrides``; ``output_dir`` sets ``paths.output_dir`` (the run folder)."""
    set_repo_root()
    try:
        cfg = _compose(config_name, overrides, return_hydra_config)
    except ConfigCompositionException as error:
        hint = unknown_key_hint(config_name, overrides, error)
        if hint is None:
            raise
        raise ConfigCompositionException(f"{error}\n{hint}") from error
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
    return cfg


def data_config(name: str, overrides: Sequence[str] = ()) -> DictConfig:
    """The composed ``data`` node of ``conf/data/<name>.yaml`` with ``data.<key>=...`` overrides."""
    known = sorted(p.stem for p in (CONF_DIR / "data").glob("*.yaml"))
    if name not in known:
        raise ValueError(f"unknown data set '{name}': expected one of {known}")
    return compose("train", [f"data={name}", *overrides]).data


register_resolvers()
