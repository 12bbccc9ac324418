"""Check an exported model in this environment against eval.py's keypoints on a data set.

    python scripts/check_export.py --model pose.onnx --checkpoint <run folder | file.ckpt> \
        [--data-root /data/coco] [data.val_ann=...] [--samples 200] [--tolerance 0.5]

eval.py's path (the data loader's crops, the PyTorch model) predicts the validation set of the
run's data config (``--data-root`` and ``data.<key>=value`` change it as for eval.py); the
exported model (ONNX through onnxruntime, ``.pt`` TorchScript through torch.jit) predicts the
same people from crops cut as a deployment cuts them (box clipped to the image, the Predictor's
crop). Prints the mean and max drift in image pixels per keypoint and exits with 1 when any
exceeds ``--tolerance`` px: a different OpenCV (crop interpolation), runtime or decoding shows
here before it costs accuracy.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from posekit.analysis.export_check import export_drift
from posekit.analysis.loading import load_run


def data_overrides(items: list[str]) -> dict[str, object]:
    """``data.<key>=value`` arguments as {key: value} (values read as YAML, as Hydra does)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("data.") or len(key) <= 5:
            raise ValueError(f"expected data.<key>=<value>, got {item!r}")
        out[key[5:]] = yaml.safe_load(value) if value else None
    return out


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, type=Path, help="the exported .onnx or .pt")
    parser.add_argument("--checkpoint", required=True, help="the run folder or .ckpt it came from")
    parser.add_argument("--data-root", help="the data set's root, as data.root for eval.py")
    parser.add_argument("--samples", type=int, help="check only the first N validation people")
    parser.add_argument("--tolerance", type=float, default=0.5, help="max drift in px (0.5)")
    parser.add_argument("overrides", nargs="*", help="data.<key>=<value>, as for eval.py")
    args = parser.parse_args(argv)
    fmt = "onnx" if args.model.suffix == ".onnx" else "torchscript"
    try:
        overrides = data_overrides(args.overrides)
        run = load_run(args.checkpoint, data_root=args.data_root, **overrides)
        drift = export_drift(run, args.model, fmt, first=args.samples)
    except (ValueError, KeyError, FileNotFoundError) as err:
        sys.exit(f"check_export.py: {err}")
    print(f"{args.model} ({fmt}) against eval.py's keypoints, {len(drift.distances)} people of "
          f"{run.checkpoint}")
    print(drift.table.to_string(float_format=lambda v: f"{v:.3f}"))
    verdict = "within" if drift.max_px <= args.tolerance else "ABOVE"
    print(f"max drift {drift.max_px:.3f} px: {verdict} the tolerance of {args.tolerance} px")
    if drift.max_px > args.tolerance:
        sys.exit(1)
    return drift.max_px


if __name__ == "__main__":
    main()
