"""The optimizer of a pose model: backbone and head learning rates, per-parameter weight decay.

:func:`build_optimizer` gives every trainable parameter once to the optimizer factory
(``model.optimizer``): in one group, or, with ``model.backbone_lr_mult != 1``, in the named
groups ``backbone`` (at ``lr * backbone_lr_mult``) and ``head`` (neck and heads, at ``lr``).

Per-parameter weight decay follows mmengine's ``paramwise_cfg``.
RTMPose trains with ``AdamW(lr=4e-3, weight_decay=0.05)`` and
``paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0, bypass_duplicate=True)``: no weight
decay on normalisation layers (their weight and bias) nor on any bias. An optimizer factory
that takes ``module`` (instead of ``params``) gets the LightningModule itself from
:meth:`~posekit.models.pose_module.TopDownPoseModule.configure_optimizers`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

# mmengine's norm layers: batch, group, layer and instance norms
NORM_LAYERS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm,
               nn.modules.instancenorm._InstanceNorm)


def decay_groups(
    module: nn.Module,
    weight_decay: float,
    norm_decay_mult: float,
    bias_decay_mult: float,
    part_of: Callable[[nn.Parameter], str | None] = lambda param: None,
) -> list[dict[str, Any]]:
    """Parameter groups of the trainable parameters of ``module``, each once, with the weight
    decay of mmengine's rule: norm layers x ``norm_decay_mult``, other biases x
    ``bias_decay_mult``, everything else ``weight_decay``; split further by ``part_of`` (a
    group ``name``, e.g. backbone / head) where it names one."""
    decays: dict[tuple[str | None, float], list[nn.Parameter]] = {}
    seen: set[int] = set()
    for layer in module.modules():
        for name, param in layer.named_parameters(recurse=False):
            if not param.requires_grad or id(param) in seen:
                continue
            seen.add(id(param))
            if isinstance(layer, NORM_LAYERS):
                decay = weight_decay * norm_decay_mult
            elif name == "bias":
                decay = weight_decay * bias_decay_mult
            else:
                decay = weight_decay
            decays.setdefault((part_of(param), decay), []).append(param)
    return [
        {"params": params, "weight_decay": decay, **({"name": part} if part else {})}
        for (part, decay), params in decays.items()
    ]


def paramwise_adamw(
    module: nn.Module,
    lr: float,
    weight_decay: float = 0.05,
    norm_decay_mult: float = 0.0,
    bias_decay_mult: float = 0.0,
    part_of: Callable[[nn.Parameter], str | None] = lambda param: None,
    **kwargs: Any,
) -> torch.optim.AdamW:
    """AdamW with mmengine's paramwise weight decay (see :func:`decay_groups`)."""
    groups = decay_groups(module, weight_decay, norm_decay_mult, bias_decay_mult, part_of)
    return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay, **kwargs)


def build_optimizer(
    factory: Callable[..., torch.optim.Optimizer], module: nn.Module, backbone_lr_mult: float
) -> torch.optim.Optimizer:
    """The optimizer of ``module``'s trainable parameters (see the module docstring); a
    factory that takes ``module`` (e.g. :func:`paramwise_adamw`) builds its own groups."""
    if backbone_lr_mult <= 0:
        raise ValueError(f"model.backbone_lr_mult must be > 0, got {backbone_lr_mult}")
    in_backbone = {id(p) for p in module.backbone.parameters()}
    split = backbone_lr_mult != 1.0

    def part_of(param: nn.Parameter) -> str | None:
        return ("backbone" if id(param) in in_backbone else "head") if split else None

    if "module" in inspect.signature(factory).parameters:
        optimizer = factory(module=module, part_of=part_of)
    else:
        trainable = [p for p in module.parameters() if p.requires_grad]
        groups: dict[str | None, list[nn.Parameter]] = {}
        for param in trainable:
            groups.setdefault(part_of(param), []).append(param)
        if not split:
            optimizer = factory(params=trainable)
        else:
            optimizer = factory(params=[{"params": ps, "name": n} for n, ps in groups.items()])
    for group in optimizer.param_groups:
        if group.get("name") == "backbone":
            group["lr"] = group["lr"] * backbone_lr_mult
    return optimizer
