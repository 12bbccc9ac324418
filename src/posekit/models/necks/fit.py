"""Does a neck's output fit the head and codec it feeds? Checked when the model is built."""

from __future__ import annotations

from torch import nn

from posekit.codecs import Codec


def check_head_fits(head: nn.Module, codec: Codec, stride: int, key: str = "model.neck") -> None:
    """Raise when the feature the neck returns (at ``stride``) does not fit the head or codec.

    Checks the feature size a SimCC head was built for (``feature_size``, from
    ``model.head.in_stride``) and the heatmaps a heatmap head would give (feature size x its
    ``upsample``) against ``model.codec.heatmap_size``; other heads are checked by their
    outputs against the codec's targets at the first step.

    Raises:
        ValueError: naming the neck's stride, the head or codec key that disagrees and the fix.
    """
    width, height = codec.input_size
    if width % stride or height % stride:
        raise ValueError(
            f"{key} returns a stride-{stride} feature but the input {width}x{height} (W x H, "
            "data.input_size) is not divisible by it"
        )
    feature = (width // stride, height // stride)  # (w, h)
    built_for = getattr(head, "feature_size", None)
    if built_for is not None and tuple(built_for) != feature:
        raise ValueError(
            f"{key} returns a stride-{stride} feature of {feature[0]}x{feature[1]} (w x h) but "
            f"model.head was built for {built_for[0]}x{built_for[1]} (model.head.in_stride): "
            f"set model.head.in_stride={stride}"
        )
    upsample = getattr(head, "upsample", None)
    heatmap_size = getattr(codec, "heatmap_size", None)
    if upsample is not None and heatmap_size is not None:
        heatmaps = (feature[0] * upsample, feature[1] * upsample)
        if heatmaps != tuple(heatmap_size):
            raise ValueError(
                f"{key} returns a stride-{stride} feature, so model.head gives {heatmaps[0]}x"
                f"{heatmaps[1]} (w x h) heatmaps, but model.codec.heatmap_size is "
                f"{list(heatmap_size)}: set model.codec.heatmap_size=[{heatmaps[0]},"
                f"{heatmaps[1]}] or change the neck's output stride"
            )
