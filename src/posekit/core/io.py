"""Reading images and JSON, writing files atomically: every layer reads and writes through here.

Errors name the file and say what is wrong, so a bad input never surfaces as a bare
``json.JSONDecodeError`` or a ``None`` image far from where it was read.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

cv2.setNumThreads(0)  # the data loader's workers are the parallelism


JPEG_SOI = b"\xff\xd8"  # the start-of-image marker
JPEG_EOI = b"\xff\xd9"  # the end-of-image marker; never inside entropy-coded data (FF is stuffed)
_TAIL_BYTES = 64


class TruncatedImageError(ValueError):
    """A JPEG file that ends before its end-of-image marker (an interrupted copy or download):
    OpenCV decodes it with a warning into partly grey pixels."""


def _lacks_end_marker(head: bytes, tail: bytes) -> bool:
    """A JPEG (``head`` starts with the start-of-image marker) whose last bytes, ``tail``, hold
    no end-of-image marker."""
    return head[:2] == JPEG_SOI and JPEG_EOI not in tail


def _pil_cannot_decode(source: str | Path | io.BytesIO) -> bool:
    """True when PIL stops before the end of the JPEG: it confirms only files whose tail lacks
    the marker, e.g. those with trailing data after it."""
    from PIL import Image  # only for the rare JPEG with bytes after its marker

    try:
        with Image.open(source) as image:
            image.load()
    except (OSError, SyntaxError):
        return True
    return False


def jpeg_is_truncated(path: str | Path) -> bool:
    """True for a JPEG file that lacks its end-of-image marker and that PIL cannot decode to the
    end; reads the file's first and last bytes only. Other formats: False."""
    with open(path, "rb") as f:
        head = f.read(2)
        size = f.seek(0, os.SEEK_END)
        f.seek(max(2, size - _TAIL_BYTES))
        tail = f.read()
    return _lacks_end_marker(head, tail) and _pil_cannot_decode(path)


def _truncated_error(path: str | Path, record_hint: str) -> TruncatedImageError:
    return TruncatedImageError(
        f"image {path} ({record_hint}) is a truncated JPEG (no end-of-image marker): its "
        "pixels would be partly garbage. Copy or download it again"
    )


def check_not_truncated(path: str | Path, record_hint: str) -> None:
    """Raise :class:`TruncatedImageError` naming the file and the record if it is truncated."""
    if jpeg_is_truncated(path):
        raise _truncated_error(path, record_hint)


def read_rgb_image(
    path: str | Path, record_hint: str, flags: int = cv2.IMREAD_COLOR
) -> np.ndarray:
    """Image (H, W, 3) uint8 RGB; a clear error naming the file and the record when unreadable
    or truncated (:class:`TruncatedImageError`). ``flags``: cv2's read mode, e.g.
    ``cv2.IMREAD_REDUCED_COLOR_2`` for JPEGs decoded at half scale.

    The file is read once: the truncation check looks at the bytes that are then decoded
    (``cv2.imdecode``, which applies EXIF orientation as ``cv2.imread`` does).
    """
    try:
        data = np.fromfile(path, np.uint8)  # (bytes,)
    except OSError as error:
        raise FileNotFoundError(
            f"cannot read image {path} ({record_hint}): missing or not an image "
            f"({error.strerror or error})"
        ) from error
    head, tail = data[:2].tobytes(), data[max(2, data.size - _TAIL_BYTES):].tobytes()
    if _lacks_end_marker(head, tail) and _pil_cannot_decode(io.BytesIO(data.tobytes())):
        raise _truncated_error(path, record_hint)
    image = cv2.imdecode(data, flags) if data.size else None
    if image is None:
        raise FileNotFoundError(
            f"cannot read image {path} ({record_hint}): missing or not an image"
        )
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


def read_json(path: str | Path, what: str, object_hook: Callable[[dict], Any] | None = None) -> Any:
    """Parse a JSON file, naming the file and the fix in every failure (``object_hook``: as
    ``json.load``'s, called on each object as it is parsed)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        with open(path) as f:
            return json.load(f, object_hook=object_hook)
    except json.JSONDecodeError as err:
        raise ValueError(f"{what} {path} is not valid JSON: {err}") from err
    except UnicodeDecodeError as err:
        raise ValueError(f"{what} {path} is not a text (JSON) file: {err}") from err


def current_umask() -> int:
    """The process's file mode creation mask (``0o022`` typically)."""
    mask = os.umask(0o077)  # reading it means setting it; put it back at once
    os.umask(mask)
    return mask


def read_yaml(path: str | Path, what: str) -> Any:
    """Parse a YAML file (safe loader); a file that does not parse is named with the line and
    column of the error."""
    import yaml

    path = Path(path)
    try:
        return yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = err.problem or err.context or type(err).__name__
        raise ValueError(f"{what} {path} is not valid YAML{where}: {problem}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ValueError(f"{what} {path} is not a YAML text file: {err}") from None


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place.

    The rename is atomic on one file system, so readers see the old file or the new one, never
    a partial file; a failure (full disk, kill) leaves the old file and removes the partial one.
    The file gets the permissions ``open()`` would give it (``0o666`` less the umask), not the
    temporary file's ``0o600``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
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
