"""The top-down sample: read the image, crop the person with one affine warp, encode targets."""

from __future__ import annotations

from collections import Counter
from typing import Callable, Mapping, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from posekit.codecs import Codec
from posekit.core.geometry import apply_affine, bbox_to_center_scale, crop_affine_matrix
from posekit.core.spec import KeypointSpec
from posekit.data.augment import GeometricAugmentation
from posekit.data.decode import LastImageReader, check_decoded_size
from posekit.data.records import PersonRecord, RecordStore


class TopDownDataset(Dataset):
    """Person crops of ``input_size`` (W, H) with the codec's targets.

    Each item is one sample of the batch contract (:class:`posekit.core.batch.Batch`, without
    the batch dimension): image (3, H, W) uint8 RGB, the codec's targets (e.g. heatmaps
    (K, h, w) or simcc_x (K, W*k), simcc_y (K, H*k)), keypoint_weights (K,), keypoints (K, 2) in
    crop pixels, keypoint_visible (K,), center (2,), scale (2,) and the metric meta. The targets
    of ``aux_codecs`` come as ``aux/<name>/<key>`` (their weights as
    ``aux/<name>/keypoint_weights``).

    ``udp``: cut the crops with UDP's matrix (:func:`posekit.core.geometry.udp_affine_matrix`);
    the flip stays the pixel flip x -> W-1-x.

    With ``device_warp`` an item holds the decoded (possibly reduced) image as source_image
    (3, h, w) uint8 and warp_matrix (2, 3) from its pixels to crop pixels (flip included)
    instead of image and targets: the model cuts and encodes the batch on its device
    (``posekit.models.device_batch``); :func:`posekit.data.collate.collate_sources` pads the
    images to one size.
    """

    def __init__(
        self,
        records: Sequence[PersonRecord],
        spec: KeypointSpec,
        codec: Codec,
        input_size: tuple[int, int],
        train: bool,
        bbox_padding: float = 1.25,
        augmentation: GeometricAugmentation | None = None,
        photometric: Callable | None = None,
        aux_codecs: Mapping[str, Codec] | None = None,
        udp: bool = False,
        reduced_decode: bool = True,
        device_warp: bool = False,
    ) -> None:
        self.aux_codecs = dict(aux_codecs or {})
        for name, each in (("codec", codec), *self.aux_codecs.items()):
            if tuple(each.input_size) != tuple(input_size):
                raise ValueError(
                    f"the input_size {tuple(each.input_size)} of {name} differs from the data's "
                    f"input_size {tuple(input_size)}; point both at one config value"
                )
        # columns, not a list of objects: forked workers read them without copying pages
        self.records = RecordStore.from_records(records)
        self.spec = spec
        self.codec = codec
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.aspect_ratio = self.input_size[0] / self.input_size[1]
        self.train = train
        self.bbox_padding = bbox_padding
        self.augmentation = augmentation if train else None
        self.photometric = photometric if train else None
        self.flip_index = np.asarray(spec.flip_index)
        self.udp = bool(udp)
        # training only: evaluation crops from the full image, exactly as the Predictor does,
        # so that a checkpoint predicts what its validation scored
        self.reduced_decode = reduced_decode and train
        # one decode for consecutive people of one image (validation's order, or training's
        # with data.group_by_image)
        self.reader = LastImageReader(self.reduced_decode)
        self.device_warp = device_warp
        if device_warp and self.photometric is not None:
            raise ValueError(
                "data.device_warp=true cuts the crops on the model's device, after the loader, "
                "where the photometric augmentation (albumentations, on CPU crops) cannot run: "
                "set data.photometric=null or data.device_warp=false"
            )
        # samples cut from an image decoded at each reduction factor (1 = full), in this process
        self.decode_factors: Counter[int] = Counter()

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        record = self.records[index]
        center, scale = bbox_to_center_scale(record.bbox, self.aspect_ratio, self.bbox_padding)
        rotation, flip = 0.0, False
        if self.augmentation is not None:
            rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, ()).item()))
            half_body = self.augmentation.half_body(
                record.keypoints,
                self.spec.upper_body_ids,
                self.spec.lower_body_ids,
                self.aspect_ratio,
                rng,
            )
            box_size = record.bbox[2:4].astype(np.float32) * self.bbox_padding  # (2,) unfixed
            if half_body is not None:
                center, scale, box_size = half_body
            center, scale, rotation = self.augmentation.jitter(center, scale, rng, box_size)
            flip = rng.random() < self.augmentation.flip_prob

        matrix = crop_affine_matrix(center, scale, rotation, self.input_size, udp=self.udp)
        hint = f"record {index}, image id {record.image_id}"
        image, warp, factor = self.reader.read_for_crop(record.image_path, matrix, hint)
        if record.image_size is not None:
            check_decoded_size(image, factor, record.image_size, record.image_path, hint)
        self.decode_factors[factor] += 1
        keypoints = apply_affine(record.keypoints[:, :2], matrix)  # (K, 2) crop pixels
        visible = (record.keypoints[:, 2] > 0).astype(np.float32)  # (K,)
        if flip:  # the mirror x -> W-1-x, folded into the warp
            warp = np.float32([[-1, 0, self.input_size[0] - 1], [0, 1, 0]]) @ np.vstack(
                [warp, np.float32([0, 0, 1])]
            )
            keypoints = keypoints[self.flip_index]
            keypoints[:, 0] = self.input_size[0] - 1 - keypoints[:, 0]
            visible = visible[self.flip_index]
        if self.device_warp:  # the model warps and encodes on its device (models/device_batch.py)
            sample = {
                "source_image": torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))),
                "warp_matrix": torch.from_numpy(warp.astype(np.float32)),
            }
        else:
            sample = self._crop_and_targets(image, warp, keypoints, visible)
        sample.update(
            keypoints=torch.from_numpy(keypoints.astype(np.float32)),
            keypoint_visible=torch.from_numpy(visible),
            center=torch.from_numpy(center.astype(np.float32)),
            scale=torch.from_numpy(scale.astype(np.float32)),
            sample_idx=torch.tensor(index, dtype=torch.int64),
            image_id=torch.tensor(record.image_id, dtype=torch.int64),
            bbox=torch.from_numpy(record.bbox.astype(np.float32)),
            bbox_score=torch.tensor(record.bbox_score, dtype=torch.float32),
            area=torch.tensor(record.area, dtype=torch.float32),
            gt_keypoints=torch.from_numpy(record.keypoints.astype(np.float32)),
        )
        return sample

    def _crop_and_targets(
        self, image: np.ndarray, warp: np.ndarray, keypoints: np.ndarray, visible: np.ndarray
    ) -> dict[str, torch.Tensor]:
        """The crop (3, H, W) uint8 (with photometric augmentation) and the codecs' targets."""
        crop = cv2.warpAffine(image, warp, self.input_size, flags=cv2.INTER_LINEAR)
        if self.photometric is not None:
            reseed = getattr(self.photometric, "set_random_seed", None)
            if reseed is not None:  # albumentations has its own generators: seed them from torch's
                reseed(int(torch.randint(0, 2**31 - 1, ()).item()))
            crop = self.photometric(image=crop)["image"]
        targets = self.codec.encode(keypoints, visible)
        sample = {key: torch.from_numpy(value) for key, value in targets.items()}
        for name, codec in self.aux_codecs.items():
            aux_targets = codec.encode(keypoints, visible)
            sample.update({f"aux/{name}/{k}": torch.from_numpy(v) for k, v in aux_targets.items()})
        sample["image"] = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1)))
        return sample
