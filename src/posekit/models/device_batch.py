"""The device-side end of the data path: crops cut and targets encoded for a whole batch.

With ``data.device_warp=true`` the loader delivers source_image (N, 3, h, w) uint8 and
warp_matrix (N, 2, 3) instead of image and targets (``posekit.data.topdown``); the model calls
:func:`complete_on_device` after the batch reaches its device.
"""

from __future__ import annotations

from typing import Mapping

import torch
from torch import Tensor

from posekit.codecs import Codec
from posekit.core.warp import warp_affine_batch


def encode_on_device(codec: Codec, keypoints: Tensor, visible: Tensor) -> dict[str, Tensor]:
    """The codec's targets of a batch, keypoints (N, K, 2) crop pixels, visible (N, K)."""
    encode_batch = getattr(codec, "encode_batch", None)
    if encode_batch is None:
        raise TypeError(
            f"data.device_warp=true encodes targets on the device, which {type(codec).__name__} "
            "cannot (no encode_batch): set data.device_warp=false"
        )
    return encode_batch(keypoints, visible)


def complete_on_device(
    batch: dict[str, Tensor], codec: Codec, aux_codecs: Mapping[str, Codec] | None = None
) -> dict[str, Tensor]:
    """The batch with image (N, 3, H, W) uint8 and the targets of ``codec`` (and of each
    auxiliary codec, under ``aux/<name>/``) in place of source_image and warp_matrix."""
    batch = dict(batch)
    source, matrices = batch.pop("source_image"), batch.pop("warp_matrix")
    crops = warp_affine_batch(source, matrices, tuple(codec.input_size))
    batch["image"] = crops.round_().clamp_(0, 255).to(torch.uint8)
    keypoints, visible = batch["keypoints"], batch["keypoint_visible"]
    batch.update(encode_on_device(codec, keypoints, visible))
    for name, aux in (aux_codecs or {}).items():
        targets = encode_on_device(aux, keypoints, visible)
        batch.update({f"aux/{name}/{key}": value for key, value in targets.items()})
    return batch
