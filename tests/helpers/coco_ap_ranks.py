"""The COCO AP metric on each process of a 2-process gloo group (spawned by test_distributed;
kept light, as each process imports this module)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import yaml

from helpers import REPO
from posekit.metrics import CocoKeypointAP

SAMPLE_VAL = REPO / "data" / "sample" / "annotations" / "val.json"


def coco_case() -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor], list[float]]:
    """Every annotated person of the sample's val set, predicted with 3 px of noise."""
    annotations = [a for a in json.loads(SAMPLE_VAL.read_text())["annotations"]
                   if a.get("num_keypoints", 1) > 0]
    rng = np.random.default_rng(0)
    gt = np.array([a["keypoints"] for a in annotations], dtype=np.float32).reshape(-1, 17, 3)
    pred = gt[..., :2] + rng.normal(0, 3, size=gt[..., :2].shape).astype(np.float32)
    meta = {
        "sample_idx": torch.arange(len(annotations)),
        "bbox": torch.tensor([a["bbox"] for a in annotations], dtype=torch.float32),
        "bbox_score": torch.ones(len(annotations)),
        "image_id": torch.tensor([a["image_id"] for a in annotations]),
    }
    scores = torch.from_numpy(rng.uniform(0.3, 1.0, size=gt.shape[:2]).astype(np.float32))
    sigmas = yaml.safe_load((REPO / "conf" / "keypoints" / "coco.yaml").read_text())["sigmas"]
    return torch.from_numpy(pred), scores, meta, sigmas


def coco_ap_on_rank(rank: int, world_size: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world_size)
    pred, scores, meta, sigmas = coco_case()
    n = len(pred)
    # the DistributedSampler's split: pad by repeating the first samples, then every world_size-th
    padded = list(range(n)) + list(range(-n % world_size))
    shard = torch.tensor(padded[rank::world_size])
    metric = CocoKeypointAP(str(SAMPLE_VAL), sigmas)
    metric.update(pred[shard], scores[shard], {key: value[shard] for key, value in meta.items()})
    result = {key: float(value) for key, value in metric.compute().items()}
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps(result))
    dist.destroy_process_group()
