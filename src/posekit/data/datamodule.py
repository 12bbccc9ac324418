"""LightningDataModules: one base for every top-down data set, one subclass per layout."""

from __future__ import annotations

import logging
from abc import abstractmethod
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import lightning as L
import numpy as np
from torch.utils.data import DataLoader, Sampler

from posekit.codecs import Codec
from posekit.core.io import check_not_truncated, jpeg_is_truncated
from posekit.core.spec import KeypointSpec
from posekit.data.augment import GeometricAugmentation
from posekit.data.collate import collate_sources
from posekit.data.grouped_sampler import ImageGroupedSampler
from posekit.data.records import PersonRecord, RecordStore
from posekit.data.topdown import TopDownDataset
from posekit.data.workers import worker_init

log = logging.getLogger(__name__)


class DataLayoutError(FileNotFoundError):
    """``data.root`` is missing or lacks files of the expected layout.

    Its repr is its message with its line breaks: Hydra's instantiate reports a failed
    ``_target_`` by the exception's repr, which would print the layout as one line of ``\\n``.
    """

    def __repr__(self) -> str:
        return f"{type(self).__name__}: {self}"


class TopDownDataModule(L.LightningDataModule):
    """Shared loaders of a top-down data set; subclasses say where records come from.

    input_size is (W, H). ``layout`` (class attribute) is shown to the user when the folder
    does not match. ``metrics`` (name -> partial, the data config's ``metrics:`` Hydra nodes)
    are the metrics this data set is judged by: :meth:`build_metrics` completes each with the
    keypoint spec. ``monitor`` names the main metric (e.g. ``val/AP``), which the checkpoint
    callback and early stopping watch. ``aux_codecs`` (name -> codec) encode the targets of
    auxiliary heads beside the main codec's. ``udp`` (``data.udp``) cuts training and
    validation crops with UDP's matrix; the model reads the same key to map back.

    Speed: ``reduced_decode`` decodes JPEGs at 1/2, 1/4 or 1/8 scale when the crop is
    downscaled at least that much (:mod:`posekit.data.decode`); ``pin_memory`` (page-locked
    batches, so that the model's ``non_blocking`` copies to the GPU overlap the next step),
    ``persistent_workers`` (keep the workers between epochs) and ``prefetch_factor`` (batches
    each worker prepares ahead) set up the loaders. ``device_warp`` hands the model decoded
    images and crop matrices: the crops are cut and the targets encoded on its device.
    ``group_by_image`` draws each training epoch image by image
    (:class:`~posekit.data.grouped_sampler.ImageGroupedSampler`, shuffled with ``seed`` and the
    epoch), so one decode serves all the people of an image.
    """

    layout: str = ""

    def __init__(
        self,
        root: str,
        keypoints: KeypointSpec,
        codec: Codec,
        input_size: tuple[int, int],
        batch_size: int = 32,
        val_batch_size: int | None = None,
        num_workers: int = 2,
        pin_memory: bool = False,
        bbox_padding: float = 1.25,
        augmentation: GeometricAugmentation | None = None,
        photometric: Callable | None = None,
        check_images: bool = True,
        metrics: Mapping[str, Callable[..., Any]] | None = None,
        monitor: str = "val/AP",
        monitor_mode: str = "max",
        aux_codecs: Mapping[str, Codec] | None = None,
        udp: bool = False,
        reduced_decode: bool = True,
        persistent_workers: bool = True,
        prefetch_factor: int | None = None,
        device_warp: bool = False,
        group_by_image: bool = False,
        seed: int | None = 0,
    ) -> None:
        super().__init__()
        self.root = Path(root)
        self.spec = keypoints
        self.codec = codec
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size or batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.bbox_padding = bbox_padding
        self.augmentation = augmentation
        self.photometric = photometric
        self.check_images = check_images
        self.metric_factories = dict(metrics or {})
        self.aux_codecs = dict(aux_codecs or {})
        self.udp = bool(udp)
        self.monitor = monitor
        self.monitor_mode = monitor_mode
        self.reduced_decode = reduced_decode
        self.persistent_workers = persistent_workers
        self.prefetch_factor = prefetch_factor
        self.device_warp = device_warp
        self.group_by_image = group_by_image
        self.seed = int(seed or 0)
        self.check_layout()
        self.train_set: TopDownDataset | None = None
        self.val_set: TopDownDataset | None = None

    # --- what a subclass provides -------------------------------------------------------
    @abstractmethod
    def required_paths(self) -> list[Path]:
        """Files and folders that must exist under ``root``."""

    @abstractmethod
    def train_records(self) -> Sequence[PersonRecord]:
        ...

    @abstractmethod
    def val_records(self) -> Sequence[PersonRecord]:
        ...

    def val_source(self) -> str:
        """Where the validation people come from, for messages."""
        return str(self.root)

    def train_source(self) -> str:
        """Where the training people come from, for messages."""
        return str(self.root)

    def check_not_empty(
        self, records: list[PersonRecord], train: bool, source: str | None = None
    ) -> None:
        """Refuse an empty training or validation set, naming the file it was read from and the
        key to fix (``data.sources.<source>.<key>`` for a mixture's source)."""
        if records:
            return
        split, key = ("training", "train_ann") if train else ("validation", "val_ann")
        where = f"data.sources.{source}" if source else type(self).__name__
        key = f"data.sources.{source}.{key}" if source else f"data.{key}"
        origin = self.train_source() if train else self.val_source()
        raise ValueError(
            f"{where}: the {split} set is empty: {origin} "
            "lists no person that can be used (no annotations, or every one skipped: the log "
            f"above counts the skipped by reason). Fix the annotations or {key}"
        )

    def build_metrics(self) -> list[Any]:
        """New instances of the data config's metrics (``metrics:``), completed with the spec."""
        return [factory(spec=self.spec) for factory in self.metric_factories.values()]

    @property
    def boxes(self) -> str:
        """Which person boxes validation crops: ``"gt"`` (annotated) or ``"detections"``."""
        return "gt"

    # --- shared behaviour ---------------------------------------------------------------
    def resolve(self, path: str | Path) -> Path:
        path = Path(path)
        return path if path.is_absolute() else self.root / path

    def check_layout(self) -> None:
        if not self.root.is_dir():
            raise DataLayoutError(
                f"data.root {self.root} does not exist. {type(self).__name__} expects:\n"
                f"{self.layout}\nDownload the data set there or pass data.root=<folder>."
            )
        missing = [str(p) for p in self.required_paths() if not p.exists()]
        if missing:
            raise DataLayoutError(
                f"data.root {self.root} lacks {', '.join(missing)}. "
                f"{type(self).__name__} expects:\n{self.layout}"
            )

    def _check_images_exist(
        self, records: Sequence[PersonRecord], split: str
    ) -> Sequence[PersonRecord]:
        """The records whose image exists and is whole. A missing image fails; a truncated JPEG
        fails in validation (naming it) and is skipped in training (counted once)."""
        if not self.check_images:
            return records
        store = RecordStore.from_records(records)
        paths = store.image_paths()  # each image once
        missing = [i for i, p in enumerate(paths) if not Path(p).is_file()]
        if missing:
            first = min(missing, key=paths.__getitem__)
            example = store[int(np.argmax(store.image_index == first))]
            raise FileNotFoundError(
                f"{len(missing)} of {len(paths)} {split} images are missing, e.g. "
                f"{paths[first]} (image id {example.image_id}, annotation id "
                f"{example.ann_id}). Check data.root and the image folder names."
            )
        truncated = np.array([jpeg_is_truncated(p) for p in paths], dtype=bool)  # (P,)
        if not truncated.any():
            return store
        dropped = truncated[store.image_index]  # (N,)
        if split != "training":
            example = store[int(np.argmax(dropped))]
            check_not_truncated(
                example.image_path, f"image id {example.image_id}, annotation id {example.ann_id}"
            )
        log.warning(
            "skipped %d truncated training images (%d people), e.g. %s: copy them again",
            int(truncated.sum()),
            int(dropped.sum()),
            min(p for p, t in zip(paths, truncated) if t),
        )
        return store.select(~dropped)

    def _dataset(
        self, records: Sequence[PersonRecord], train: bool, **replace: Any
    ) -> TopDownDataset:
        """A TopDownDataset of ``records`` with this module's settings; ``replace`` sets others
        (a mixture's target keypoints, codec and input size)."""
        settings = dict(
            spec=self.spec,
            codec=self.codec,
            input_size=self.input_size,
            bbox_padding=self.bbox_padding,
            augmentation=self.augmentation,
            photometric=self.photometric,
            aux_codecs=self.aux_codecs,
            udp=self.udp,
            reduced_decode=self.reduced_decode,
            device_warp=self.device_warp,
        )
        return TopDownDataset(records, train=train, **{**settings, **replace})

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            records = self.train_records()
            self.check_not_empty(records, train=True)
            records = self._check_images_exist(records, "training")
            self.train_set = self._dataset(records, train=True)
        if self.val_set is None:
            records = self.val_records()
            self.check_not_empty(records, train=False)
            records = self._check_images_exist(records, "validation")
            self.val_set = self._dataset(records, train=False)

    def _loader(
        self,
        dataset: TopDownDataset,
        batch_size: int,
        shuffle: bool,
        sampler: Sampler | None = None,
    ) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle and sampler is None,
            sampler=sampler,
            drop_last=shuffle and len(dataset) > batch_size,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers and self.num_workers > 0,
            # batches each worker prepares ahead (torch's default 2 when null)
            prefetch_factor=self.prefetch_factor if self.num_workers > 0 else None,
            collate_fn=collate_sources if self.device_warp else None,
            worker_init_fn=worker_init,  # workers leave SIGTERM to the training process
        )

    def train_sampler(self) -> ImageGroupedSampler | None:
        """With ``group_by_image``, the epoch's image-by-image order for this process
        (Lightning's world size and rank once attached); else None (a plain shuffle)."""
        if not self.group_by_image:
            return None
        trainer = self.trainer
        return ImageGroupedSampler(
            self.train_set.records.image_index.tolist(),  # people of one image share a key
            seed=self.seed,
            num_replicas=trainer.world_size if trainer is not None else 1,
            rank=trainer.global_rank if trainer is not None else 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(
            self.train_set, self.batch_size, shuffle=True, sampler=self.train_sampler()
        )

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, self.val_batch_size, shuffle=False)
