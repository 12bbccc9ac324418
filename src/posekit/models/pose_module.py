"""The LightningModule: backbone -> neck? -> head -> loss in training; the predict path in
evaluation; auxiliary heads trained jointly and absent from inference."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import lightning as L
import torch
from torch import Tensor, nn

from posekit.codecs import Codec
from posekit.core.batch import Batch, meta_of
from posekit.core.spec import KeypointSpec, check_same_keypoints
from posekit.metrics.sample_mean import SampleMean
from posekit.models.backbone_protocol import (
    Neck,
    check_backbone,
    check_features,
    check_neck,
)
from posekit.models.device_batch import complete_on_device
from posekit.models.freeze import freeze, frozen_modules, keep_norms_in_eval
from posekit.models.necks.fit import check_head_fits
from posekit.models.optim import build_optimizer
from posekit.models.predict import KeypointPrediction, predict_crops
from posekit.models.schedules import scheduler_arguments

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# normalised images -> (backbone features, main head outputs)
NetworkFn = Callable[[Tensor], tuple[list[Tensor], dict[str, Tensor]]]
AUX_PREFIX = "aux"  # auxiliary targets sit in the batch as "aux/<name>/<output key>"


def aux_key(name: str, key: str) -> str:
    """The batch key of auxiliary head ``name``'s target ``key``."""
    return f"{AUX_PREFIX}/{name}/{key}"


@dataclass
class AuxiliaryHead:
    """An extra head trained beside the main one and dropped from inference.

    Args:
        head: partial completed with ``in_channels`` (of the backbone feature at ``stride``)
            and ``num_keypoints``.
        loss: reads the head's outputs against its codec's targets.
        weight: factor on its loss in the training loss.
        stride: which backbone feature it reads (one of ``model.backbone.strides``).
        targets: optional; maps the normalised images (N, 3, H, W) to the head's targets
            (e.g. a frozen teacher's features for distillation: see
            :mod:`posekit.models.heads.distill`). Such a head has no codec: its targets are
            not encoded by the data. It is called without gradients, is not a submodule (its
            weights are neither trained nor saved in checkpoints) and runs in training only.
    """

    head: Callable[..., nn.Module]
    loss: nn.Module
    weight: float = 1.0
    stride: int = 4
    targets: Callable[[Tensor], dict[str, Tensor]] | None = None


