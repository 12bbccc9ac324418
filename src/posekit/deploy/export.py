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

With ``crop_in_graph`` (ONNX) the graph takes what a deployment has, one whole ``image``
(H, W, 3) RGB 0-255 of any size and the people's ``boxes`` (N, 4) xywh in its pixels, and gives
``keypoints`` (N, K, 2) in image pixels and ``scores`` (N, K): it clips the boxes to the image,
pads them to the input's aspect ratio by the run's ``data.bbox_padding`` and cuts each crop
as eval.py's ``cv2.warpAffine`` does, to the level (:class:`CroppingPoseNet`): no crop is cut
outside it, and the deployment's OpenCV, whose warp changed in OpenCV 5, takes no part.

ONNX goes through PyTorch's ``torch.export``-based exporter (torch >= 2.5 with ``onnxscript``);
TorchScript through ``torch.jit.trace``, which PyTorch deprecates: prefer ONNX.
"""

from __future__ import annotations

import copy
import functools
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from posekit.codecs import Codec, MSRAHeatmapCodec, UDPHeatmapCodec
from posekit.core.boxes import clip_boxes_batch
from posekit.core.geometry import boxes_to_center_scale, crop_affine_matrices
from posekit.core.warp import opencv_warp_affine
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

    input_names: tuple[str, ...] = ("image",)

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

    def example_inputs(self, batch: int, dtype: str = "uint8", seed: int = 0) -> tuple[Tensor]:
        """Random inputs of ``batch`` people (see :func:`example_input`)."""
        return (example_input(self, batch, dtype, seed),)

    def dynamic_shapes(self) -> tuple[dict[int, torch.export.Dim], ...]:
        """The dimensions that stay free in the exported graph: the batch."""
        return ({0: torch.export.Dim("batch", min=1, max=4096)},)


class CroppingPoseNet(ExportablePoseNet):
    """Whole image and boxes in, image-pixel keypoints out: the crop inside the graph.

    ``image`` (H, W, 3) RGB 0-255, ``boxes`` (N, 4) xywh -> ``keypoints`` (N, K, 2) image
    pixels, ``scores`` (N, K). The boxes are clipped as the data loader clips them
    (:func:`~posekit.core.boxes.clip_boxes_batch`), turned into crops as evaluation's
    (:func:`~posekit.core.geometry.boxes_to_center_scale` with the run's ``bbox_padding``, UDP's
    matrix for UDP models) and cut as ``cv2.warpAffine`` (OpenCV 4, which posekit installs)
    cuts them for eval.py, to the level (:func:`~posekit.core.warp.opencv_warp_affine`). A box
    with nothing inside the image (the loader and the Predictor refuse it) gets scores 0.
    """

    input_names = ("image", "boxes")

    def __init__(
        self, model: TopDownPoseModule, flip_test: bool = False, bbox_padding: float = 1.25
    ):
        super().__init__(model, with_decode=True, flip_test=flip_test)
        self.udp = bool(model.udp)
        self.bbox_padding = float(bbox_padding)
        self.aspect_ratio = self.input_size[0] / self.input_size[1]

    def forward(self, image: Tensor, boxes: Tensor) -> tuple[Tensor, Tensor]:
        """image (H, W, 3), boxes (N, 4) -> keypoints (N, K, 2) image pixels, scores (N, K)."""
        height, width = image.shape[0], image.shape[1]
        clipped, kept = clip_boxes_batch(boxes.float(), width, height)  # (N, 4), (N,)
        center, scale = boxes_to_center_scale(clipped, self.aspect_ratio, self.bbox_padding)
        matrices = crop_affine_matrices(center, scale, self.input_size, udp=self.udp)
        crops = opencv_warp_affine(image, matrices, self.input_size)  # (N, 3, h, w)
        prediction = predict_crops(_Network(self), crops, center, scale, self.flip_test)
        return prediction.keypoints, prediction.scores * kept[:, None].to(prediction.scores)

    def example_inputs(
        self, batch: int, dtype: str = "uint8", seed: int = 0
    ) -> tuple[Tensor, Tensor]:
        """A random image about twice the crop's size and ``batch`` random boxes in it, some
        reaching past its border."""
        if dtype not in INPUT_DTYPES:
            raise ValueError(f"input dtype must be one of {sorted(INPUT_DTYPES)}, got {dtype!r}")
        generator = torch.Generator().manual_seed(seed)
        width, height = (2 * v + 7 * seed for v in self.input_size)
        image = torch.randint(0, 256, (height, width, 3), generator=generator)
        corner = torch.rand(batch, 2, generator=generator) * torch.tensor([width, height]) * 0.5
        size = (0.3 + torch.rand(batch, 2, generator=generator)) * torch.tensor([width, height])
        boxes = torch.cat([corner, size], dim=1)
        device = self.pixel_mean.device
        return image.to(device=device, dtype=INPUT_DTYPES[dtype]), boxes.to(device)

    def dynamic_shapes(self) -> tuple[dict[int, torch.export.Dim], ...]:
        """Free: the image's height and width, the number of boxes."""
        return (
            {0: torch.export.Dim("height", min=8, max=16384),
             1: torch.export.Dim("width", min=8, max=16384)},
            {0: torch.export.Dim("people", min=1, max=4096)},
        )


