r"""Check an exported model in this environment against eval.py's keypoints on a data set.

    python scripts/check_export.py exported=pose.onnx ckpt_path=<run folder | file.ckpt> \
        [data.root=/data/coco] [data.val_ann=...] [samples=200] [tolerance=0.5]
    # eval.py's keypoints where the model was trained, the exported model's where it runs:
    python scripts/check_export.py exported=pose.onnx ckpt_path=<run> save=eval_keypoints.npz
    python scripts/check_export.py exported=pose.onnx ckpt_path=<run> reference=eval_keypoints.npz

eval.py's path (the data loader's crops, the PyTorch model) predicts the validation set of the
run's data config (``data.root=...`` and ``data.<key>=value`` change it as for eval.py; a key
conf/check_export.yaml does not list is given as ``+data.<key>=value``); the exported model
(ONNX through onnxruntime, ``.pt`` TorchScript through torch.jit) predicts the same people from
crops cut as a deployment cuts them (box clipped to the image, the Predictor's crop; a
``crop_in_graph`` model gets the whole image and the boxes). Prints the
mean and max drift in image pixels per keypoint and exits with 1 when any exceeds ``tolerance``
px: a different OpenCV (crop interpolation), runtime or decoding shows here before it costs
accuracy. Options: conf/check_export.yaml.
"""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from posekit.analysis.export_check import export_drift, save_keypoints
from posekit.analysis.loading import load_run
from posekit.cli import command


@command("check_export", refuse=(ValueError, KeyError, FileNotFoundError))
def main(cfg: DictConfig) -> float:
    exported = Path(str(cfg.exported))
    fmt = "onnx" if exported.suffix == ".onnx" else "torchscript"
    changes = {k: v for k, v in OmegaConf.to_container(cfg.data).items() if v is not None}
    root = changes.pop("root", None)
    run = load_run(str(cfg.ckpt_path), data_root=root, **changes)
    drift = export_drift(run, exported, fmt, first=cfg.samples, reference=cfg.reference)
    if cfg.save:
        print(f"keypoints written to {save_keypoints(drift, str(cfg.save))}")
    source = f" of {cfg.reference}" if cfg.reference else ""
    print(f"{exported} ({fmt}) against eval.py's keypoints{source}, {len(drift.distances)} "
          f"people of {run.checkpoint}")
    print(drift.table.to_string(float_format=lambda v: f"{v:.3f}"))
    verdict = "within" if drift.max_px <= cfg.tolerance else "ABOVE"
    print(f"max drift {drift.max_px:.3f} px: {verdict} the tolerance of {cfg.tolerance} px")
    if drift.max_px > cfg.tolerance:
        sys.exit(1)
    return drift.max_px


if __name__ == "__main__":
    main()
