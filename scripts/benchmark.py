"""Throughput and memory of the data path and of training.

    python scripts/benchmark.py [--seconds 10] [--workers 0 1 2] [--batch-size 32] [--steps 20]
                                [--repeats 15] [--overhead-steps 20 100] [--overrides key=value ...]
                                [--json PATH] [--mmpose-python PYTHON]

Prints figures (it is not a test), in groups (scripts/benchmarks/):
  * data loading: the sample's training loader, samples/s per worker count (128x96, 256x192);
  * COCO-size JPEGs (1 core): decoding alone (full and at 1/2 scale) beside the whole training
    data path on the COCO fixture's 640x480 JPEGs, reduced decoding off and on, with the share
    of samples decoded at reduced scale, and grouped by image; with --mmpose-python, mmpose's
    data path on the same files (run in that interpreter);
  * trainer overhead: ms per step of the default Trainer (callbacks, logger, progress bar) over
    a bare loop on the same in-memory batches: median and spread of slopes over two step counts;
  * training step: images/s of the configured model on the CPU per precision and layout, and of
    HRNet-W32 256x192 SimCC on CUDA (fp32, bf16, channels_last, compiled) when a GPU exists;
  * memory: the targets per person by arithmetic and a training step's peak, per head;
  * scale (only with --groups ... scale): COCO-size annotation files written for the purpose
    (--scale-people): setup time cold and cached, peak memory, loader workers' private memory
    over --scale-samples samples, and COCO AP time of --scale-detections detected people over
    --scale-images images beside pycocotools alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import warnings
from dataclasses import asdict
from pathlib import Path

import torch
from hydra.utils import instantiate
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/benchmarks

from benchmarks.common import Row, compose_config  # noqa: E402
from benchmarks.data_path import data_rows  # noqa: E402
from benchmarks.memory import memory_rows  # noqa: E402
from benchmarks.scale import scale_rows  # noqa: E402
from benchmarks.trainer_overhead import overhead_rows  # noqa: E402
from benchmarks.training_step import training_rows  # noqa: E402

# the sample's loader at the configured size and at 256x192
EXTRA_OVERRIDES = ([], ["data.input_size=[192,256]"])


def loader_rows(args: argparse.Namespace) -> list[Row]:
    return data_rows([compose_config([*args.overrides, *extra]) for extra in EXTRA_OVERRIDES], args)


GROUPS = {"data": loader_rows, "overhead": overhead_rows, "training": training_rows,
          "memory": memory_rows, "scale": scale_rows}


def machine(args: argparse.Namespace) -> dict[str, object]:
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per loader measurement")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per row")
    parser.add_argument("--repeats", type=int, default=15, help="trainer-overhead repeats")
    parser.add_argument("--overhead-steps", type=int, nargs=2, default=[20, 100],
                        help="the two step counts of the trainer-overhead slope")
    parser.add_argument("--overhead-batch-size", type=int, default=1)
    parser.add_argument("--overrides", nargs="*", default=[], help="Hydra overrides, key=value")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--mmpose-python", metavar="PYTHON",
                        help="an interpreter with mmpose: adds mmpose's data path beside "
                             "posekit's on the COCO fixture (README: Performance)")
    parser.add_argument("--mmpose-rounds", type=int, default=5,
                        help="interleaved posekit / mmpose rounds of the data-path ratio")
    parser.add_argument("--groups", nargs="+", default=list(GROUPS)[:4], choices=list(GROUPS))
    parser.add_argument("--scale-people", type=int, nargs="+", default=[149_813])
    parser.add_argument("--scale-workers", type=int, default=2)
    parser.add_argument("--scale-samples", type=int, default=5000)
    parser.add_argument("--scale-detections", type=int, default=104_125)
    parser.add_argument("--scale-images", type=int, default=5000)
    parser.add_argument("--scale-rounds", type=int, default=3,
                        help="interleaved rounds of the COCO AP timing against pycocotools")
    parser.add_argument("--scale-mmpose-max", type=int, default=200_000,
                        help="largest file mmpose's CocoDataset is measured on (its memory)")
    parser.add_argument("--scale-dir", default=str(Path(tempfile.gettempdir()) / "posekit-scale"),
                        help="where the scale group writes its annotation files")
    args = parser.parse_args(argv)
    if args.overhead_steps[0] >= args.overhead_steps[1]:
        parser.error("--overhead-steps needs two increasing counts, e.g. 20 100")
    return args


def main(argv: list[str] | None = None) -> dict[str, object]:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", message=".*self.log")
    info = machine(args)
    rows = []
    for group in args.groups:
        rows += GROUPS[group](args)
    print_report(info, rows)
    result = {"machine": info, "rows": [asdict(row) for row in rows]}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
