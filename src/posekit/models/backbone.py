"""A timm backbone cut down to the feature maps the pose heads read.

It follows the backbone protocol (:mod:`posekit.models.backbone_protocol`): ``forward(images)``
returns a list of feature maps, one per entry of ``strides`` (the first is the main head's),
with ``channels[i]`` channels at ``strides[i]`` times less resolution than the input; input
height and width must be multiples of ``input_multiple``; ``stages()`` lists the stem and the
stages (timm's coarse ``group_matcher``) for freezing.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import timm
import torch
from timm.models import group_modules
from torch import Tensor, nn

from posekit.models.backbone_weights import load_backbone_checkpoint
from posekit.models.pretrained import unavailable_reason

# HRNet fuses its branches by nearest upsampling by 2, 4, 8 and strided convs, so the input
# must be divisible by the stride of its lowest-resolution branch.
_HRNET_INPUT_MULTIPLE = 32


class TimmBackbone(nn.Module):
    """A timm model returning the feature maps of stride ``out_stride`` (and ``extra_strides``).

    The feature index is found on a weightless probe built on the ``meta`` device, then the
    real model is built with ``features_only=True, out_indices=(index,)``. Where a model
    supports it, timm's ``feature_cls="getter"`` wrapper is used, which prunes the layers
    deeper than the chosen feature (MobileNet/EfficientNet feature wrappers otherwise keep and
    run them, leaving parameters without gradients, which breaks DDP). When several feature
    maps share the stride (ViT), the deepest is used.

    HRNet (``name`` starting with ``"hrnet"``) is built with ``feature_location=""`` so the raw
    branch outputs come back (for ``hrnet_w32``: channels [64, 32, 64, 128, 256] at strides
    [2, 4, 8, 16, 32], index 0 being the stem). The pose HRNet reads the stride-4 branch. The
    last module of stage 4 is then trimmed to fuse only up to the chosen branch, as the pose
    HRNet does, so that the stride-4 backbone has no unused parameters.

    Args:
        name: timm model name, e.g. ``"hrnet_w32"`` or ``"resnet50"``.
        pretrained: load timm's ImageNet weights (needs network or a filled HF/torch cache).
        out_stride: stride of the main feature map (the main head's input) relative to the input.
        extra_strides: strides of further feature maps returned after it (auxiliary heads,
            necks).
        checkpoint: a local checkpoint file of another project to load the weights from
            (after ``pretrained``), by timm's names (see
            :mod:`posekit.models.backbone_weights`).
        checkpoint_prefix: keep the file's keys starting with it, without it.
        checkpoint_keys: explicit renaming rules, file key regex -> timm name: a named rule set
            of :mod:`posekit.models.key_maps`, a yaml file, or the mapping.
        **timm_kwargs: passed on to ``timm.create_model`` (e.g. ``drop_path_rate``).

    Attributes:
        strides: ``(out_stride, *extra_strides)``, the strides of the returned feature maps.
        channels: their channels.
        out_channels: ``channels[0]``, the main feature map's.
        stride: ``out_stride``.
        input_multiple: input height and width must be multiples of this.
    """

    def __init__(
        self,
        name: str,
        pretrained: bool = False,
        out_stride: int = 4,
        extra_strides: Sequence[int] = (),
        checkpoint: str | None = None,
        checkpoint_prefix: str | None = None,
        checkpoint_keys: str | Mapping[str, str] | None = None,
        **timm_kwargs: Any,
    ) -> None:
        super().__init__()
        self.name = name
        is_hrnet = name.startswith("hrnet")
        kwargs = {**timm_kwargs, "feature_location": ""} if is_hrnet else dict(timm_kwargs)
        kwargs, probe = _probe(name, kwargs, try_getter=not is_hrnet)
        reductions = [int(r) for r in probe.feature_info.reduction()]
        channels = [int(c) for c in probe.feature_info.channels()]
        strides = (int(out_stride), *(int(s) for s in extra_strides))
        positions = []
        for stride in strides:
            matches = [i for i, r in enumerate(reductions) if r == stride]
            if not matches:
                raise ValueError(
                    f"backbone '{name}' has no feature map with stride {stride} (asked by "
                    f"model.backbone.out_stride / extra_strides); available strides: "
                    f"{sorted(set(reductions))} (channels {channels} at strides {reductions})"
                )
            positions.append(matches[-1])  # the deepest map of that stride
        # feature_info lists the probe's default outputs; out_indices maps them to model indices
        indices = [int(probe.feature_info.out_indices[p]) for p in positions]
        unique = sorted(set(indices))
        self._order = [unique.index(i) for i in indices]  # timm returns features by index

        reason = unavailable_reason(name, kwargs.get("cache_dir")) if pretrained else None
        if reason is not None:  # fail at once rather than after a minute of download retries
            raise RuntimeError(_weights_message(name, reason))
        try:
            self.body = timm.create_model(
                name, pretrained=pretrained, features_only=True, out_indices=tuple(unique), **kwargs
            )
        except Exception as err:
            if not pretrained:
                raise
            raise RuntimeError(_weights_message(name, f"{type(err).__name__}: {err}")) from err

        if is_hrnet:
            # feature index 0 is the stem; index b + 1 is branch b of the final stage.
            _trim_hrnet_final_fusion(self.body, branch=max(unique) - 1)
        self.strides: tuple[int, ...] = strides
        self.channels: tuple[int, ...] = tuple(channels[p] for p in positions)
        self.out_channels: int = self.channels[0]
        self.stride: int = strides[0]
        self.input_multiple: int = _HRNET_INPUT_MULTIPLE if is_hrnet else max(strides)
        self._add_modules()
        if checkpoint:
            load_backbone_checkpoint(self, checkpoint, checkpoint_prefix, checkpoint_keys)

    def _add_modules(self) -> None:
        """Where a subclass adds modules to the timm model, before any checkpoint is loaded."""

    @property
    def _timm_model(self) -> nn.Module:
        """The timm model under the feature wrapper (whose names are timm's own)."""
        return getattr(self.body, "model", self.body)  # FeatureGetterNet keeps it as .model

    def checkpoint_names(self) -> dict[str, str]:
        """timm's name of each tensor (as in a timm / torchvision checkpoint) -> state_dict key."""
        model = self._timm_model
        prefix = "body.model." if model is not self.body else "body."
        # (the few timm models without forward_intermediates come in timm's FeatureListNet,
        # which flattens the first level of names: "stages.0" -> "stages_0")
        return {key: prefix + key for key in model.state_dict()}

    def stages(self) -> list[nn.Module]:
        """The stem, then each stage, from timm's coarse parameter groups (``group_matcher``):
        ResNet: stem, layer1, ...; HRNet: stem, layer1 + transition1, stage2 + transition2, ..."""
        model = self._timm_model
        if not hasattr(model, "group_matcher"):
            raise TypeError(
                f"timm model '{self.name}' has no group_matcher, so its stages are unknown: use "
                "model.freeze_backbone=true instead of model.freeze_backbone_stages"
            )
        groups = group_modules(model, model.group_matcher(coarse=True))
        return [
            nn.ModuleList(model.get_submodule(name) for name in groups[index])
            for index in sorted(groups)
        ]

    def forward(self, x: Tensor) -> list[Tensor]:
        """(N, 3, H, W) images -> features (N, channels[i], H / strides[i], W / strides[i])."""
        height, width = x.shape[-2:]
        if height % self.input_multiple or width % self.input_multiple:
            raise ValueError(
                f"backbone '{self.name}' needs an input height and width divisible by "
                f"{self.input_multiple}, got {height}x{width}"
            )
        features = self.body(x)
        return [features[i] for i in self._order]


def _weights_message(name: str, reason: str) -> str:
    return (
        f"could not fetch or load the ImageNet weights of timm model '{name}' ({reason}). "
        "Either train from scratch with model.backbone.pretrained=false, or download the "
        "weights beforehand into the Hugging Face / torch hub cache (HF_HOME, TORCH_HOME) on a "
        "machine with network access and run with HF_HUB_OFFLINE=1 so that the cached copy is "
        "used."
    )


def _probe(
    name: str, kwargs: dict[str, Any], try_getter: bool
) -> tuple[dict[str, Any], nn.Module]:
    """Build a weightless feature model on the meta device, to read its ``feature_info``.

    Returns the kwargs to build the real model with (``feature_cls="getter"`` added when
    ``try_getter`` and the model supports it) and the probe.
    """
    with torch.device("meta"):
        if try_getter and "feature_cls" not in kwargs:
            getter_kwargs = {**kwargs, "feature_cls": "getter"}
            try:
                probe = timm.create_model(name, features_only=True, **getter_kwargs)
            except Exception:  # no forward_intermediates: use timm's default feature wrapper
                pass
            else:
                return getter_kwargs, probe
        return kwargs, timm.create_model(name, features_only=True, **kwargs)


def _trim_hrnet_final_fusion(model: nn.Module, branch: int) -> None:
    """Drop the final-stage fusions into branches below ``branch``'s resolution.

    timm builds stage 4 with multi-scale output, so its last module also fuses into every
    lower-resolution branch. Only fusions ``0..branch`` are kept; for branch 0 (the pose
    HRNet's stride-4 output) that leaves no unused fusion.
    """
    if branch < 0:  # the stem feature does not come out of the stages
        return
    last_module = model.stage4[-1]
    last_module.fuse_layers = last_module.fuse_layers[: branch + 1]
