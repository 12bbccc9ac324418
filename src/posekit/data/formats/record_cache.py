"""The parsed records of an annotation file, cached beside it for a fast second start.

The cache is a ``.npz`` of the :class:`~posekit.data.records.RecordStore`'s arrays (read with
``allow_pickle=False``: a swapped cache file can hold numbers, never code), named after the
annotation file and a hash of the parse settings (reader, keypoint counts, image folder), and
keyed inside by the annotation file's size and modification time: an edited file is parsed
again and the cache rewritten. It is written beside the annotation file, or, where that folder
is read-only, under ``$XDG_CACHE_HOME/posekit`` (``~/.cache/posekit``); ``cache_dir`` (or the
environment variable ``POSEKIT_CACHE_DIR``) puts it in a folder of your choice instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from posekit.data.records import RecordStore

log = logging.getLogger(__name__)

CACHE_VERSION = 2  # 2: image_size column, min_visibility setting
SUFFIX = ".posekit-records.npz"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def user_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "posekit"


def cache_paths(source: Path, settings: dict[str, Any], cache_dir: str | Path | None) -> list[Path]:
    """Where the cache of ``source`` parsed with ``settings`` is looked for, in order."""
    settings_hash = _digest(json.dumps(settings, sort_keys=True, default=str))
    global_name = f"{_digest(str(source.resolve()))}-{settings_hash}-{source.name}{SUFFIX}"
    folder = cache_dir or os.environ.get("POSEKIT_CACHE_DIR")
    if folder:
        return [Path(folder) / global_name]
    beside = source.with_name(f"{source.name}.{settings_hash}{SUFFIX}")
    return [beside, user_cache_dir() / global_name]


def _key(source: Path, settings: dict[str, Any]) -> str:
    stat = source.stat()
    return json.dumps(
        {
            "version": CACHE_VERSION,
            "file": str(source.resolve()),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "settings": settings,
        },
        sort_keys=True,
        default=str,
    )


def _as_bytes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)


def _load(path: Path, key: str) -> tuple[RecordStore, str] | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as arrays:
            if arrays["key"].tobytes().decode("utf-8", "surrogatepass") != key:
                return None  # another version of the file or of the settings: parse again
            summary = arrays["summary"].tobytes().decode("utf-8", "surrogatepass")
            return RecordStore.from_arrays(arrays), summary
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        log.warning("record cache %s is unreadable (%s): parsing the annotations again", path, err)
        return None


def _save(path: Path, store: RecordStore, summary: str, key: str) -> bool:
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as f:
            np.savez(f, key=_as_bytes(key), summary=_as_bytes(summary), **store.arrays())
        os.replace(temporary, path)
        return True
    except OSError:
        temporary.unlink(missing_ok=True)
        return False


def cached_records(
    source: Path,
    settings: dict[str, Any],
    parse: Callable[[], tuple[RecordStore, str]],
    cache_dir: str | Path | None = None,
) -> RecordStore:
    """The records of ``source`` from its cache when it matches the file and ``settings``, else
    from ``parse()`` (records and skip summary), which are then cached. The skip summary is
    logged either way."""
    source = Path(source)
    if not source.is_file():
        raise FileNotFoundError(f"annotation file not found: {source}")
    key = _key(source, settings)
    paths = cache_paths(source, settings, cache_dir)
    for path in paths:
        loaded = _load(path, key)
        if loaded is not None:
            store, summary = loaded
            log.debug("records of %s read from the cache %s", source, path)
            break
    else:
        store, summary = parse()
        if not any(_save(path, store, summary, key) for path in paths):
            log.warning("could not write a record cache for %s (tried %s)", source, paths)
    if summary:
        log.info(summary)
    return store
