"""Measure a SimCC checkpoint of the sample under posekit's rules and under the references'.

    python scripts/protocol_rules.py ckpt_path=logs/train/runs/<run>   # or its .ckpt

Prints one markdown row per rule set: AP, PCK, people kept by OKS-NMS and distinct person
scores (README "Protocols to the letter" shows the result):

* with ground-truth boxes: PCK@0.05 and AP for the SimCC score rules (relative, mean, min, raw)
  and flip shifts (exact, none = mmpose, one_bin = official SimCC);
* with detected boxes: the sample has none, so this writes a detections file made from its
  ground-truth boxes (each box jittered, plus a duplicate moved by a tenth of its width, with
  random scores; seed 0; written into ``work``) and reports AP under each rescoring and
  OKS-NMS area.

Options: conf/protocol_rules.yaml.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from posekit.analysis.predict import Predictions, predict_dataset
from posekit.cli import command
from posekit.codecs import SimCCCodec
from posekit.config import compose
from posekit.deploy.predictor import resolve_checkpoint
from posekit.metrics import CocoKeypointAP, PCKMetric
from posekit.models.checkpoint import load_model


def fake_detections(ann_file: Path, out: Path, seed: int = 0) -> Path:
    """Two detections per labelled person of ``ann_file``: the box jittered by 5 % and a
    duplicate moved right by 10 % of its width, scores uniform in [0.5, 1)."""
    rng = np.random.default_rng(seed)
    detections = []
    for ann in json.loads(ann_file.read_text())["annotations"]:
        x, y, w, h = ann["bbox"]
        for dx in (0.0, 0.1 * w):
            jitter = rng.normal(0, 0.05, 4) * [w, h, w, h]
            box = [x + dx + jitter[0], y + jitter[1], w + jitter[2], h + jitter[3]]
            detections.append({"image_id": ann["image_id"], "category_id": 1, "bbox": box,
                               "score": float(rng.uniform(0.5, 1.0))})
    out.write_text(json.dumps(detections))
    return out


def datamodule(ckpt_cfg, det_file: Path | None):
    overrides = [f"data.input_size=[{','.join(map(str, ckpt_cfg.model.codec.input_size))}]",
                 "data.num_workers=0"]
    if det_file is not None:
        overrides += ["data.use_det_boxes=true", f"data.val_det_file={det_file}"]
    cfg = compose("eval", ["ckpt_path=unused", *overrides])
    with open_dict(cfg):
        cfg.model = ckpt_cfg.model
    return instantiate(cfg.data)


def predict(model, data, **codec_options) -> Predictions:
    saved = model.codec
    options = {k: getattr(saved, k) for k in ("input_size", "split_ratio", "sigma", "label_type",
                                               "label_smoothing", "normalize", "flip_average_of")}
    model.codec = SimCCCodec(**{**options, "score_rule": saved.score_rule,
                                "flip_shift": saved.flip_shift_rule, **codec_options})
    try:
        return predict_dataset(model, data)
    finally:
        model.codec = saved


def scores(predictions: Predictions, data, **metric_options) -> dict[str, float]:
    meta = {"sample_idx": predictions.sample_idx, "gt_keypoints": predictions.gt_keypoints,
            "bbox": predictions.boxes, "bbox_score": predictions.box_scores,
            "image_id": predictions.image_ids, "area": predictions.areas,
            "scale": predictions.crop_scales}
    meta = {key: torch.from_numpy(value) for key, value in meta.items()}
    keypoints = torch.from_numpy(predictions.keypoints)  # (N, K, 2)
    kpt_scores = torch.from_numpy(predictions.scores)  # (N, K)
    ap_metric = CocoKeypointAP(str(data.resolve(data.val_ann)), spec=data.spec,
                               use_detections=data.use_det_boxes, **metric_options)
    ap_metric.update(keypoints, kpt_scores, meta)
    results = ap_metric.results()
    values = {"AP": float(ap_metric.compute()["AP"]), "kept": f"{len(results)}/{len(keypoints)}",
              "distinct": len({round(r["score"], 6) for r in results})}
    if not data.use_det_boxes:
        pck = PCKMetric(thresholds=[0.05], spec=data.spec)
        pck.update(keypoints, kpt_scores, meta)
        values["PCK@0.05"] = float(pck.compute()["PCK@0.05"])
    return values


@command("protocol_rules", refuse=(ValueError, FileNotFoundError))
def main(cfg: DictConfig) -> None:
    ckpt = resolve_checkpoint(cfg.ckpt_path)
    model = load_model(ckpt)
    if not isinstance(model.codec, SimCCCodec):
        raise ValueError(f"{ckpt} decodes with {type(model.codec).__name__}: the rules compared "
                         "here are SimCC's (score rule, flip shift); give a SimCC checkpoint")
    ckpt_cfg = OmegaConf.create(model.run_config)
    gt = datamodule(ckpt_cfg, None)
    print("| boxes | rule | PCK@0.05 | AP | people kept | distinct person scores |")
    print("|---|---|---|---|---|---|")
    for label, options, metric_options in [
        ("score relative (posekit), flip exact", {"score_rule": "relative"}, {}),
        ("score mean (posekit before)", {"score_rule": "mean"}, {}),
        ("score min, threshold 0.2", {"score_rule": "min"}, {}),
        ("score min, threshold 0.01 (official SimDR*)", {"score_rule": "min"},
         {"score_threshold": 0.01}),
        ("score raw (mmpose)", {"score_rule": "raw"}, {}),
        ("flip none (mmpose)", {"flip_shift": "none"}, {}),
        ("flip one_bin (official SimCC)", {"flip_shift": "one_bin"}, {}),
    ]:
        values = scores(predict(model, gt, **options), gt, **metric_options)
        print(f"| ground truth | {label} | {values['PCK@0.05']:.4f} | {values['AP']:.4f} | "
              f"{values['kept']} | {values['distinct']} |")
    work = Path(cfg.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    det = datamodule(ckpt_cfg, fake_detections(gt.resolve(gt.val_ann), work / "detections.json"))
    for rule in ("relative", "mean"):
        predictions = predict(model, det, score_rule=rule)
        for metric_options in ({}, {"nms_area": "padded"}, {"rescoring": "bbox_rle"}):
            values = scores(predictions, det, **metric_options)
            shown = ", ".join(f"{k} {v}" for k, v in metric_options.items()) or "posekit"
            print(f"| 2 per person, jittered | score {rule}; {shown} | absent | "
                  f"{values['AP']:.4f} | {values['kept']} | {values['distinct']} |")


if __name__ == "__main__":
    main()
