"""The effective training recipe of a composed config beside its reference's values.

A published recipe records the reference's values under ``recipe.reference``: posekit config key
-> ``[value, source]`` (the reference's file and line). :func:`card_rows` lists the effective
recipe section by section (batch, schedule, optimizer, precision, augmentation, validation),
puts each reference value beside the key it belongs to and flags every difference; reference
keys that no section lists come last, so none goes unshown.
"""

from __future__ import annotations

import inspect
import math
import warnings
from dataclasses import dataclass
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from posekit.config import total_batch

ABSENT = "(absent)"


@dataclass(frozen=True)
class Row:
    """One line of the card: the effective value, the reference's (if recorded) and its source."""

    section: str
    key: str
    value: Any
    reference: Any = None
    source: str = ""
    has_reference: bool = False
    note: str = ""
    unknown: bool = False  # posekit's value cannot be computed from the config (shown, flagged)

    @property
    def differs(self) -> bool:
        return self.has_reference and not self.unknown and not same(self.value, self.reference)


def plain(value: Any) -> Any:
    """Plain Python values of config nodes (interpolations resolved)."""
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def same(a: Any, b: Any) -> bool:
    """Equal values, numbers to 1e-9 relative, lists element by element."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def lookup(cfg: DictConfig, key: str) -> Any:
    value = OmegaConf.select(cfg, key, default=ABSENT)
    return plain(value)


def iterations_per_epoch(cfg: DictConfig) -> tuple[int | None, int | None]:
    """(posekit's, the reference's) optimizer steps per epoch from ``recipe.train_size``:
    posekit's training loader drops the last partial batch, the references' loaders keep it."""
    size = OmegaConf.select(cfg, "recipe.train_size")
    reference_batch = OmegaConf.select(cfg, "recipe.total_batch")
    if size is None:
        return None, None
    ours = size // total_batch(cfg)
    theirs = math.ceil(size / reference_batch) if reference_batch else None
    return ours, theirs


def schedule_points(cfg: DictConfig, steps_per_epoch: int | None) -> list[tuple[str, int, float]]:
    """(point, iteration, learning rate) at the schedule's points: ``start``, ``end of
    warm-up``, each milestone (``epoch E``), ``end of flat stage``, ``restart``, ``last step``.
    A recipe records the reference's values as ``recipe.reference["lr at <point>"]``."""
    node = cfg.model.get("scheduler")
    if node is None or steps_per_epoch is None:
        return []
    lr = float(cfg.model.optimizer.lr)
    factory = instantiate(node)
    per_step = cfg.model.get("scheduler_interval", "epoch") == "step"
    kwargs = {"steps_per_epoch": steps_per_epoch} if "steps_per_epoch" in inspect.signature(factory).parameters else {}
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = factory(optimizer=optimizer, **kwargs)
    epochs = int(cfg.trainer.max_epochs)
    unit = steps_per_epoch if not per_step else 1
    points = {0: "start"}
    if node.get("warmup_iters"):
        points[int(node.warmup_iters)] = "end of warm-up"
    for milestone in node.get("milestones") or []:
        points[int(milestone) * steps_per_epoch] = f"epoch {milestone}"
    if node.get("flat_epochs"):
        points[int(node.flat_epochs) * steps_per_epoch] = "end of flat stage"
    if node.get("restart_epoch"):
        points[int(node.restart_epoch) * steps_per_epoch] = "restart"
    points[epochs * steps_per_epoch - 1] = "last step"
    lrs, step = {}, 0
    wanted = sorted(points)
    with warnings.catch_warnings():  # no optimizer steps here: only the schedule is read
        warnings.simplefilter("ignore", UserWarning)
        for target in wanted:  # step the scheduler (per step, or per epoch) up to each point
            while step + unit <= target:
                scheduler.step()
                step += unit
            lrs[target] = optimizer.param_groups[0]["lr"]
    return [(points[t], t, lrs[t]) for t in wanted]


def optimizer_groups(cfg: DictConfig) -> list[tuple[str, str]]:
    """(name, 'N tensors, lr, weight decay') of each parameter group of the recipe's model,
    built untrained."""
    from posekit.models.optim import build_optimizer

    model_cfg = cfg.model.copy()
    if "backbone" in model_cfg and "pretrained" in model_cfg.backbone:
        model_cfg.backbone.pretrained = False
    module = instantiate(model_cfg)
    optimizer = build_optimizer(module.optimizer_factory, module, module.backbone_lr_mult)
    rows = []
    for index, group in enumerate(optimizer.param_groups):
        count = sum(p.numel() for p in group["params"])
        name = group.get("name", f"group {index}")
        rows.append((name, f"{len(group['params'])} tensors ({count:,} values), lr {group['lr']:g}, "
                           f"weight decay {group.get('weight_decay', 0):g}"))
    return rows


