"""Optimizers with per-parameter weight decay, as mmengine's ``paramwise_cfg``.

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
    module: nn.Module, weight_decay: float, norm_decay_mult: float, bias_decay_mult: float
) -> list[dict[str, Any]]:
    """Parameter groups of the trainable parameters of ``module``, each once, with the weight
    decay of mmengine's rule: norm layers x ``norm_decay_mult``, other biases x
    ``bias_decay_mult``, everything else ``weight_decay``."""
    decays: dict[float, list[nn.Parameter]] = {}
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
            decays.setdefault(decay, []).append(param)
    return [{"params": params, "weight_decay": decay} for decay, params in decays.items()]


def paramwise_adamw(
    module: nn.Module,
    lr: float,
    weight_decay: float = 0.05,
    norm_decay_mult: float = 0.0,
    bias_decay_mult: float = 0.0,
    **kwargs: Any,
) -> torch.optim.AdamW:
    """AdamW with mmengine's paramwise weight decay (see :func:`decay_groups`)."""
    groups = decay_groups(module, weight_decay, norm_decay_mult, bias_decay_mult)
    return torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay, **kwargs)


def optimizer_arguments(factory: Callable[..., Any], module: nn.Module) -> dict[str, Any]:
    """``{"module": module}`` for factories that take it (above), else ``{"params": ...}``."""
    if "module" in inspect.signature(factory).parameters:
        return {"module": module}
    return {"params": module.parameters()}
