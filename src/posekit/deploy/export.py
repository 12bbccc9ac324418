"""Export a trained model to ONNX or TorchScript, with a parity check against PyTorch.

The exported network takes person crops ``image`` (N, 3, H, W) RGB with pixel values 0-255,
uint8 by default (``input_dtype="float32"`` for float inputs with the same 0-255 range), at the
model's input size; the ImageNet normalisation is inside. The batch dimension is dynamic.

Outputs: the head's raw outputs (``simcc_x`` (N, K, W*k) and ``simcc_y`` (N, K, H*k), or
``heatmaps`` (N, K, h, w)) or, with ``with_decode``, ``keypoints`` (N, K, 2) in crop pixels and
``scores`` (N, K): SimCC argmax / k, heatmap argmax plus the quarter-pixel shift. DARK
(``unbiased`` heatmap codecs) is not part of the exported graph: such models export the
argmax + quarter shift decoding; UDP heatmap codecs the argmax x (W-1)/(w-1) (mmpose's
W/(w-1) with ``decode_scale="mmpose"``), without the DARK-UDP step. With ``flip_test`` the graph also runs the flipped crop and
averages the outputs as evaluation does.

ONNX goes through PyTorch's ``torch.export``-based exporter (torch >= 2.5 with ``onnxscript``);
TorchScript through ``torch.jit.trace``, which PyTorch deprecates: prefer ONNX.
"""

from __future__ import annotations

import copy
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from posekit.codecs import Codec, MSRAHeatmapCodec, UDPHeatmapCodec
from posekit.models.pose_module import TopDownPoseModule
from posekit.models.predict import identity_crops, predict_crops

log = logging.getLogger(__name__)

FORMATS = ("onnx", "torchscript")
INPUT_DTYPES = {"uint8": torch.uint8, "float32": torch.float32}
PARITY_TOLERANCE = 1e-4
ONNX_OPSET = 18


class ParityError(RuntimeError):
    """The exported model's outputs differ from PyTorch's by more than the tolerance."""


class ExportablePoseNet(nn.Module):
    """A posekit model's network as a plain module: crops (N, 3, H, W) 0-255 -> output tuple.

    Holds the backbone, neck and head of ``model`` (shared, not copied; never its auxiliary
    heads), its normalisation constants and codec; not the LightningModule, whose trainer
    hooks tracing cannot walk. With ``with_decode`` it runs the one predict path
    (:func:`posekit.models.predict.predict_crops`) with crop pixels as image pixels.
    """

    def __init__(
        self, model: TopDownPoseModule, with_decode: bool = False, flip_test: bool = False
    ):
        super().__init__()
        self.backbone = model.backbone
        self.neck = model.neck
        self.head = model.head
        self.register_buffer("pixel_mean", model.pixel_mean.detach().clone())
        self.register_buffer("pixel_std", model.pixel_std.detach().clone())
        self.codec = export_codec(model.codec) if with_decode else model.codec
        self.flip_index = list(model.spec.flip_index)
        self.with_decode = with_decode
        self.flip_test = flip_test
        self.input_size = tuple(int(v) for v in model.codec.input_size)  # (W, H)
        self.output_names = (
            ("keypoints", "scores") if with_decode else tuple(model.codec.output_keys)
        )

    def normalize(self, images: Tensor) -> Tensor:
        """(N, 3, H, W) RGB 0-255 -> ImageNet-normalised floats."""
        return (images.float() - self.pixel_mean) / self.pixel_std

    def network(self, images: Tensor) -> dict[str, Tensor]:
        """Normalised images -> the head outputs."""
        features = self.backbone(images)
        return self.head(self.neck(features)[0] if self.neck is not None else features[0])

    def forward(self, images: Tensor) -> tuple[Tensor, ...]:
        """(N, 3, H, W) RGB 0-255 -> the outputs named by ``output_names``."""
        center, scale = identity_crops(images.shape[0], self.input_size, images.device)
        prediction = predict_crops(_Network(self), images, center, scale, self.flip_test)
        if self.with_decode:
            return prediction.keypoints, prediction.scores
        return tuple(prediction.decoded[key] for key in self.codec.output_keys)


class _Network:
    """The :class:`~posekit.models.predict.PoseNetwork` view of an :class:`ExportablePoseNet`."""

    def __init__(self, net: ExportablePoseNet) -> None:
        self.codec, self.flip_index, self.normalize = net.codec, net.flip_index, net.normalize
        self._net = net

    def __call__(self, images: Tensor) -> dict[str, Tensor]:
        return self._net.network(images)


