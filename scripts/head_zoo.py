"""Train every head family on the bundled sample with one budget and tabulate them.

    python scripts/head_zoo.py [families=[heatmap,simcc]] [out=outputs/head_zoo] [threads=1]
                               [seconds=3] [measure_only=true] [train.py overrides ...]

The families and the shared budget are the ``zoo`` and ``budget`` of ``conf/head_zoo.yaml`` (one
line per family: its name and the train.py overrides that select it); train.py overrides given
on the command line are added to every family's, after the budget. Each family is trained with
train.py's task in this process (run folder ``<out>/<family>``); its best checkpoint is then
reloaded to count the parameters the predict path runs (auxiliary heads excluded) and to time
CPU inference (forward + decode, no flip test, batch 16, ``threads`` torch threads). Writes
``<out>/head_zoo.csv`` and ``<out>/head_zoo.md`` with val PCK@0.05, AP, parameters and
images/s; the markdown ends with the budget and timing conditions, also in
``<out>/head_zoo_budget.json``. Speeds are comparable within one run of the script (one
machine, one load); ``measure_only=true`` re-times the checkpoints of an earlier zoo in one go.
Options: conf/head_zoo.yaml.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import torch
from omegaconf import DictConfig

from posekit.cli import command, task_overrides
from posekit.config import compose
from posekit.engine.tasks import train
from posekit.models.checkpoint import load_model
from posekit.models.predict import identity_crops, predict_crops
from posekit.runs.folders import best_checkpoint

BATCH = 16
# this command's options; the other overrides given are train.py's
OWN_KEYS = ("families", "out", "threads", "seconds", "measure_only", "zoo", "budget")


def inference_rate(
    model: torch.nn.Module, input_size: tuple[int, int], seconds: float = 3.0
) -> float:
    """Images/s of forward + decode on random uint8 crops of ``input_size`` (W, H), on the CPU,
    over about ``seconds``."""
    width, height = input_size
    crops = torch.randint(0, 256, (BATCH, 3, height, width), dtype=torch.uint8)
    center, scale = identity_crops(BATCH, (width, height), crops.device)
    model = model.cpu().eval()
    with torch.no_grad():
        for _ in range(2):  # warm-up
            predict_crops(model, crops, center, scale, flip_test=False)
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            predict_crops(model, crops, center, scale, flip_test=False)
            count += BATCH
    return count / (time.perf_counter() - start)


def inference_parameters(model: torch.nn.Module) -> int:
    """Parameters of backbone, neck and head: what inference runs (not the auxiliary heads)."""
    parts = [model.backbone, model.head] + ([model.neck] if model.neck is not None else [])
    return sum(p.numel() for part in parts for p in part.parameters())


def run_family(
    name: str,
    family: list[str],
    shared: list[str],
    out: Path,
    threads: int,
    seconds: float,
    measure_only: bool = False,
) -> dict[str, object]:
    """Train one family (``shared`` + ``family`` overrides) and measure its best checkpoint;
    with ``measure_only``, measure the checkpoint and read the metrics of an earlier run."""
    run_dir = out / name
    cfg = compose("train", shared + family, output_dir=run_dir)
    if measure_only:
        metrics = json.loads((run_dir / "metrics.json").read_text())
    else:
        metrics = train(cfg)
    model = load_model(best_checkpoint(run_dir))
    training_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rate = inference_rate(model, tuple(cfg.data.input_size), seconds)
    finally:
        torch.set_num_threads(training_threads)
    return {
        "family": name,
        "overrides": " ".join(family),
        "PCK@0.05": metrics.get("val/PCK@0.05"),
        "AP": metrics.get("val/AP"),
        "params (M)": inference_parameters(model) / 1e6,
        "images/s": rate,
    }


def to_markdown(frame: pd.DataFrame) -> str:
    """A markdown table; absent values stay empty."""
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    lines = [header, rule]
    for _, row in frame.iterrows():
        cells = []
        for column in frame.columns:
            value = row[column]
            if value is None or (isinstance(value, float) and pd.isna(value)):
                cells.append("")
            elif column == "images/s":
                cells.append(f"{value:.0f}")
            elif isinstance(value, float):
                cells.append(f"{value:.3f}" if column != "params (M)" else f"{value:.2f}")
            else:
                cells.append(f"`{value}`" if column == "overrides" else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@command("head_zoo", refuse=(ValueError, FileNotFoundError))
def main(cfg: DictConfig) -> pd.DataFrame:
    families = {name: [str(o) for o in overrides] for name, overrides in cfg.zoo.items()}
    chosen = [cfg.families] if isinstance(cfg.families, str) else list(cfg.families or families)
    unknown = sorted(set(chosen) - set(families))
    if unknown:
        raise ValueError(f"unknown families {unknown}; the zoo (conf/head_zoo.yaml) lists "
                         f"{sorted(families)}")
    shared = [str(o) for o in cfg.budget] + task_overrides(exclude=OWN_KEYS)
    out = Path(cfg.out)
    rows = [
        run_family(name, families[name], shared, out, cfg.threads, cfg.seconds, cfg.measure_only)
        for name in chosen
    ]
    frame = pd.DataFrame(rows)
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "head_zoo.csv", index=False)
    conditions = budget_record(shared, cfg.threads, cfg.seconds)
    (out / "head_zoo_budget.json").write_text(json.dumps(conditions, indent=2) + "\n")
    table = to_markdown(frame) + "\n" + budget_markdown(conditions)
    (out / "head_zoo.md").write_text(table)
    print(table)
    return frame


def budget_record(shared: list[str], threads: int, seconds: float) -> dict:
    """What every row of the table shares: the training budget (the overrides given to every
    family) and how speed was timed."""
    return {
        "budget": list(shared),
        "timing": {"batch": BATCH, "torch_threads": threads, "seconds_per_family": seconds,
                   "flip_test": False, "torch": torch.__version__},
    }


def budget_markdown(conditions: dict) -> str:
    """The budget and timing under the table, so that a copied table keeps its conditions."""
    timing = conditions["timing"]
    return (
        "Budget (every family): " + ", ".join(f"`{o}`" for o in conditions["budget"]) + ".\n"
        f"images/s: CPU, batch {timing['batch']}, {timing['torch_threads']} torch threads, "
        f"{timing['seconds_per_family']} s per family, no flip test, torch {timing['torch']}.\n"
    )


if __name__ == "__main__":
    main()
