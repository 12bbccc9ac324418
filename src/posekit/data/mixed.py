"""Training on several data sets at once: sources mapped into one keypoint set, drawn by ratio,
each validated with its own metrics."""

from __future__ import annotations

import logging
import math
from typing import Any, Callable, Mapping, Sequence

import lightning as L
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from posekit.codecs import Codec
from posekit.core.spec import KeypointSpec
from posekit.data.datamodule import TopDownDataModule
from posekit.data.keypoint_mapping import KeypointMapping, MappingConfig
from posekit.data.mixture_sampler import MixtureSampler
from posekit.data.topdown import TopDownDataset
from posekit.data.workers import worker_init

log = logging.getLogger(__name__)

SourceFactory = Callable[[], TopDownDataModule]


class MixedDataModule(L.LightningDataModule):
    """A mixture of top-down data sets ("sources") trained as one.

    Args:
        sources: name -> a source's data module, or a partial building it (the data configs'
            nodes with ``_partial_: true``, so that a missing folder is reported with the
            source's name). Each source reads its own files with its own reader (MPII's
            centre/scale, AIC without ``area``...) and keeps its own geometric augmentation
            and box padding; its keypoints are mapped into ``keypoints``.
        keypoints: the target keypoint set, which the model predicts.
        codec, input_size, batch_size, val_batch_size, num_workers, pin_memory,
            persistent_workers, prefetch_factor, photometric, aux_codecs: as for
            :class:`TopDownDataModule`, for the whole mixture.
        ratios: name -> share of each training epoch (>= 0, not all 0; a source left out has
            ratio 1). Ratio 0 validates a source without training on it. ``None``: shares in
            proportion to the sources' training sizes (a plain concatenation, as mmpose's
            ``CombinedDataset``).
        mappings: name -> keypoint mapping into ``keypoints`` (see :class:`KeypointMapping`:
            null / absent maps by name, or a map or a yaml file of one).
        val_sources: the sources validated (each with its own data config's metrics, logged
            as ``val/<source>/<metric>``), in this order; ``None`` validates all.
        epoch_length: people drawn per training epoch; ``None``: the sources' training sizes
            added up.
        replacement: draw with replacement (see :class:`MixtureSampler`).
        seed: the sampler's seed (with the epoch, it fixes each epoch's draw on every process).
        source_metric: partial wrapping one source metric (``posekit.metrics.SourceMetric``),
            given by the config because data never imports metrics.
        monitor: the main metric, ``val/<source>/<metric>`` of a validated source.
    """

    def __init__(
        self,
        sources: Mapping[str, TopDownDataModule | SourceFactory],
        keypoints: KeypointSpec,
        codec: Codec,
        input_size: tuple[int, int],
        source_metric: Callable[..., Any],
        ratios: Mapping[str, float] | None = None,
        mappings: Mapping[str, MappingConfig] | None = None,
        val_sources: Sequence[str] | None = None,
        epoch_length: int | None = None,
        replacement: bool = False,
        seed: int | None = 0,
        batch_size: int = 32,
        val_batch_size: int | None = None,
        num_workers: int = 2,
        pin_memory: bool = False,
        persistent_workers: bool = True,
        prefetch_factor: int | None = None,
        photometric: Callable | None = None,
        aux_codecs: Mapping[str, Codec] | None = None,
        monitor: str = "val/AP",
        monitor_mode: str = "max",
        udp: bool = False,
    ) -> None:
        super().__init__()
        if not sources:
            raise ValueError("data.sources is empty: give at least one data config as a source")
        self.spec = keypoints
        self.codec = codec
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size or batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.persistent_workers = persistent_workers
        self.prefetch_factor = prefetch_factor
        self.photometric = photometric
        self.aux_codecs = dict(aux_codecs or {})
        self.source_metric = source_metric
        self.epoch_length = epoch_length
        self.replacement = replacement
        self.seed = int(seed or 0)
        self.monitor = monitor
        self.monitor_mode = monitor_mode
        self.sources = {name: self._build_source(name, s) for name, s in sources.items()}
        self.udp = bool(udp)  # the model maps predictions back by it: every source must agree
        differ = [name for name, source in self.sources.items() if source.udp != self.udp]
        if differ:
            raise ValueError(
                f"data.udp={self.udp} but sources {differ} cut their crops otherwise: set "
                + " ".join(f"data.sources.{name}.udp={self.udp}" for name in differ)
            )
        self._refuse_source_option("group_by_image", "its sampler draws people across the sources")
        self._refuse_source_option(
            "device_warp", "its batches mix the sources' crops, cut by the loader"
        )
        self.ratios = None if ratios is None else self._check_ratios(dict(ratios))
        mappings = dict(mappings or {})
        unknown = sorted(set(mappings) - set(self.sources))
        if unknown:
            raise ValueError(
                f"data.mappings names {unknown}, not among data.sources {list(self.sources)}"
            )
        self.mappings = {
            name: KeypointMapping(source.spec, keypoints, mappings.get(name), source=name)
            for name, source in self.sources.items()
        }
        self.val_sources = self._check_val_sources(val_sources)
        self._check_monitor()
        for name, mapping in self.mappings.items():
            log.info(
                f"source {name}: target keypoints never labelled {mapping.unmapped_target_names}; "
                f"source keypoints dropped {mapping.unmapped_source_names}"
            )
        self.train_set: ConcatDataset | None = None
        self.val_sets: dict[str, TopDownDataset] = {}

    # --- checks before any training ----------------------------------------------------------
    def _refuse_source_option(self, option: str, why: str) -> None:
        """A ValueError naming the sources that set ``option``, which a mixture ignores."""
        names = [name for name, source in self.sources.items() if getattr(source, option)]
        if names:
            raise ValueError(
                f"sources {names} set {option}, which a mixture does not support ({why}): set "
                + " ".join(f"data.sources.{name}.{option}=false" for name in names)
            )

    @staticmethod
    def _build_source(name: str, source: TopDownDataModule | SourceFactory) -> TopDownDataModule:
        if isinstance(source, TopDownDataModule):
            return source
        try:
            return source()
        except FileNotFoundError as error:  # DataLayoutError and the readers' missing files
            raise FileNotFoundError(
                f"data.sources.{name}: {error}\nFix: pass data.sources.{name}.root=<folder>, or "
                f"leave the source out of the mixture"
            ) from error

    def _check_ratios(self, ratios: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(ratios) - set(self.sources))
        if unknown:
            raise ValueError(
                f"data.ratios names {unknown}, not among data.sources {list(self.sources)}"
            )
        full = {name: float(ratios.get(name, 1.0)) for name in self.sources}
        for name, ratio in full.items():
            if not math.isfinite(ratio):
                raise ValueError(
                    f"data.ratios.{name}={ratio} is not a finite number: a ratio is a share of "
                    "the epoch, >= 0 (0 validates a source without training on it)"
                )
        negative = {name: r for name, r in full.items() if r < 0}
        if negative:
            name = next(iter(negative))
            raise ValueError(
                f"data.ratios.{name}={negative[name]} is negative: a ratio is a share of the "
                "epoch, >= 0 (0 validates a source without training on it)"
            )
        if sum(full.values()) <= 0:
            raise ValueError(
                f"data.ratios {full} are all 0: give at least one source a ratio > 0, "
                f"e.g. data.ratios.{next(iter(full))}=1"
            )
        return full

    def _check_val_sources(self, val_sources: Sequence[str] | None) -> list[str]:
        names = list(self.sources) if val_sources is None else list(val_sources)
        for name in names:
            if name not in self.sources:
                raise ValueError(
                    f"data.val_sources names '{name}', not among data.sources {list(self.sources)}"
                )
            lost = self.mappings[name].unmapped_source_names
            if lost:
                raise ValueError(
                    f"source '{name}' cannot be validated with its own metrics: its keypoints "
                    f"{lost} have no place in the target keypoints '{self.spec.name}', so the "
                    f"model predicts none for them. Leave '{name}' out of data.val_sources, or "
                    "use a target keypoint set that holds all of its keypoints"
                )
        if not names:
            raise ValueError("data.val_sources is empty: validate at least one source")
        return names

    def _check_monitor(self) -> None:
        parts = self.monitor.split("/")
        if len(parts) < 3 or parts[0] != "val" or parts[1] not in self.val_sources:
            raise ValueError(
                f"data.monitor={self.monitor} must name a validated source's metric as "
                f"val/<source>/<metric>, with <source> among data.val_sources {self.val_sources} "
                f"(e.g. val/{self.val_sources[0]}/AP)"
            )

    # --- data -------------------------------------------------------------------------------
    @property
    def boxes(self) -> str:
        """The person boxes validation crops: ``gt``/``detections``, per source if they differ."""
        kinds = {name: self.sources[name].boxes for name in self.val_sources}
        if len(set(kinds.values())) == 1:
            return next(iter(kinds.values()))
        return ", ".join(f"{name}={kind}" for name, kind in kinds.items())

    def _dataset(self, name: str, train: bool) -> TopDownDataset:
        source = self.sources[name]
        records = source.train_records() if train else source.val_records()
        source.check_not_empty(records, train, name)
        source._check_images_exist(records, f"{name} {'training' if train else 'validation'}")
        return source._dataset(
            self.mappings[name].map_records(records),
            train,
            spec=self.spec,
            codec=self.codec,
            input_size=self.input_size,
            photometric=self.photometric,
            aux_codecs=self.aux_codecs,
        )

    def setup(self, stage: str | None = None) -> None:
        if stage in (None, "fit") and self.train_set is None:
            ratios = self.ratios or dict.fromkeys(self.sources, 1.0)
            self.train_names = [name for name in self.sources if ratios[name] > 0]
            datasets = [self._dataset(name, train=True) for name in self.train_names]
            self.train_set = ConcatDataset(datasets)
            if self.ratios is None:  # proportional to the sizes: one pass over every source
                self.ratios = {name: float(len(d)) for name, d in zip(self.train_names, datasets)}
        if not self.val_sets:
            offset = 0
            for name in self.val_sources:
                self.val_sets[name] = _Offset(self._dataset(name, train=False), offset)
                offset += len(self.val_sets[name])

    def build_metrics(self) -> list[Any]:
        """Each validated source's metrics (its data config's), routed to its dataloader."""
        if not self.val_sets:
            self.setup("validate")
        metrics = []
        for loader_idx, name in enumerate(self.val_sources):
            index = self.mappings[name].source_to_target.tolist()
            for metric in self.sources[name].build_metrics():
                metrics.append(
                    self.source_metric(
                        metric=metric,
                        source=name,
                        keypoint_index=index,
                        dataloader_idx=loader_idx,
                        sample_offset=self.val_sets[name].offset,
                    )
                )
        return metrics

    def train_sampler(self) -> MixtureSampler:
        """The epoch's draw for this process (Lightning's world size and rank once attached)."""
        sizes = [len(d) for d in self.train_set.datasets]
        trainer = self.trainer
        return MixtureSampler(
            sizes,
            [self.ratios[name] for name in self.train_names],
            self.epoch_length or sum(sizes),
            replacement=self.replacement,
            seed=self.seed,
            num_replicas=trainer.world_size if trainer is not None else 1,
            rank=trainer.global_rank if trainer is not None else 0,
        )

    def _loader(self, dataset: Dataset, batch_size: int, **kwargs: Any) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers and self.num_workers > 0,
            prefetch_factor=self.prefetch_factor if self.num_workers > 0 else None,
            worker_init_fn=worker_init,  # workers leave SIGTERM to the training process
            **kwargs,
        )

    def train_dataloader(self) -> DataLoader:
        sampler = self.train_sampler()
        drop_last = len(sampler) > self.batch_size
        return self._loader(self.train_set, self.batch_size, sampler=sampler, drop_last=drop_last)

    def val_dataloader(self) -> list[DataLoader]:
        """One loader per validated source, in ``val_sources`` order (the metrics' routing)."""
        return [self._loader(self.val_sets[n], self.val_batch_size) for n in self.val_sources]

    def test_dataloader(self) -> list[DataLoader]:
        return self.val_dataloader()


class _Offset(Dataset):
    """A validation set whose ``sample_idx`` start at ``offset``: unique over the mixture."""

    def __init__(self, dataset: TopDownDataset, offset: int) -> None:
        self.dataset = dataset
        self.offset = offset
        self.records = dataset.records

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        sample = self.dataset[index]
        sample["sample_idx"] = sample["sample_idx"] + self.offset
        return sample
