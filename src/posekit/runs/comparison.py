"""One table comparing runs or checkpoints: a row per run, what it is, then its metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

DESCRIPTION_COLUMNS = ("experiment", "model", "head", "backbone", "input (WxH)", "overrides")


def distinct_overrides(overrides: list[list[str]]) -> list[str | None]:
    """Each row's overrides without those every row shares (all of them for a single row)."""
    common = set.intersection(*map(set, overrides)) if len(overrides) > 1 else set()
    return [" ".join(o for o in row if o not in common) or None for row in overrides]


def comparison_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows ``{"run": name, <description columns>, <other columns>, <metric>: value, ...}`` ->
    a DataFrame indexed by run: the description columns known for some run, the other non-metric
    columns, then the metrics (names with a ``/``, e.g. ``val/AP``) in sorted order."""
    if not rows:
        raise ValueError("nothing to compare")
    frame = pd.DataFrame(rows).set_index("run")
    if "overrides" in frame:
        frame["overrides"] = distinct_overrides([list(o or ()) for o in frame["overrides"]])
    description = [c for c in DESCRIPTION_COLUMNS if c in frame and frame[c].notna().any()]
    metrics = sorted(c for c in frame.columns if "/" in c)
    others = [c for c in frame.columns if c not in DESCRIPTION_COLUMNS and c not in metrics]
    return frame[description + others + metrics]


def format_table(
    frame: pd.DataFrame, drop: tuple[str, ...] = ("checkpoint",), index: bool = True
) -> str:
    """The table as text for the console (numbers with 4 decimals, wrapped at 120 columns)."""
    shown = frame.drop(columns=[c for c in drop if c in frame])
    return shown.to_string(
        float_format=lambda v: f"{v:.4f}", line_width=120, na_rep="-", index=index
    )


def write_comparison(frame: pd.DataFrame, output_dir: str | Path) -> Path:
    path = Path(output_dir) / "comparison.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path)
    return path
