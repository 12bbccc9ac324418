"""What a run prints: its composed config as a tree first, its metrics as a table at the end."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table
from rich.tree import Tree

# the groups shown first, in this order; the others follow in the config's order
CONFIG_ORDER = ("data", "model", "callbacks", "logger", "trainer", "paths")


def config_tree(cfg: DictConfig, order: Sequence[str] = CONFIG_ORDER) -> Tree:
    """The resolved config as a tree: one branch per top-level group, its yaml beneath."""
    tree = Tree("CONFIG", style="dim", guide_style="dim")
    fields = [name for name in order if name in cfg]
    fields += [name for name in cfg if name not in fields and name != "hydra"]
    for name in fields:
        node = cfg[name]
        if OmegaConf.is_config(node):
            text = OmegaConf.to_yaml(node, resolve=True)
        else:
            text = str(node)
        tree.add(str(name), style="bold", guide_style="dim").add(Syntax(text.rstrip(), "yaml"))
    return tree


def print_config_tree(cfg: DictConfig) -> None:
    """Print :func:`config_tree` of ``cfg`` to standard output."""
    Console().print(config_tree(cfg))


def metrics_table(metrics: Mapping[str, Any]) -> Table:
    """Name and value per metric: numbers to 4 decimals, labels (``val/boxes``) as they are."""
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(name, f"{value:.4f}" if isinstance(value, float) else str(value))
    return table


def print_metrics(metrics: Mapping[str, Any], title: str = "metrics") -> None:
    """Print ``title`` and :func:`metrics_table` to standard output."""
    console = Console(width=max(80, max((len(name) for name in metrics), default=0) + 30))
    console.print(title, highlight=False)
    console.print(metrics_table(metrics))
