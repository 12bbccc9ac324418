"""Mixtures of the shared fixtures: config overrides pointing a mixture's sources at them, face
and hand sets cut from the Halpe fixture, and a module whose predictions are the truth plus a
fixed error (so that metrics take values that are neither 0 nor 1)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from posekit.models.pose_module import TopDownPoseModule

# source -> (folder under the fixtures, annotation file, image folder) for COCO-format fixtures
FIXTURE_SETS = {
    "coco": ("coco", "test_coco.json", "."),
    "aic": ("aic", "test_aic.json", "."),
    "crowdpose": ("crowdpose", "test_crowdpose.json", "."),
    "halpe": (".", "halpe/test_halpe.json", "coco"),
}
# the keypoint ranges of Halpe-136 that the face and hand fixtures are cut from
HALPE_PARTS = {"face": (26, 94), "hand": (115, 136)}


def source_overrides(name: str, fixtures_dir: Path, mpii_root: Path | None = None,
                     kind: str | None = None) -> list[str]:
    """``data.sources.<name>.*`` overrides reading the fixture of data set ``kind`` (= name)."""
    kind = kind or name
    key = f"data.sources.{name}"
    if kind == "mpii":
        return [f"{key}.root={mpii_root}"]
    folder, ann, images = FIXTURE_SETS[kind]
    return [f"{key}.root={fixtures_dir / folder}", f"{key}.train_ann={ann}", f"{key}.val_ann={ann}",
            f"{key}.train_images={images}", f"{key}.val_images={images}"]


def write_halpe_part(part: str, fixtures_dir: Path, out_dir: Path) -> Path:
    """A COCO-format set of one Halpe-136 part (``face``: 68 landmarks, ``hand``: the right hand's
    21) cut from the Halpe fixture, boxes around the labelled keypoints; returns its root."""
    start, end = HALPE_PARTS[part]
    data = json.loads((fixtures_dir / "halpe" / "test_halpe.json").read_text())
    annotations = []
    for ann in data["annotations"]:
        keypoints = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)[start:end]
        labelled = keypoints[keypoints[:, 2] > 0, :2]
        if len(labelled) < 4:
            continue
        (x1, y1), (x2, y2) = labelled.min(0) - 4, labelled.max(0) + 4
        annotations.append({**ann, "keypoints": keypoints.ravel().tolist(),
                            "num_keypoints": len(labelled), "bbox": [x1, y1, x2 - x1, y2 - y1],
                            "area": float((x2 - x1) * (y2 - y1))})
    root = out_dir / part
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        (root / "annotations" / f"{split}.json").write_text(
            json.dumps({**data, "annotations": annotations}))
    return root


def halpe_mixture_overrides(fixtures_dir: Path, out_dir: Path) -> list[str]:
    """``data=halpe136_face_hand`` on the Halpe fixture and face / hand sets cut from it."""
    overrides = source_overrides("halpe", fixtures_dir)
    for part in HALPE_PARTS:
        root = write_halpe_part(part, fixtures_dir, out_dir)
        overrides += [f"data.sources.{part}.root={root}",
                      f"data.sources.{part}.train_images={fixtures_dir / 'coco'}",
                      f"data.sources.{part}.val_images={fixtures_dir / 'coco'}"]
    return overrides


def truth_with_error(gt_keypoints: torch.Tensor, sample_idx: torch.Tensor,
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Predictions (N, K, 2) = truth + an error fixed by the sample index and keypoint
    (0 to 12 px), and scores (N, K) likewise: the same person gets the same prediction wherever
    (and in whichever process) it is evaluated."""
    k = gt_keypoints.shape[1]
    seed = sample_idx.view(-1, 1).double() * 7.0 + torch.arange(k, dtype=torch.float64)
    direction = torch.stack([torch.sin(seed), torch.cos(1.3 * seed)], -1)  # (N, K, 2)
    error = direction * 6.0 + 6.0 * torch.sin(seed)[..., None]
    scores = 0.5 + 0.4 * torch.cos(seed) ** 2
    return (gt_keypoints[..., :2].double() + error).float(), scores.float()


class TruthModule(TopDownPoseModule):
    """A pose module that predicts :func:`truth_with_error` of each validation batch (its network
    still runs, so the validation loss and the whole evaluation path are exercised)."""

    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        self._batch = batch
        return super().validation_step(batch, batch_idx, dataloader_idx)

    def predict_crops(self, images, center, scale):
        prediction = super().predict_crops(images, center, scale)
        keypoints, scores = truth_with_error(self._batch["gt_keypoints"], self._batch["sample_idx"])
        return dataclasses.replace(prediction, keypoints=keypoints, scores=scores)
