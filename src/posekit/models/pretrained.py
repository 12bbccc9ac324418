"""Can timm's ImageNet weights of a model be had right now? (the cache, else a quick probe).

Without network, huggingface_hub retries a download for about a minute before it gives up;
:func:`unavailable_reason` answers at once: the weights are usable when they are in the Hugging
Face or torch hub cache, or when the host that serves them answers a TCP connection within a
few seconds (or a proxy is configured, which the probe cannot judge).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import huggingface_hub
import timm
import torch

PROBE_TIMEOUT_S = 3.0
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin")
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def unavailable_reason(name: str, cache_dir: str | Path | None = None) -> str | None:
    """Why the pretrained weights of timm model ``name`` cannot be loaded now, or ``None`` when
    they are cached, the host answers, or the model has no known source (timm then decides)."""
    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None:
        return None
    if cfg.hf_hub_id:
        repo_id, _, revision = cfg.hf_hub_id.partition("@")
        for filename in _WEIGHT_FILES:
            cached = huggingface_hub.try_to_load_from_cache(
                repo_id, filename, cache_dir=cache_dir, revision=revision or None
            )
            if isinstance(cached, str):
                return None
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
        if huggingface_hub.constants.HF_HUB_OFFLINE:
            return "HF_HUB_OFFLINE is set and the weights are not in the Hugging Face cache"
    elif cfg.url:
        folder = Path(cache_dir) if cache_dir else Path(torch.hub.get_dir()) / "checkpoints"
        if (folder / Path(urlparse(cfg.url).path).name).is_file():
            return None
        endpoint = cfg.url
    else:
        return None
    if any(os.environ.get(variable) for variable in _PROXY_VARIABLES):
        return None
    url = urlparse(endpoint)
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S).close()
    except OSError as err:
        return f"the weights are not cached and {host} cannot be reached ({err})"
    return None
