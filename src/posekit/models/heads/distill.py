"""Feature distillation as an auxiliary head: a student feature, mapped by a 1x1 conv, matches a
frozen teacher's backbone feature (FitNets-style hints).

:class:`TeacherFeatures` is an :class:`~posekit.models.pose_module.AuxiliaryHead`'s ``targets``:
it loads a posekit checkpoint weights-only (:func:`posekit.models.checkpoint.load_model`), keeps
its backbone frozen in eval mode, and gives its feature at the auxiliary head's stride.
:class:`FeatureDistillHead` maps the student's feature at that stride to the teacher's channels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from torch import Tensor, nn

from posekit.models.checkpoint import CheckpointError, load_model

FEATURES = "features"  # the output and target key of feature distillation


class FeatureDistillHead(nn.Module):
    """A 1x1 conv from the student's channels to the teacher's.

    Args:
        in_channels: channels of the student feature (filled in by the LightningModule).
        num_keypoints: unused (part of the head contract).
        out_channels: the teacher feature's channels.
    """

    def __init__(self, in_channels: int, num_keypoints: int, out_channels: int) -> None:
        super().__init__()
        self.connector = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, feat: Tensor) -> dict[str, Tensor]:
        """(N, C, h, w) -> {"features": (N, out_channels, h, w)}."""
        return {FEATURES: self.connector(feat)}


class TeacherFeatures:
    """A frozen teacher's backbone feature at ``stride``: ``images -> {"features": ...}``.

    Not an ``nn.Module`` on purpose: the student never registers, trains or saves it. It follows
    the images to their device on first use and always runs in eval mode without gradients.

    Args:
        checkpoint: a posekit checkpoint (``checkpoints/*.ckpt`` of a run), read weights-only.
        stride: the teacher feature to match (the auxiliary head's stride).
        channels: the channels that feature must have (the head's ``out_channels``).
        trusted_modules: modules whose classes the teacher's saved config may build besides
            posekit's (the run's ``trusted_modules``; see :mod:`posekit.models.trust`).

    Raises:
        ValueError: naming the config keys, when the checkpoint does not load or has no
            feature of that stride and channels.
    """

    def __init__(
        self, checkpoint: str, stride: int, channels: int, *, trusted_modules: Sequence[str] = ()
    ) -> None:
        try:
            teacher = load_model(checkpoint, trusted_modules)
        except (FileNotFoundError, CheckpointError, KeyError, RuntimeError) as err:
            raise ValueError(
                f"targets.checkpoint={checkpoint}: the teacher cannot be loaded "
                f"({type(err).__name__}: {err}). Give a posekit checkpoint (a run's "
                "checkpoints/*.ckpt) in model.aux_heads.<name>.targets.checkpoint"
            ) from None
        backbone = teacher.backbone
        strides, widths = list(backbone.strides), list(backbone.channels)
        if stride not in strides:
            raise ValueError(
                f"targets.stride={stride}: the teacher {Path(checkpoint).name} returns features "
                f"at strides {strides}; set model.aux_heads.<name>.stride to one of them"
            )
        self.index = strides.index(stride)
        if widths[self.index] != channels:
            raise ValueError(
                f"targets.channels={channels}: the teacher's stride-{stride} feature has "
                f"{widths[self.index]} channels; set model.aux_heads.<name>.targets.channels="
                f"{widths[self.index]}"
            )
        self.backbone = backbone.eval().requires_grad_(False)

    def __call__(self, images: Tensor) -> dict[str, Tensor]:
        """Normalised images (N, 3, H, W) -> {"features": (N, channels, H / stride, W / stride)}."""
        if next(self.backbone.parameters()).device != images.device:
            self.backbone.to(images.device)
        self.backbone.eval()
        return {FEATURES: self.backbone(images)[self.index].detach()}
