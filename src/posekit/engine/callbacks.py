"""Callbacks that leave pictures and numbers beside the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import lightning as L
import numpy as np
import torch

from posekit.models.predict import KeypointPrediction
from posekit.viz import draw_skeleton, make_grid, save_image


class PredictionGallery(L.Callback):
    """After each validation, draws predicted (and true) skeletons on a few validation crops.

    Writes ``<dirpath>/<filename>`` (overwritten each epoch, so the last one shows the final
    model) and, where the logger can show images (TensorBoard, W&B), logs it too.
    """

    def __init__(
        self,
        dirpath: str,
        filename: str = "val_predictions.png",
        draw_truth: bool = True,
        tile_height: int = 256,
        size: int = 8,
    ) -> None:
        self.path = Path(dirpath) / filename
        self.draw_truth = draw_truth
        self.tile_height = tile_height
        self.size = size
        self.items: list[dict[str, torch.Tensor]] = []

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.items = []

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: dict[str, torch.Tensor],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Keep the first ``size`` crops of the epoch with their predictions (crop pixels)."""
        room = self.size - sum(item["image"].shape[0] for item in self.items)
        if room <= 0 or not isinstance(outputs, KeypointPrediction):
            return
        self.items.append(
            {
                "image": batch["image"][:room].cpu(),
                "keypoints": outputs.crop_keypoints[:room].detach().float().cpu(),
                "gt_keypoints": batch["keypoints"][:room].cpu(),
                "gt_visible": batch["keypoint_visible"][:room].cpu(),
            }
        )

    def render(self, pl_module: L.LightningModule) -> np.ndarray | None:
        spec = pl_module.spec
        tiles = []
        for item in self.items:
            for i in range(item["image"].shape[0]):
                image = np.ascontiguousarray(item["image"][i].permute(1, 2, 0).numpy())
                zoom = max(1, self.tile_height // image.shape[0])  # draw on an enlarged crop
                image = cv2.resize(image, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_LINEAR)
                if self.draw_truth:
                    image = draw_skeleton(
                        image,
                        item["gt_keypoints"][i].numpy() * zoom,
                        item["gt_visible"][i].numpy(),
                        spec.skeleton,
                        color=(255, 255, 255),
                        score_threshold=0.5,
                    )
                # every predicted keypoint is drawn: SimCC scores are not calibrated probabilities
                image = draw_skeleton(
                    image, item["keypoints"][i].numpy() * zoom, None, spec.skeleton, names=spec.names
                )
                tiles.append(image)
        return make_grid(tiles, ncols=4) if tiles else None

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        grid = self.render(pl_module)
        if grid is None:
            return
        save_image(self.path, grid)
        for logger in trainer.loggers:
            log_image = getattr(logger, "log_image", None)
            experiment = getattr(logger, "experiment", None)
            if callable(log_image):  # W&B
                log_image(key="val/predictions", images=[grid], step=trainer.global_step)
            elif hasattr(experiment, "add_image"):  # TensorBoard
                experiment.add_image("val/predictions", grid, trainer.global_step, dataformats="HWC")
