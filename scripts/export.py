r"""Export a trained model to ONNX or TorchScript and check it against PyTorch.

    python scripts/export.py ckpt_path=<run folder | file.ckpt> format=onnx|torchscript \
        [with_decode=true] [flip_test=true] [input_dtype=uint8|float32] out=model.onnx \
        [trusted_modules=[mypkg.backbones]] [crop_in_graph=true]

Input ``image`` (N, 3, H, W): RGB person crops, pixel values 0-255 (uint8 unless
``input_dtype=float32``), at the model's input size, cut as ``posekit.deploy.predictor`` cuts them;
normalisation is inside; the batch is dynamic. Outputs: the head's outputs (``simcc_x``,
``simcc_y`` or ``heatmaps``) or, with ``with_decode=true``, ``keypoints`` (N, K, 2) in crop pixels
and ``scores`` (N, K) (DARK refinement is not in the graph). After writing, the exported model
runs (onnxruntime / torch.jit) on a random batch beside PyTorch; the max abs difference is
printed and the script fails when it exceeds 1e-4. With ``crop_in_graph=true`` (ONNX) the
graph takes one whole ``image`` (H, W, 3) and ``boxes`` (N, 4) xywh and gives ``keypoints``
(N, K, 2) in image pixels and ``scores`` (N, K): the crop is cut inside it as eval.py cuts
it. Options: conf/export.yaml.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from posekit.cli import command
from posekit.deploy.export import PARITY_TOLERANCE, ParityError, export
from posekit.deploy.predictor import DEFAULT_BBOX_PADDING, resolve_checkpoint
from posekit.models.checkpoint import load_model


@command("export", refuse=(ValueError, FileNotFoundError, ParityError))
def main(cfg: DictConfig) -> float:
    checkpoint = resolve_checkpoint(str(cfg.ckpt_path))
    model = load_model(checkpoint, list(cfg.trusted_modules))
    difference = export(
        model,
        Path(str(cfg.out)),
        format=cfg.format,
        with_decode=cfg.with_decode,
        flip_test=cfg.flip_test,
        input_dtype=cfg.input_dtype,
        crop_in_graph=cfg.crop_in_graph,
        bbox_padding=model.run_config.get("data", {}).get("bbox_padding", DEFAULT_BBOX_PADDING),
    )
    print(
        f"wrote {cfg.out} from {checkpoint}; max abs difference to PyTorch on a random batch: "
        f"{difference:.3g} (tolerance {PARITY_TOLERANCE})"
    )
    return difference


if __name__ == "__main__":
    main()