class TopDownPoseModule(L.LightningModule):
    """Top-down keypoint estimator.

    ``head`` is a partial (Hydra ``_partial_: true``) completed with the channels of its input
    feature and the number of keypoints, so heads never hard-code them; ``neck`` (optional) a
    partial completed with the backbone's ``channels`` and ``strides``. ``optimizer`` and
    ``scheduler`` are partials too. Evaluation runs the one predict path
    (:func:`~posekit.models.predict.predict_crops`) and feeds the metrics of the data module
    being evaluated (rebuilt for each one) keypoints in image pixels.

    ``aux_heads`` (name -> :class:`AuxiliaryHead`) and ``aux_codecs`` (name -> codec, the same
    nodes the data encodes with) add auxiliary heads: their weighted losses join the training
    loss; they are not run in evaluation, prediction or export.

    The backbone must follow the backbone protocol (checked here, see
    :mod:`posekit.models.backbone_protocol`). ``freeze_backbone`` / ``freeze_backbone_stages``
    freeze all of it or its stem and first N stages (their BatchNorm kept in eval mode), and
    ``backbone_lr_mult`` scales the backbone's learning rate (:mod:`posekit.models.freeze`).

    ``compile``: the training step's network (backbone, neck, head) runs through
    ``torch.compile``; ``channels_last`` feeds it NHWC images (``"auto"``: on CPUs, where
    oneDNN's NHWC convolutions are faster; GPUs keep NCHW unless asked).

    ``pixel_mean`` / ``pixel_std``: the input normalisation ``(image / 255 - mean) / std`` per
    RGB channel; ImageNet's by default. Published weights trained otherwise name theirs in their
    recipe (AlphaPose: mean (0.406, 0.457, 0.480) subtracted, no std division: std 1).
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
        channels_last: bool | str = False,
        neck: Callable[..., Neck] | None = None,
        aux_heads: Mapping[str, AuxiliaryHead] | None = None,
        aux_codecs: Mapping[str, Codec] | None = None,
        freeze_backbone: bool = False,
        freeze_backbone_stages: int = -1,
        backbone_lr_mult: float = 1.0,
        udp: bool = False,
        compile: bool = False,
        pixel_mean: Sequence[float] = IMAGENET_MEAN,
        pixel_std: Sequence[float] = IMAGENET_STD,
    ) -> None:
        super().__init__()
        strides, channels = check_backbone(backbone)
        self.backbone = backbone
        self._features_checked = False  # the first output is checked against the protocol
        self.neck = neck(in_channels=channels, in_strides=strides) if neck is not None else None
        head_channels = channels[0]
        if self.neck is not None:
            neck_strides, neck_channels = check_neck(self.neck)
            head_channels = neck_channels[0]
        self.head = head(in_channels=head_channels, num_keypoints=keypoints.num_keypoints)
        if self.neck is not None:
            check_head_fits(self.head, codec, neck_strides[0])
        self.codec = codec
        self.loss_fn = loss
        self.spec = keypoints
        self.flip_index: list[int] = list(keypoints.flip_index)
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_interval = scheduler_interval
        self.flip_test = flip_test
        if channels_last not in (True, False, "auto"):
            raise ValueError(
                f"model.channels_last must be true, false or auto, got {channels_last!r}"
            )
        self.channels_last = channels_last
        self.udp = bool(udp)  # crops cut with UDP's matrix (data.udp): map back with its inverse
        if getattr(codec, "needs_udp_crops", False) and not self.udp:
            raise ValueError(
                f"{type(codec).__name__} needs UDP crops: set data.udp=true (model=udp does)"
            )
        self.compile_network = compile
        self._compiled_network: NetworkFn | None = None
        self.aux_heads, self.aux_loss_fns, self.aux_codecs, self.aux_routing = self._build_aux(
            aux_heads or {}, aux_codecs or {}, strides, channels, keypoints.num_keypoints
        )
        self._frozen = frozen_modules(backbone, freeze_backbone_stages, freeze_backbone)
        freeze(self._frozen)
        keep_norms_in_eval(self._frozen)  # Lightning keeps each module's mode from here on
        self.backbone_lr_mult = float(backbone_lr_mult)
        # targets computed from the images (a teacher): a plain dict, so not submodules
        self.aux_targets = {
            name: aux.targets for name, aux in (aux_heads or {}).items() if aux.targets is not None
        }
        self.metrics = nn.ModuleList()
        # training values summed on the device between two logs: name -> (sum, steps)
        self._tracked: dict[str, tuple[Tensor, int]] = {}
        self.eval_loss = SampleMean()  # per sample, so that DDP padding does not count twice
        self.run_config: dict | None = None  # the resolved run config, saved in checkpoints
        # one normalised input (1, 3, H, W): Lightning's model summary counts the FLOPs with it
        width, height = codec.input_size
        self.example_input_array = torch.zeros(1, 3, int(height), int(width))
        mean = torch.tensor([float(v) for v in pixel_mean])  # (3,) RGB fractions of 255
        std = torch.tensor([float(v) for v in pixel_std])
        if mean.shape != (3,) or std.shape != (3,) or not bool((std > 0).all()):
            raise ValueError("model.pixel_mean and model.pixel_std list 3 values (R, G, B), std "
                             f"> 0; got {list(pixel_mean)} and {list(pixel_std)}")
        self.register_buffer("pixel_mean", mean.view(1, 3, 1, 1) * 255)
        self.register_buffer("pixel_std", std.view(1, 3, 1, 1) * 255)

    def _build_aux(
        self,
        aux_heads: Mapping[str, AuxiliaryHead],
        aux_codecs: Mapping[str, Codec],
        strides: Sequence[int],
        channels: Sequence[int],
        num_keypoints: int,
    ) -> tuple[nn.ModuleDict, nn.ModuleDict, dict[str, Codec], dict[str, tuple[float, int]]]:
        """The auxiliary heads and losses, their codecs, and each head's (weight, feature index)."""
        encoded = {name for name, aux in aux_heads.items() if aux.targets is None}
        if encoded != set(aux_codecs):
            raise ValueError(
                f"model.aux_heads {sorted(encoded)} and model.aux_codecs {sorted(aux_codecs)} "
                "must name the same auxiliary heads (one codec per head; heads with "
                "model.aux_heads.<name>.targets have none)"
            )
        heads, losses, routing = nn.ModuleDict(), nn.ModuleDict(), {}
        for name, aux in aux_heads.items():
            if aux.stride not in strides:
                raise ValueError(
                    f"model.aux_heads.{name}.stride={aux.stride} is not a backbone feature: the "
                    f"backbone returns strides {list(strides)}; add it to "
                    "model.backbone.extra_strides or choose one of those"
                )
            index = list(strides).index(aux.stride)
            heads[name] = aux.head(in_channels=channels[index], num_keypoints=num_keypoints)
            losses[name] = aux.loss
            routing[name] = (float(aux.weight), index)
        return heads, losses, dict(aux_codecs), routing

    # --- network -------------------------------------------------------------------------
    def normalize(self, images: Tensor) -> Tensor:
        """uint8 (N, 3, H, W) RGB -> float, normalised by ``pixel_mean`` and ``pixel_std``."""
        images = (images.float() - self.pixel_mean) / self.pixel_std
        if self.channels_last is True or (
            self.channels_last == "auto" and images.device.type == "cpu"
        ):
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def _head_input(self, features: list[Tensor]) -> Tensor:
        return self.neck(features)[0] if self.neck is not None else features[0]

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        """Normalised images (N, 3, H, W) -> the main head's outputs (codec.output_keys)."""
        return self._network(images)[1]

    def predict_crops(self, images: Tensor, center: Tensor, scale: Tensor) -> KeypointPrediction:
        """uint8 crops (N, 3, H, W) -> keypoints (N, K, 2) in image pixels, with this model's
        flip-test setting (see :func:`posekit.models.predict.predict_crops`)."""
        return predict_crops(self, images, center, scale, self.flip_test)

    # --- training ------------------------------------------------------------------------
    def train(self, mode: bool = True) -> TopDownPoseModule:
        """Train mode, except for the BatchNorm layers of frozen backbone parts (mmpose)."""
        super().train(mode)
        if mode:
            keep_norms_in_eval(self._frozen)
        return self
    def on_after_batch_transfer(self, batch: Batch, dataloader_idx: int) -> Batch:
        """With ``data.device_warp``: cut the crops and encode the targets on this device."""
        if isinstance(batch, dict) and "source_image" in batch:  # not the summary's example
            return complete_on_device(batch, self.codec, self.aux_codecs)
        return batch

    @staticmethod
    def _targets(
        outputs: dict[str, Tensor], batch: Batch, codec: Codec, prefix: str = ""
    ) -> dict[str, Tensor]:
        """The codec's targets of a batch, checked against the head's outputs."""
        targets = {}
        for key in codec.output_keys:
            if key not in outputs:
                raise KeyError(
                    f"the head returns {sorted(outputs)} but its codec "
                    f"{type(codec).__name__} encodes {list(codec.output_keys)}: pair the head "
                    "with a codec of its family"
                )
            target = batch[prefix + key]
            if outputs[key].shape != target.shape:
                raise ValueError(
                    f"head output '{key}' has shape {list(outputs[key].shape)} but the codec's "
                    f"targets have {list(target.shape)}: the head and codec configs disagree "
                    "(input size, heatmap size, split ratio or backbone stride)"
                )
            targets[key] = target
        return targets

    @staticmethod
    def _computed_targets(
        outputs: dict[str, Tensor], targets: dict[str, Tensor], name: str
    ) -> dict[str, Tensor]:
        """Targets of ``model.aux_heads.<name>.targets``, checked against the head's outputs."""
        for key, output in outputs.items():
            if key not in targets or targets[key].shape != output.shape:
                found = {k: list(v.shape) for k, v in targets.items()}
                raise ValueError(
                    f"model.aux_heads.{name}: head output '{key}' {list(output.shape)} does not "
                    f"match its targets {found}: check model.aux_heads.{name}.head and "
                    f"model.aux_heads.{name}.stride against model.aux_heads.{name}.targets"
                )
        return targets

    def _aux_loss(self, features: list[Tensor], batch: Batch, images: Tensor) -> Tensor:
        """The weighted sum of the auxiliary heads' losses (0 without auxiliary heads);
        ``images`` are the normalised inputs, for heads whose targets come from them."""
        total = features[0].new_zeros(())
        for name, head in self.aux_heads.items():
            weight, index = self.aux_routing[name]
            outputs = head(features[index])
            prefix = aux_key(name, "")
            if name in self.aux_targets:
                with torch.no_grad():
                    computed = self.aux_targets[name](images)
                targets = self._computed_targets(outputs, computed, name)
                weights = batch["keypoint_weights"]
            else:
                targets = self._targets(outputs, batch, self.aux_codecs[name], prefix)
                weights = batch[prefix + "keypoint_weights"]
            loss = self.aux_loss_fns[name](outputs, targets, weights)
            self._track(f"train/loss_{name}", loss)
            total = total + weight * loss
        return total

    def _network(self, images: Tensor) -> tuple[list[Tensor], dict[str, Tensor]]:
        """Normalised images -> the backbone's features and the main head's outputs.

        Under mixed precision (``trainer.precision``) the backbone and neck run in the lower
        precision and the head in float32: soft-argmax, DSNT's normalised heatmaps and RLE's
        flow lose too much in 8 bits of mantissa (one bf16 step turns DSNT's weights to NaN).
        """
        features = self.backbone(images)
        if not (self._features_checked or torch.compiler.is_compiling()
                or torch.jit.is_tracing()):
            check_features(features, self.backbone, images.shape)
            self._features_checked = True
        head_input = self._head_input(features)
        with torch.autocast(images.device.type, enabled=False):
            return features, self.head(head_input.float())

    def _training_network(self) -> NetworkFn:
        """The network of the training step: ``torch.compile``-d at first use with ``compile``
        (evaluation and export run it eagerly; the state_dict keeps its names)."""
        if not self.compile_network:
            return self._network
        if self._compiled_network is None:
            self._compiled_network = torch.compile(self._network)
        return self._compiled_network

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        images = self.normalize(batch["image"])
        features, outputs = self._training_network()(images)
        with torch.autocast(images.device.type, enabled=False):  # losses in float32
            targets = self._targets(outputs, batch, self.codec)
            loss = self.loss_fn(outputs, targets, batch["keypoint_weights"])
            if len(self.aux_heads):
                loss = loss + self._aux_loss([f.float() for f in features], batch, images)
        self._track("train/loss", loss)
        self._log_tracked(batch_idx)
        return loss

    # --- training-loss logging off the hot path -------------------------------------------
    def _track(self, name: str, value: Tensor) -> None:
        """Add a detached step value to its running sum on the device (no host sync)."""
        total, steps = self._tracked.get(name, (None, 0))
        value = value.detach()
        self._tracked[name] = (value if total is None else total + value, steps + 1)

    def _log_tracked(self, batch_idx: int) -> None:
        """Log the mean of each tracked value since its last log, at the steps where the
        logger writes (every ``trainer.log_every_n_steps``), at each epoch's last batch and at
        the run's last step (``max_steps``).

        Logging every step costs Lightning's bookkeeping (about a millisecond) and, for the
        progress bar, a host-device sync per step; the logger only writes every n-th step
        anyway. The value is the window's mean (not one step's), moved to the CPU once per
        window so that the progress bar's per-batch reads never wait for the GPU.
        """
        trainer = self._trainer
        if trainer is None:
            return
        every = max(int(trainer.log_every_n_steps), 1)
        last_batch = batch_idx + 1 >= trainer.num_training_batches
        last_step = 0 < trainer.max_steps <= self.global_step + 1
        if (self.global_step + 1) % every and not (last_batch or last_step or trainer.fast_dev_run):
            return
        for name, (total, steps) in self._tracked.items():
            mean = (total / steps).float().cpu()  # the one sync of the window
            self.log(name, mean, prog_bar=name == "train/loss", batch_size=1)
        self._tracked.clear()

    def on_train_epoch_start(self) -> None:
        self._tracked.clear()  # windows do not span epochs, so a resumed run logs the same

    # --- evaluation ----------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        """Build the metrics of the data module this run evaluates (each time: a second data
        module validated in one process gets its own metrics)."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if datamodule is not None:
            data_spec = getattr(datamodule, "spec", None)
            if data_spec is not None:
                check_same_keypoints(self.spec, data_spec, "the model")
            self.metrics = nn.ModuleList(datamodule.build_metrics())

    def validation_step(
        self, batch: Batch, batch_idx: int, dataloader_idx: int = 0
    ) -> KeypointPrediction:
        prediction = self.predict_crops(batch["image"], batch["center"], batch["scale"])
        targets = self._targets(prediction.outputs, batch, self.codec)
        with torch.autocast(batch["image"].device.type, enabled=False):  # as in training
            per_sample = self.loss_fn.per_sample(
                prediction.outputs, targets, batch["keypoint_weights"]
            )
        # a loss needs targets: samples without a labelled keypoint (detected boxes) have none
        labelled = batch["keypoint_weights"].flatten(1).gt(0).any(dim=1)  # (N,)
        self.eval_loss.update(per_sample[labelled], batch["sample_idx"][labelled])
        meta = meta_of(batch)
        for metric in self.metrics:  # a mixture's metrics score one validation loader each
            if getattr(metric, "dataloader_idx", 0) == dataloader_idx:
                metric.update(prediction.keypoints, prediction.scores, meta)
        return prediction  # for callbacks (the prediction gallery)

    def on_validation_epoch_start(self) -> None:
        self.eval_loss.reset()
        for metric in self.metrics:
            metric.reset()

    def on_validation_epoch_end(self) -> None:
        results: dict[str, Tensor] = {}
        loss = self.eval_loss.compute()
        if loss is not None:  # absent with detected boxes (no targets), never 0
            results["loss"] = loss
        for metric in self.metrics:
            results.update(metric.compute())
        self.log_dict({f"val/{name}": value for name, value in results.items()})

    # --- optimisation and checkpoints ---------------------------------------------------
    def configure_optimizers(self) -> Any:
        # parameter groups: backbone / head (model.backbone_lr_mult), paramwise weight decay
        # for factories that take the module (models/optim.py)
        optimizer = build_optimizer(self.optimizer_factory, self, self.backbone_lr_mult)
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