def photometric_rows(node: Any, prefix: str, section: str) -> list[Row]:
    if node is None:
        return [Row(section, prefix, None)]
    rows = []
    for index, transform in enumerate(node.get("transforms", [])):
        settings = {k: plain(v) for k, v in transform.items() if k != "_target_"}
        name = str(transform._target_).rsplit(".", 1)[-1]
        rows.append(Row(section, f"{prefix}.transforms[{index}]", f"{name} {settings}"))
    return rows


def card_rows(cfg: DictConfig, with_optimizer_groups: bool = True) -> list[Row]:
    """The card's rows for the composed config ``cfg``."""
    reference = {str(k): plain(v) for k, v in (OmegaConf.select(cfg, "recipe.reference") or {}).items()}
    shown: set[str] = set()
    rows: list[Row] = []

    def add(section: str, key: str, value: Any = ABSENT) -> None:
        value = lookup(cfg, key) if value is ABSENT else value
        entry = reference.get(key)
        shown.add(key)
        rows.append(Row(section, key, value, *(entry if entry else (None, "")), has_reference=bool(entry)))

    add("batch", "data.batch_size")
    for key in ("trainer.devices", "trainer.num_nodes", "trainer.accumulate_grad_batches"):
        add("batch", key)
    if OmegaConf.select(cfg, "recipe.total_batch") is not None:
        shown.add("recipe.total_batch")
        entry = reference.get("recipe.total_batch") or (cfg.recipe.total_batch, "recipe.total_batch")
        rows.append(Row("batch", "total batch", total_batch(cfg), entry[0], entry[1], True))
    ours, theirs = iterations_per_epoch(cfg)
    if ours is not None:
        rows.append(Row("batch", f"iterations per epoch ({cfg.recipe.train_size:,} people)", ours, theirs,
                        "ceil(train_size / published total batch): the reference keeps the last batch",
                        theirs is not None))
    add("schedule", "trainer.max_epochs")
    for key in sorted(cfg.model.get("scheduler") or {}):
        if not str(key).startswith("_"):
            add("schedule", f"model.scheduler.{key}")
    per_epoch = cfg.model.get("scheduler_interval", "epoch") == "epoch"
    # without the data set's size an epoch-stepped schedule is still known epoch by epoch
    steps, unit = (ours, "iteration") if ours is not None else ((1, "epoch") if per_epoch else (None, ""))
    for point, iteration, lr in schedule_points(cfg, steps):
        key = f"lr at {point}"
        entry = reference.get(key)
        shown.add(key)
        rows.append(Row("schedule", key, lr, *(entry if entry else (None, "")),
                        has_reference=bool(entry), note=f"{unit} {iteration}"))
    for key in sorted(k for k in set(reference) - shown if k.startswith("lr at ")):
        shown.add(key)
        rows.append(Row("schedule", key, None, *reference[key], has_reference=True, unknown=True,
                        note="unknown: the steps per epoch need recipe.train_size"))
    for key in sorted(cfg.model.optimizer):
        if key != "_partial_":
            add("optimizer", f"model.optimizer.{key}")
    add("optimizer", "recipe.scale_lr")
    if with_optimizer_groups:
        for name, text in optimizer_groups(cfg):
            rows.append(Row("optimizer", f"group {name}", text))
    for key in ("trainer.precision", "trainer.sync_batchnorm", "trainer.gradient_clip_val"):
        add("precision", key)
    for key in sorted(cfg.data.get("augmentation") or {}):
        if not str(key).startswith("_"):
            add("augmentation", f"data.augmentation.{key}")
    shown.add("data.photometric")
    if "data.photometric" in reference:
        add("augmentation", "data.photometric", "set" if cfg.data.get("photometric") else None)
    rows.extend(photometric_rows(cfg.data.get("photometric"), "data.photometric", "augmentation"))
    switch = OmegaConf.select(cfg, "callbacks.augmentation_switch")
    if switch is not None:
        add("augmentation", "callbacks.augmentation_switch.epoch")
        for key in sorted(switch.settings.get("augmentation") or {}):
            if not str(key).startswith("_"):
                add("augmentation", f"callbacks.augmentation_switch.settings.augmentation.{key}")
        rows.extend(photometric_rows(switch.settings.get("photometric"),
                                     "callbacks.augmentation_switch.settings.photometric", "augmentation"))
    for key in ("model.flip_test", "data.use_det_boxes", "model.codec.score_rule",
                "model.codec.flip_average_of", "data.monitor"):
        if OmegaConf.select(cfg, key, default=ABSENT) is not ABSENT or key in reference:
            add("validation", key)
    for key in sorted(set(reference) - shown):
        add("other", key)
    return rows


def render(rows: list[Row], title: str) -> Any:
    """A rich table of the rows, differences in red."""
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for column in ("section", "key", "posekit", "reference", "source", ""):
        table.add_column(column, overflow="fold")
    for row in rows:
        flag = "[bold red]DIFFERS[/]" if row.differs else (
            "[yellow]UNKNOWN[/]" if row.unknown else ("same" if row.has_reference else ""))
        source = "; ".join(part for part in (row.note, row.source) if part)
        table.add_row(row.section, row.key, repr(row.value), repr(row.reference) if row.has_reference else "",
                      source, flag)
    return table