class _Network:
    """The :class:`~posekit.models.predict.PoseNetwork` view of an :class:`ExportablePoseNet`."""

    def __init__(self, net: ExportablePoseNet) -> None:
        self.codec, self.flip_index, self.normalize = net.codec, net.flip_index, net.normalize
        self.udp = bool(getattr(net, "udp", False))  # only a CroppingPoseNet maps UDP crops back
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
    crop_in_graph: bool = False,
    bbox_padding: float = 1.25,
) -> float:
    """Write ``model`` (switched to eval mode) as ONNX (dynamic batch) or TorchScript, then
    check parity (see :func:`check_parity`); returns the max abs difference to PyTorch.
    ``crop_in_graph``: a :class:`CroppingPoseNet` (ONNX only; it decodes), whose boxes are
    padded by ``bbox_padding`` (the run's ``data.bbox_padding``)."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if crop_in_graph and format != "onnx":
        raise ValueError("crop_in_graph exports ONNX only (TorchScript's trace would fix the "
                         "image size): use format=onnx")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if crop_in_graph:
        net = CroppingPoseNet(model, flip_test=flip_test, bbox_padding=bbox_padding).eval()
    else:
        net = ExportablePoseNet(model, with_decode=with_decode, flip_test=flip_test).eval()
    # batch 2: a batch of 1 would let torch.export specialise the batch dimension to 1
    example = net.example_inputs(batch=2, dtype=input_dtype)
    with torch.no_grad(), warnings.catch_warnings():
        # the backbone and head check the (fixed) crop size in Python; tracing warns about it
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", r"`torch\.jit\.\w+` is deprecated", FutureWarning)
        if format == "onnx":
            torch.onnx.export(
                net,
                example,
                str(path),
                input_names=list(net.input_names),
                output_names=list(net.output_names),
                dynamic_shapes=net.dynamic_shapes(),
                opset_version=ONNX_OPSET,
                dynamo=True,
                verbose=False,
            )
        else:
            torch.jit.save(torch.jit.trace(net, example), str(path))
    return check_parity(net, path, format, input_dtype)


def run_exported(path: str | Path, format: str, *inputs: Tensor) -> list[np.ndarray]:
    """Outputs of an exported model (onnxruntime for ONNX, torch.jit for TorchScript) on its
    inputs in order (crops; or, cropping in the graph, the image and the boxes)."""
    if format == "onnx":
        session = onnx_session(path)
        names = [entry.name for entry in session.get_inputs()]
        return list(session.run(None, {n: x.cpu().numpy() for n, x in zip(names, inputs)}))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"`torch\.jit\.\w+` is deprecated", FutureWarning)
        module = torch.jit.load(str(path), map_location=inputs[0].device)
    with torch.no_grad():
        return [out.cpu().numpy() for out in module(*inputs)]


def onnx_session(path: str | Path) -> "onnxruntime.InferenceSession":  # noqa: F821
    """An onnxruntime CPU session of ``path``, made once per file version (its size and
    modification time), not once per image."""
    stat = Path(path).stat()
    return _session(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _session(path: str, size: int, mtime_ns: int) -> "onnxruntime.InferenceSession":  # noqa: F821
    import onnxruntime

    return onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])


def inputs_of(path: str | Path) -> list[str]:
    """The input names of an exported ONNX model (``["image", "boxes"]`` when it crops)."""
    return [entry.name for entry in onnx_session(path).get_inputs()]


def check_parity(
    net: ExportablePoseNet,
    path: str | Path,
    format: str,
    input_dtype: str = "uint8",
    tolerance: float = PARITY_TOLERANCE,
) -> float:
    """Max abs difference between the exported model and ``net`` on one random batch of 3
    (another batch size, and for a cropping net another image size, than the export's, so the
    dynamic dimensions are exercised); raises ParityError above ``tolerance``."""
    inputs = net.example_inputs(batch=3, dtype=input_dtype, seed=1)
    with torch.no_grad():
        expected = [out.cpu().numpy() for out in net(*inputs)]
    actual = run_exported(path, format, *inputs)
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
