"""Throughput and memory of the data path and of training.

    python scripts/benchmark.py [seconds=10] [workers=[0,1,2]] [batch_size=32] [steps=20]
                                [repeats=15] [overhead_steps=[20,100]] [json=PATH]
                                [mmpose_python=PYTHON] [groups=[data,...]] [train.py overrides]

Prints figures (it is not a test), in groups (scripts/benchmarks/):
  * data loading: the sample's training loader, samples/s per worker count (128x96, 256x192);
  * COCO-size JPEGs (1 core): decoding alone (full and at 1/2 scale) beside the whole training
    data path on the COCO fixture's 640x480 JPEGs, reduced decoding off and on, with the share
    of samples decoded at reduced scale, and grouped by image; with mmpose_python=..., mmpose's
    data path on the same files (run in that interpreter);
  * trainer overhead: ms per step of the default Trainer (callbacks, logger, progress bar) over
    a bare loop on the same in-memory batches: median and spread of slopes over two step counts;
  * training step: images/s of the configured model on the CPU per precision and layout, and of
    HRNet-W32 256x192 SimCC on CUDA (fp32, bf16, channels_last, compiled) when a GPU exists;
  * memory: the targets per person by arithmetic and a training step's peak, per head;
  * scale (only with groups=[scale] or a list that names it): COCO-size annotation files written
    for the purpose (scale.people): setup time cold and cached, peak memory, loader workers'
    private memory over scale.samples samples, and COCO AP time of scale.detections detected
    people over scale.images images beside pycocotools alone;
  * export (only with groups=[export] or a list that names it): one 1280x720 image of 10 people
    through onnxruntime, crops cut outside (cv2) against crop_in_graph, and the crops alone.

train.py overrides (``data.input_size=[192,256]``, ``model=heatmap``, ...) change the
configuration measured. Options: conf/benchmark.yaml.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import warnings
from dataclasses import asdict
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/benchmarks

from benchmarks.common import Row, compose_config  # noqa: E402
from benchmarks.data_path import data_rows  # noqa: E402
from benchmarks.export_latency import export_rows  # noqa: E402
from benchmarks.memory import memory_rows  # noqa: E402
from benchmarks.scale import scale_rows  # noqa: E402
from benchmarks.trainer_overhead import overhead_rows  # noqa: E402
from benchmarks.training_step import training_rows  # noqa: E402

from posekit.cli import command, task_overrides  # noqa: E402

# the sample's loader at the configured size and at 256x192
EXTRA_OVERRIDES = ([], ["data.input_size=[192,256]"])


def loader_rows(args: DictConfig) -> list[Row]:
    return data_rows([compose_config([*args.overrides, *extra]) for extra in EXTRA_OVERRIDES], args)


GROUPS = {"data": loader_rows, "overhead": overhead_rows, "training": training_rows,
          "memory": memory_rows, "scale": scale_rows, "export": export_rows}


def machine(args: DictConfig) -> dict[str, object]:
    cfg = compose_config(args.overrides)
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "model_parameters": sum(p.numel() for p in instantiate(cfg.model).parameters()),
    }


def print_report(info: dict[str, object], rows: list[Row]) -> None:
    table = Table(title="posekit benchmark", caption=", ".join(f"{k} {v}" for k, v in info.items()))
    for column in ("group", "setting", "value", "spread", "per worker", "note"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for row in rows:
        per_worker = f"{row.per_worker:,.0f}" if row.per_worker is not None else ""
        table.add_row(row.group, row.setting, f"{row.value:,.2f} {row.unit}", row.spread,
                      per_worker, row.note)
    Console(width=160).print(table)


# this command's options; the other overrides given are train.py's
OWN_KEYS = ("groups", "seconds", "workers", "batch_size", "steps", "repeats", "overhead_steps",
            "overhead_batch_size", "json", "mmpose_python", "mmpose_rounds", "scale")


def options(cfg: DictConfig) -> DictConfig:
    """This command's options of ``cfg``, checked, with the train.py ``overrides`` given: what
    the measurements (scripts/benchmarks/) read."""
    unknown = sorted(set(cfg.groups) - set(GROUPS))
    if unknown:
        raise ValueError(f"unknown groups {unknown}; choose from {list(GROUPS)}")
    few, many = cfg.overhead_steps
    if few >= many:
        raise ValueError("overhead_steps needs two increasing counts, e.g. overhead_steps=[20,100]")
    chosen = OmegaConf.to_container(OmegaConf.masked_copy(cfg, list(OWN_KEYS)), resolve=True)
    return OmegaConf.create({**chosen, "overrides": task_overrides(exclude=OWN_KEYS)})


@command("benchmark", refuse=(ValueError))
def main(cfg: DictConfig) -> dict[str, object]:
    args = options(cfg)
    warnings.filterwarnings("ignore", message=".*self.log")
    info = machine(args)
    rows = []
    for group in args.groups:
        rows += GROUPS[group](args)
    print_report(info, rows)
    result = {"machine": info, "rows": [asdict(row) for row in rows]}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
