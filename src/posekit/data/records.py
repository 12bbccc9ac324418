"""The person record: what every annotation format is read into."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np


@dataclass
class PersonRecord:
    """One person to crop and estimate.

    ``keypoints`` is (K, 3): x, y in 0-based image pixels and a visibility flag (0 = unlabelled);
    all zeros for a detected box without ground truth. ``bbox`` is (4,) x, y, w, h in pixels.
    ``image_size`` is the (W, H) the annotation file gives, checked against the decoded image
    when it is read (None: the file gives none).
    """

    image_path: str
    image_id: int
    bbox: np.ndarray
    keypoints: np.ndarray
    bbox_score: float = 1.0
    area: float = 0.0
    ann_id: int = -1
    image_size: tuple[int, int] | None = None

    @property
    def num_visible(self) -> int:
        return int((self.keypoints[:, 2] > 0).sum())


class SkipCounter:
    """Counts records dropped by the field's conventions, to report them once per file."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.reasons: dict[str, list] = {}

    def skip(self, reason: str, record_id) -> None:
        self.reasons.setdefault(reason, []).append(record_id)

    def summary(self) -> str:
        parts = [
            f"{len(ids)} {reason} (e.g. {', '.join(map(str, ids[:3]))})"
            for reason, ids in self.reasons.items()
        ]
        return f"{self.source}: skipped " + "; ".join(parts) if parts else ""


class RecordStore(Sequence[PersonRecord]):
    """Person records held as a few numpy arrays, shared by forked loader workers.

    A list of :class:`PersonRecord` is millions of Python objects; a forked DataLoader worker
    that reads one touches its reference count, which copies the page it lives on: each worker's
    private memory grows by the pages an epoch reads (PyTorch issue 13246). Here the records are
    columns (``image_index`` (N,) int32 into a table of image paths held as one UTF-8 byte
    buffer with (P + 1,) offsets, ``image_id`` (N,) int64, ``bbox`` (N, 4) float32,
    ``keypoints`` (N, K, 3) float32, ``bbox_score`` and ``area`` (N,) float64, ``ann_id`` (N,)
    int64, ``image_size`` (N, 2) int32 (W, H) of the annotation file, -1 where it gives none)
    whose data pages are only read, so they stay shared. ``store[i]`` builds the
    :class:`PersonRecord` (with its own arrays) on demand; iteration and ``len`` work as on
    a list.
    """

    columns = ("image_index", "image_id", "bbox", "keypoints", "bbox_score", "area", "ann_id",
               "image_size")

    def __init__(self, paths: Sequence[str], **columns: np.ndarray) -> None:
        encoded = [path.encode("utf-8", "surrogatepass") for path in paths]
        self.path_offsets = np.zeros(len(encoded) + 1, dtype=np.int64)  # (P + 1,)
        self.path_offsets[1:] = np.cumsum([len(b) for b in encoded], dtype=np.int64)
        self.path_bytes = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()  # (bytes,)
        self._set_columns(columns)

    def _set_columns(self, columns: dict[str, np.ndarray]) -> None:
        missing = [name for name in self.columns if name not in columns]
        if missing:
            raise ValueError(f"RecordStore: missing columns {missing}")
        dtypes = (np.int32, np.int64, np.float32, np.float32, np.float64, np.float64, np.int64,
                  np.int32)
        for name, dtype in zip(self.columns, dtypes):
            setattr(self, name, np.ascontiguousarray(columns[name], dtype=dtype))
        self.bbox = self.bbox.reshape(-1, 4)
        self.image_size = self.image_size.reshape(-1, 2)
        if self.keypoints.ndim != 3:  # (N, K, 3); an empty store keeps K = 0
            shape = (len(self.image_index), -1, 3) if len(self.image_index) else (0, 0, 3)
            self.keypoints = self.keypoints.reshape(shape)

    @classmethod
    def from_records(cls, records: Sequence[PersonRecord]) -> RecordStore:
        """The store of ``records`` (a store is returned as it is)."""
        if isinstance(records, RecordStore):
            return records
        table: dict[str, int] = {}
        image_index = [table.setdefault(r.image_path, len(table)) for r in records]
        return cls(
            list(table),
            image_index=np.asarray(image_index, dtype=np.int32),
            image_id=np.asarray([r.image_id for r in records], dtype=np.int64),
            bbox=np.asarray([r.bbox for r in records], dtype=np.float32).reshape(-1, 4),
            keypoints=np.asarray([r.keypoints for r in records], dtype=np.float32),
            bbox_score=np.asarray([r.bbox_score for r in records], dtype=np.float64),
            area=np.asarray([r.area for r in records], dtype=np.float64),
            ann_id=np.asarray([r.ann_id for r in records], dtype=np.int64),
            image_size=np.asarray([r.image_size or (-1, -1) for r in records],
                                  dtype=np.int32).reshape(-1, 2),
        )

    @property
    def num_images(self) -> int:
        return len(self.path_offsets) - 1

    def path(self, image: int) -> str:
        """The path of image ``image`` of the path table."""
        start, end = self.path_offsets[image], self.path_offsets[image + 1]
        return self.path_bytes[start:end].tobytes().decode("utf-8", "surrogatepass")

    def image_paths(self) -> list[str]:
        """The path table: each image's path once, in order of first appearance."""
        return [self.path(i) for i in range(self.num_images)]

    def __len__(self) -> int:
        return len(self.image_index)

    def __getitem__(  # type: ignore[override]
        self, index: int | slice
    ) -> PersonRecord | RecordStore:
        if isinstance(index, slice):
            return self.select(np.arange(len(self))[index])
        if not -len(self) <= index < len(self):
            raise IndexError(f"record {index} of {len(self)}")
        width, height = (int(v) for v in self.image_size[index])
        return PersonRecord(
            image_path=self.path(int(self.image_index[index])),
            image_id=int(self.image_id[index]),
            bbox=self.bbox[index].copy(),
            keypoints=self.keypoints[index].copy(),
            bbox_score=float(self.bbox_score[index]),
            area=float(self.area[index]),
            ann_id=int(self.ann_id[index]),
            image_size=None if width < 0 else (width, height),
        )

    def select(self, keep: np.ndarray) -> RecordStore:
        """The records where the (N,) boolean ``keep`` is true, or at the indices ``keep``
        (the path table is shared)."""
        return self.replace(**{name: getattr(self, name)[keep] for name in self.columns})

    def replace(self, **columns: np.ndarray) -> RecordStore:
        """A store with some columns replaced (e.g. keypoints mapped into another set)."""
        store = object.__new__(RecordStore)
        store.path_bytes, store.path_offsets = self.path_bytes, self.path_offsets
        store._set_columns({**{name: getattr(self, name) for name in self.columns}, **columns})
        return store

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array of the store (for ``np.savez``; :meth:`from_arrays` reads them back)."""
        arrays = {name: getattr(self, name) for name in self.columns}
        return {**arrays, "path_bytes": self.path_bytes, "path_offsets": self.path_offsets}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> RecordStore:
        store = object.__new__(RecordStore)
        store.path_bytes = np.asarray(arrays["path_bytes"], dtype=np.uint8)
        store.path_offsets = np.asarray(arrays["path_offsets"], dtype=np.int64)
        store._set_columns({name: arrays[name] for name in cls.columns})
        if store.image_index.size and (
            store.image_index.min() < 0 or store.image_index.max() >= store.num_images
        ):
            raise ValueError("RecordStore: image_index points outside the path table")
        return store
