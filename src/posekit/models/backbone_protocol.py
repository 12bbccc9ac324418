"""The backbone protocol: what any module must expose to sit under posekit's necks and heads.

A backbone is an ``nn.Module`` with

* ``forward(images) -> list[Tensor]``: ImageNet-normalised images (N, 3, H, W) in, one feature
  map per entry of ``strides`` out, feature ``i`` of shape
  (N, ``channels[i]``, H / ``strides[i]``, W / ``strides[i]``). Feature 0 feeds the main head
  (or the neck); auxiliary heads pick theirs by stride (``model.aux_heads.<name>.stride``).
* ``strides: tuple[int, ...]``: the stride of each returned feature relative to the input.
* ``channels: tuple[int, ...]``: the channels of each returned feature.
* ``input_multiple: int``: input height and width must be multiples of it (the largest stride,
  or more where the network needs it, e.g. 32 for HRNet).

Optional:

* ``stages() -> list[nn.Module]``: the backbone's stages from the input on, the stem first,
  so that ``model.freeze_backbone_stages=N`` can freeze the stem and the first N stages
  (mmpose's ``frozen_stages``; see :mod:`posekit.models.freeze`).

Heads, necks and auxiliary heads read channels and strides from these attributes (as timm's
``feature_info`` does), never from a config. :class:`~posekit.models.backbone.TimmBackbone`
is one implementation; ``examples/custom_backbone.py`` is another, outside the package. The
LightningModule checks a backbone with :func:`check_backbone` when it is built.
"""

from __future__ import annotations

import math
from typing import Protocol, Sequence, runtime_checkable

import torch
from torch import Tensor, nn

PROTOCOL_DOC = "posekit.models.backbone_protocol (README: 'Your own backbone')"


@runtime_checkable
class Backbone(Protocol):
    """A module following the backbone protocol (see the module docstring)."""

    strides: tuple[int, ...]
    channels: tuple[int, ...]
    input_multiple: int

    def __call__(self, images: Tensor) -> list[Tensor]: ...


@runtime_checkable
class Neck(Protocol):
    """A neck: built as ``neck(in_channels=<tuple>, in_strides=<tuple>)``, it maps the list of
    backbone features to a list of features with ``channels[i]`` channels at ``strides[i]``
    (the main head reads feature 0)."""

    strides: tuple[int, ...]
    channels: tuple[int, ...]

    def __call__(self, features: list[Tensor]) -> list[Tensor]: ...


_FIXES = {
    "strides": "set self.strides = (<stride of each returned feature>, ...) in __init__",
    "channels": "set self.channels = (<channels of each returned feature>, ...) in __init__",
    "input_multiple": "set self.input_multiple = <the largest stride> in __init__ (input "
    "height and width must be multiples of it)",
}


def _positive_ints(value: object) -> bool:
    return isinstance(value, Sequence) and len(value) > 0 and all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value
    )


def describe(module: object) -> str:
    """``ClassName (module path)`` of an object, for error messages."""
    cls = type(module)
    return f"{cls.__name__} (from {cls.__module__})"


def check_backbone(backbone: object, key: str = "model.backbone") -> tuple[tuple[int, ...], ...]:
    """Check that ``backbone`` follows the protocol; return its ``(strides, channels)``.

    Raises:
        TypeError: not an ``nn.Module``, or an attribute of the protocol is missing or not a
            sequence of positive ints; the message names the module, the attribute and the fix.
    """
    where = f"{key}: {describe(backbone)}"
    if not isinstance(backbone, nn.Module):
        raise TypeError(f"{where} is not a torch.nn.Module; see {PROTOCOL_DOC}")
    for name, fix in _FIXES.items():
        if not hasattr(backbone, name):
            raise TypeError(
                f"{where} does not follow the backbone protocol: it has no attribute '{name}'. "
                f"Fix: {fix}; see {PROTOCOL_DOC}"
            )
    strides, channels = tuple(backbone.strides), tuple(backbone.channels)
    for name, value in (("strides", strides), ("channels", channels)):
        if not _positive_ints(value):
            raise TypeError(
                f"{where}: '{name}' must be a non-empty sequence of positive ints, got "
                f"{getattr(backbone, name)!r}. Fix: {_FIXES[name]}"
            )
    if len(strides) != len(channels):
        raise TypeError(
            f"{where}: 'strides' {list(strides)} and 'channels' {list(channels)} must have one "
            "entry per returned feature map"
        )
    multiple = backbone.input_multiple
    if not _positive_ints([multiple]):
        raise TypeError(f"{where}: 'input_multiple' must be a positive int, got {multiple!r}")
    return strides, channels


def check_neck(neck: object, key: str = "model.neck") -> tuple[tuple[int, ...], ...]:
    """Check a built neck's ``strides`` and ``channels``; return them (as for backbones)."""
    where = f"{key}: {describe(neck)}"
    if not isinstance(neck, nn.Module):
        raise TypeError(f"{where} is not a torch.nn.Module")
    for name in ("strides", "channels"):
        if not _positive_ints(getattr(neck, name, None)):
            raise TypeError(
                f"{where} must expose '{name}', a non-empty sequence of positive ints (one per "
                f"output feature), got {getattr(neck, name, None)!r}"
            )
    if len(neck.strides) != len(neck.channels):
        raise TypeError(f"{where}: 'strides' and 'channels' must have one entry per output")
    return tuple(neck.strides), tuple(neck.channels)


def check_features(
    features: object, backbone: nn.Module, image_shape: Sequence[int], key: str = "model.backbone"
) -> None:
    """Check a backbone's first output against its ``strides`` and ``channels``: a list of
    (N, channels[i], H / strides[i], W / strides[i]) tensors for images (N, 3, H, W).

    Raises:
        TypeError: naming the backbone, what it returned and what the protocol expects.
    """
    where = f"{key}: {describe(backbone)}"
    strides, channels = tuple(backbone.strides), tuple(backbone.channels)
    batch, _, height, width = (int(v) for v in image_shape)
    expected = [
        f"({batch}, {c}, {math.ceil(height / s)}, {math.ceil(width / s)})"
        for s, c in zip(strides, channels)
    ]
    promise = (
        f"its strides {list(strides)} and channels {list(channels)} promise a list of "
        f"{len(strides)} feature maps {', '.join(expected)} for images {tuple(image_shape)}; "
        f"see {PROTOCOL_DOC}"
    )
    if not isinstance(features, (list, tuple)) or not all(
        isinstance(f, torch.Tensor) for f in features
    ):
        got = type(features).__name__
        if isinstance(features, (list, tuple)):
            got += " of " + ", ".join(type(f).__name__ for f in features)
        raise TypeError(f"{where} returned a {got}, not a list of tensors: {promise}")
    if len(features) != len(strides):
        raise TypeError(f"{where} returned {len(features)} feature maps: {promise}")
    for i, (feature, stride, width_c) in enumerate(zip(features, strides, channels)):
        shape = tuple(feature.shape)
        sizes_ok = len(shape) == 4 and all(
            size in (dim // stride, math.ceil(dim / stride))
            for size, dim in zip(shape[2:], (height, width))
        )
        if not sizes_ok or shape[:2] != (batch, width_c):
            raise TypeError(f"{where} returned feature {i} of shape {shape}: {promise}")