def export_codec(codec: Codec) -> Codec:
    """The codec whose ``decode`` goes into the graph: DARK heatmap codecs fall back to MSRA,
    UDP codecs to the argmax without the DARK-UDP step."""
    if isinstance(codec, MSRAHeatmapCodec) and codec.unbiased:
        log.warning(
            "the model decodes with DARK (unbiased heatmaps); the exported graph decodes with "
            "argmax + quarter-pixel shift, so its keypoints differ slightly from evaluation's"
        )
        codec = copy.copy(codec)
        codec.unbiased = False
    if isinstance(codec, UDPHeatmapCodec) and codec.refine:
        log.warning(
            "the model decodes UDP heatmaps with the DARK-UDP step, whose Newton step on flat "
            "maps is too sensitive for a parity check; the exported graph decodes the argmax x "
            "the codec's decode scale, so its keypoints differ slightly from evaluation's"
        )
        codec = copy.copy(codec)
        codec.refine = False
    return codec


def example_input(
    net: ExportablePoseNet, batch: int, dtype: str = "uint8", seed: int = 0
) -> Tensor:
    """Random crops (batch, 3, H, W) of pixel values 0-255 in ``dtype``."""
    if dtype not in INPUT_DTYPES:
        raise ValueError(f"input dtype must be one of {sorted(INPUT_DTYPES)}, got {dtype!r}")
    width, height = net.input_size
    generator = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, 256, (batch, 3, height, width), generator=generator)
    device = net.pixel_mean.device
    return pixels.to(device=device, dtype=INPUT_DTYPES[dtype])


def export(
    model: TopDownPoseModule,
    path: str | Path,
    format: str = "onnx",
    with_decode: bool = False,
    flip_test: bool = False,
    input_dtype: str = "uint8",
) -> float:
    """Write ``model`` (switched to eval mode) as ONNX (dynamic batch) or TorchScript, then
    check parity (see :func:`check_parity`); returns the max abs difference to PyTorch."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = ExportablePoseNet(model, with_decode=with_decode, flip_test=flip_test).eval()
    # batch 2: a batch of 1 would let torch.export specialise the batch dimension to 1
    example = example_input(net, batch=2, dtype=input_dtype)
    with torch.no_grad(), warnings.catch_warnings():
        # the backbone and head check the (fixed) crop size in Python; tracing warns about it
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", r"`torch\.jit\.\w+` is deprecated", FutureWarning)
        if format == "onnx":
            batch = torch.export.Dim("batch", min=1, max=4096)
            torch.onnx.export(
                net,
                (example,),
                str(path),
                input_names=["image"],
                output_names=list(net.output_names),
                dynamic_shapes=({0: batch},),
                opset_version=ONNX_OPSET,
                dynamo=True,
                verbose=False,
            )
        else:
            torch.jit.save(torch.jit.trace(net, example), str(path))
    return check_parity(net, path, format, input_dtype)


def run_exported(path: str | Path, format: str, images: Tensor) -> list[np.ndarray]:
    """Outputs of an exported model (onnxruntime for ONNX, torch.jit for TorchScript)."""
    if format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return list(session.run(None, {name: images.cpu().numpy()}))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"`torch\.jit\.\w+` is deprecated", FutureWarning)
        module = torch.jit.load(str(path), map_location=images.device)
    with torch.no_grad():
        return [out.cpu().numpy() for out in module(images)]


def check_parity(
    net: ExportablePoseNet,
    path: str | Path,
    format: str,
    input_dtype: str = "uint8",
    tolerance: float = PARITY_TOLERANCE,
) -> float:
    """Max abs difference between the exported model and ``net`` on one random batch of 3
    (another batch size than the export's, so the dynamic batch is exercised); raises
    ParityError above ``tolerance``."""
    images = example_input(net, batch=3, dtype=input_dtype, seed=1)
    with torch.no_grad():
        expected = [out.cpu().numpy() for out in net(images)]
    actual = run_exported(path, format, images)
    if len(actual) != len(expected):
        raise ParityError(f"{path} returns {len(actual)} outputs, PyTorch {len(expected)}")
    difference = 0.0
    for name, got, want in zip(net.output_names, actual, expected):
        if got.shape != want.shape:
            raise ParityError(
                f"{path}: output '{name}' has shape {got.shape}, PyTorch {want.shape}"
            )
        difference = max(difference, float(np.abs(got.astype(np.float64) - want).max()))
    if difference > tolerance:
        raise ParityError(
            f"{path} differs from the PyTorch model by {difference:.3g} (> {tolerance}) on the "
            "same random input"
        )
    return difference
