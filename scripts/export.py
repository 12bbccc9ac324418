"""Export a trained model to ONNX or TorchScript and check it against PyTorch.

    python scripts/export.py --checkpoint <run folder | file.ckpt> --format onnx|torchscript
                             [--with-decode] [--flip-test] [--input-dtype uint8|float32]
                             --out model.onnx [--trust <module>]

Input ``image`` (N, 3, H, W): RGB person crops, pixel values 0-255 (uint8 unless
``--input-dtype float32``), at the model's input size, cut as ``posekit.deploy.predictor`` cuts them;
normalisation is inside; the batch is dynamic. Outputs: the head's outputs (``simcc_x``,
``simcc_y`` or ``heatmaps``) or, with ``--with-decode``, ``keypoints`` (N, K, 2) in crop pixels
and ``scores`` (N, K) (DARK refinement is not in the graph). After writing, the exported model
runs (onnxruntime / torch.jit) on a random batch beside PyTorch; the max abs difference is
printed and the script fails when it exceeds 1e-4.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from posekit.deploy.export import FORMATS, INPUT_DTYPES, PARITY_TOLERANCE, export
from posekit.deploy.predictor import resolve_checkpoint
from posekit.models.checkpoint import load_model


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", required=True, help="a .ckpt file or a run folder")
    parser.add_argument("--format", choices=FORMATS, default="onnx")
    parser.add_argument("--with-decode", action="store_true", help="output keypoints and scores")
    parser.add_argument("--flip-test", action="store_true", help="average with the flipped crop")
    parser.add_argument("--input-dtype", choices=sorted(INPUT_DTYPES), default="uint8")
    parser.add_argument("--out", required=True, type=Path, help="the file to write")
    parser.add_argument(
        "--trust", action="append", default=[], metavar="MODULE",
        help="a module whose classes the checkpoint's config may build (a custom backbone)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> float:
    args = parse_args(argv)
    checkpoint = resolve_checkpoint(args.checkpoint)
    model = load_model(checkpoint, args.trust)
    difference = export(
        model,
        args.out,
        format=args.format,
        with_decode=args.with_decode,
        flip_test=args.flip_test,
        input_dtype=args.input_dtype,
    )
    print(
        f"wrote {args.out} from {checkpoint}; max abs difference to PyTorch on a random batch: "
        f"{difference:.3g} (tolerance {PARITY_TOLERANCE})"
    )
    return difference


if __name__ == "__main__":
    main()
