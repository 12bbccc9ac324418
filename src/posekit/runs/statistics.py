"""Is a difference between runs larger than the noise?

Two questions, two tools:

* Several seeds of one setting: the mean of each metric and the half-width of its 95 % Student-t
  interval over the seeds (:func:`seed_interval`, :func:`over_seeds`). The README's two seeds of
  the default model differ by 5 AP points; an interval over seeds says how far apart settings
  must be before their order means anything.
* Two checkpoints on the same people: a paired bootstrap over people (:func:`paired_bootstrap`)
  of a per-person score (each person's best OKS): the 95 % interval of the mean difference.
  When it holds 0 the difference is inside the noise of this validation set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95


def seed_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Mean and half-width of the Student-t ``confidence`` interval of the mean (n >= 2)."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        raise ValueError(f"an interval over seeds needs at least 2 values, got {x.size}")
    half = stats.t.ppf((1 + confidence) / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return float(x.mean()), float(half)


def over_seeds(
    rows: Sequence[dict[str, Any]], setting: Callable[[dict[str, Any]], str], metrics: Sequence[str]
) -> pd.DataFrame | None:
    """One row per setting run with two or more seeds: ``setting`` (what a row is, its seed
    left out), ``seeds`` (how many), then ``<metric>`` (the mean) and ``<metric> ±95%`` (the
    half-width) per metric; None when no setting has two runs."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(setting(row), []).append(row)
    table = []
    for name, members in groups.items():
        if len(members) < 2:
            continue
        entry: dict[str, Any] = {"setting": name, "seeds": len(members)}
        for metric in metrics:
            values = [m[metric] for m in members if isinstance(m.get(metric), float)]
            if len(values) >= 2:
                entry[metric], entry[f"{metric} ±95%"] = seed_interval(values)
        table.append(entry)
    return pd.DataFrame(table).set_index("setting") if table else None


def without_seed(overrides: Sequence[str] | str | None) -> str:
    """Overrides (a list or one space-separated string) without ``seed=...``."""
    items = overrides.split() if isinstance(overrides, str) else list(overrides or ())
    return " ".join(o for o in items if not o.lstrip("+").startswith("seed=")) or "(defaults)"


@dataclass
class PairedDifference:
    """Mean of ``b - a`` over paired people and its bootstrap interval."""

    mean: float
    low: float
    high: float
    people: int

    @property
    def inside_noise(self) -> bool:
        return self.low <= 0.0 <= self.high

    def describe(self) -> str:
        verdict = "inside the noise" if self.inside_noise else "beyond the noise"
        return (
            f"{self.mean:+.4f} (95% CI {self.low:+.4f} to {self.high:+.4f}, "
            f"{self.people} people): {verdict}"
        )


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, resamples: int = 2000, seed: int = 0,
    confidence: float = CONFIDENCE,
) -> PairedDifference:
    """Percentile bootstrap of ``mean(b - a)`` over people: ``a`` and ``b`` (P,) are the same
    people's scores under two models; people are drawn with replacement ``resamples`` times."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(
            f"paired scores must be two equal, non-empty 1-D arrays: {a.shape}, {b.shape}"
        )
    difference = b - a  # (P,)
    draws = np.random.default_rng(seed).integers(0, difference.size, (resamples, difference.size))
    means = difference[draws].mean(axis=1)  # (resamples,)
    low, high = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return PairedDifference(float(difference.mean()), float(low), float(high), difference.size)
