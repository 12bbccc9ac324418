"""Freezing backbone stages and the backbone's learning-rate group (fine-tuning moves).

``model.freeze_backbone_stages=N`` freezes the stem and the first N stages of the backbone
(mmpose's ``frozen_stages``: -1 freezes nothing, 0 the stem only), as listed by the backbone's
``stages()`` (see :mod:`posekit.models.backbone_protocol`); ``model.freeze_backbone=true``
freezes all of it. Frozen parameters get ``requires_grad=False`` and stay out of the optimizer;
the BatchNorm layers of frozen parts are kept in eval mode (their running statistics do not
move), as mmpose's ``_freeze_stages`` does on every ``train()``.
``model.backbone_lr_mult`` scales the learning rate of the backbone's parameter group against
that of the neck and heads.
"""

from __future__ import annotations

from typing import Iterable

from torch import nn

from posekit.models.backbone_protocol import describe


def frozen_modules(backbone: nn.Module, stages: int, whole: bool) -> list[nn.Module]:
    """The parts of ``backbone`` to freeze: all of it, or its stem and first ``stages`` stages.

    Raises:
        ValueError: ``stages`` below -1, or more than the backbone has (naming how many).
        TypeError: ``stages >= 0`` for a backbone without ``stages()``.
    """
    if whole:
        return [backbone]
    if stages < -1:
        raise ValueError(f"model.freeze_backbone_stages must be >= -1, got {stages}")
    if stages == -1:
        return []
    if not callable(getattr(backbone, "stages", None)):
        raise TypeError(
            f"model.freeze_backbone_stages={stages}: {describe(backbone)} has no stages() "
            "method listing its stem and stages; add one (see "
            "posekit.models.backbone_protocol) or freeze all of it with "
            "model.freeze_backbone=true"
        )
    parts = list(backbone.stages())
    if stages + 1 > len(parts):
        raise ValueError(
            f"model.freeze_backbone_stages={stages}: {describe(backbone)} has a stem and "
            f"{len(parts) - 1} stages; choose -1..{len(parts) - 1} or model.freeze_backbone=true"
        )
    return parts[: stages + 1]


def freeze(modules: Iterable[nn.Module]) -> None:
    """``requires_grad=False`` for every parameter of ``modules``."""
    for module in modules:
        for parameter in module.parameters():
            parameter.requires_grad_(False)


def keep_norms_in_eval(modules: Iterable[nn.Module]) -> None:
    """Put the normalisation layers of ``modules`` in eval mode (after each ``train()``)."""
    for module in modules:
        for layer in module.modules():
            if isinstance(layer, nn.modules.batchnorm._NormBase):
                layer.eval()
