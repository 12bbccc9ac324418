"""The LightningModule: backbone -> head -> loss in training; flip test and decoding in evaluation."""

from __future__ import annotations

from typing import Any, Callable

import lightning as L
import torch
from torch import nn

from posekit.codecs import Codec
from posekit.data.geometry import crop_to_image
from posekit.data.spec import KeypointSpec
from posekit.metrics.sample_mean import SampleMean
from posekit.models.schedules import scheduler_arguments

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
META_KEYS = ("sample_idx", "gt_keypoints", "bbox", "bbox_score", "image_id", "area")


class TopDownPoseModule(L.LightningModule):
    """Top-down keypoint estimator.

    ``head`` is a partial (Hydra ``_partial_: true``) completed with the backbone's channels
    and the number of keypoints, so heads never hard-code them. ``optimizer`` and ``scheduler``
    are partials too. Evaluation decodes with the same codec object the data encodes with and
    feeds the data set's metrics (``datamodule.build_metrics()``) keypoints in image pixels.
    """

    def __init__(
        self,
        backbone: nn.Module,
        head: Callable[..., nn.Module],
        codec: Codec,
        loss: nn.Module,
        keypoints: KeypointSpec,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., Any] | None = None,
        scheduler_interval: str = "epoch",
        flip_test: bool = True,
        channels_last: bool = False,
        gallery_size: int = 8,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head(in_channels=backbone.out_channels, num_keypoints=keypoints.num_keypoints)
        self.codec = codec
        self.loss_fn = loss
        self.spec = keypoints
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_interval = scheduler_interval
        self.flip_test = flip_test
        self.channels_last = channels_last
        self.gallery_size = gallery_size
        self.metrics = nn.ModuleList()
        self.eval_loss = SampleMean()  # per sample, so that DDP padding does not count twice
        self.gallery: list[dict[str, torch.Tensor]] = []
        self.run_config: dict | None = None  # the resolved run config, saved in checkpoints
        self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255)
        self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255)

    # --- network -------------------------------------------------------------------------
    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, 3, H, W) RGB -> float, ImageNet-normalised."""
        images = (images.float() - self.pixel_mean) / self.pixel_std
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Normalised images (N, 3, H, W) -> the head's outputs (codec.output_keys)."""
        return self.head(self.backbone(images))

    def flip_averaged(
        self, images: torch.Tensor, outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """With flip_test, average ``outputs`` of normalised ``images`` with the flipped images'."""
        if not self.flip_test:
            return outputs
        flipped = self.codec.flip_outputs(self(images.flip(-1)), self.spec.flip_index)
        return {key: (outputs[key] + flipped[key]) * 0.5 for key in outputs}

    # --- training ------------------------------------------------------------------------
    def _targets(self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> dict:
        """The codec's targets of a batch, checked against the head's output shapes."""
        targets = {key: batch[key] for key in self.codec.output_keys}
        for key, target in targets.items():
            if outputs[key].shape != target.shape:
                raise ValueError(
                    f"head output '{key}' has shape {list(outputs[key].shape)} but the codec's "
                    f"targets have {list(target.shape)}: the head and codec configs disagree "
                    "(input size, heatmap size, split ratio or backbone stride)"
                )
        return targets

    def _loss(self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.loss_fn(outputs, self._targets(outputs, batch), batch["keypoint_weights"])

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._loss(self(self.normalize(batch["image"])), batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["image"].shape[0])
        return loss

    # --- evaluation ----------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if datamodule is not None and not len(self.metrics):
            self.metrics.extend(datamodule.build_metrics())

    def _eval_step(self, batch: dict[str, torch.Tensor]) -> None:
        images = self.normalize(batch["image"])
        outputs = self(images)
        self.eval_loss.update(self._per_sample_loss(outputs, batch), batch["sample_idx"])
        keypoints, scores = self.codec.decode(self.flip_averaged(images, outputs))
        # keypoints (N, K, 2) in crop pixels, scores (N, K)
        image_keypoints = crop_to_image(
            keypoints, batch["center"], batch["scale"], self.codec.input_size
        )
        meta = {key: batch[key] for key in META_KEYS}
        for metric in self.metrics:
            metric.update(image_keypoints, scores, meta)
        self._collect_gallery(batch, keypoints, scores)

    def _per_sample_loss(
        self, outputs: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """(N,) the loss of each sample; the batch loss is their mean."""
        targets = self._targets(outputs, batch)
        return self.loss_fn.per_sample(outputs, targets, batch["keypoint_weights"])

    def _collect_gallery(self, batch, keypoints: torch.Tensor, scores: torch.Tensor) -> None:
        room = self.gallery_size - sum(item["image"].shape[0] for item in self.gallery)
        if room > 0:
            self.gallery.append(
                {
                    "image": batch["image"][:room].cpu(),
                    "keypoints": keypoints[:room].detach().cpu(),
                    "scores": scores[:room].detach().cpu(),
                    "gt_keypoints": batch["keypoints"][:room].cpu(),
                    "gt_visible": batch["keypoint_visible"][:room].cpu(),
                }
            )

    def _on_eval_epoch_start(self) -> None:
        self.gallery = []
        self.eval_loss.reset()
        for metric in self.metrics:
            metric.reset()

    def _on_eval_epoch_end(self, stage: str) -> None:
        results: dict[str, torch.Tensor] = {"loss": self.eval_loss.compute()}
        for metric in self.metrics:
            results.update(metric.compute())
        self.log_dict({f"{stage}/{name}": value for name, value in results.items()})

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch)

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch)

    def on_validation_epoch_start(self) -> None:
        self._on_eval_epoch_start()

    def on_test_epoch_start(self) -> None:
        self._on_eval_epoch_start()

    def on_validation_epoch_end(self) -> None:
        self._on_eval_epoch_end("val")

    def on_test_epoch_end(self) -> None:
        self._on_eval_epoch_end("test")

    # --- optimisation and checkpoints ---------------------------------------------------
    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        # per-iteration schedules in epochs (models/schedules.py) also get steps_per_epoch
        scheduler = self.scheduler_factory(
            optimizer=optimizer, **scheduler_arguments(self.scheduler_factory, self)
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": self.scheduler_interval},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.run_config is not None:
            checkpoint["posekit_config"] = self.run_config
