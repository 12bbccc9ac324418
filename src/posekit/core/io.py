"""Reading images and JSON, writing files atomically: every layer reads and writes through here.

Errors name the file and say what is wrong, so a bad input never surfaces as a bare
``json.JSONDecodeError`` or a ``None`` image far from where it was read.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

cv2.setNumThreads(0)  # the data loader's workers are the parallelism


def read_rgb_image(path: str | Path, record_hint: str) -> np.ndarray:
    """Image (H, W, 3) uint8 RGB; a clear error naming the file and the record when unreadable."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path} ({record_hint}): missing or not an image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def check_rgb_image(image: np.ndarray, what: str = "image") -> np.ndarray:
    """``image`` when it is (H, W, 3) uint8 RGB; a ValueError naming ``what`` otherwise."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"{what}: expected an (H, W, 3) uint8 RGB image, got shape {image.shape} "
            f"dtype {image.dtype}"
        )
    return image


def read_json(path: str | Path, what: str) -> Any:
    """Parse a JSON file, naming the file and the fix in every failure."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(f"{what} {path} is not valid JSON: {err}") from err
    except UnicodeDecodeError as err:
        raise ValueError(f"{what} {path} is not a text (JSON) file: {err}") from err


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place.

    The rename is atomic on one file system, so readers see the old file or the new one, never
    a partial file; a failure (full disk, kill) leaves the old file and removes the partial one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, value: Any, indent: int | None = 2) -> Path:
    """``value`` as JSON at ``path``, atomically (see :func:`write_atomic`)."""
    text = json.dumps(value, indent=indent)
    return write_atomic(path, text + "\n" if indent is not None else text)
