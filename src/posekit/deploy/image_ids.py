"""Which image an inference input is: its id in an annotation file, matched by file name.

Annotation files name their images by paths relative to some folder (COCO: ``000000397133.jpg``;
HumanArt: ``images/2D_virtual_human/cartoon/000000000001.jpg``) while inference reads a folder
given on the command line. :class:`NameIndex` matches the two by the longest common tail of
path components, so ``input=HumanArt/images`` finds ``2D_virtual_human/cartoon/...`` under
the file's ``images/...`` names; a tail shared by several names matches none of them.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Generic, Iterable, Mapping, TypeVar

from posekit.core.io import read_json

Value = TypeVar("Value")


def name_parts(name: str) -> tuple[str, ...]:
    """The path components of a file name, ``/`` or ``\\`` separated, without ``.``."""
    return tuple(p for p in PurePosixPath(str(name).replace("\\", "/")).parts if p not in ("", "."))


class NameIndex(Generic[Value]):
    """Values by file name, found by the longest tail of path components that names one."""

    def __init__(self, items: Mapping[str, Value]) -> None:
        self.values = dict(items)
        self.tails: dict[tuple[str, ...], set[str]] = {}
        for name in self.values:
            parts = name_parts(name)
            for start in range(len(parts)):
                self.tails.setdefault(parts[start:], set()).add(name)

    def key(self, name: str) -> str | None:
        """The indexed name that ``name`` denotes: one sharing its longest tail, if unique."""
        parts = name_parts(name)
        for start in range(len(parts)):
            names = self.tails.get(parts[start:])
            if names:
                return next(iter(names)) if len(names) == 1 else None  # ambiguous: none
        return None

    def find(self, name: str) -> Value | None:
        key = self.key(name)
        return None if key is None else self.values[key]


def annotation_image_ids(path: str | Path) -> NameIndex[int]:
    """``file_name -> id`` of the ``images`` of a COCO-format annotation file."""
    content = read_json(Path(path), "annotation file")
    images = content.get("images") if isinstance(content, dict) else None
    if not isinstance(images, list):
        raise ValueError(f"annotation file {path}: no 'images' list (COCO format expected)")
    ids: dict[str, int] = {}
    for n, image in enumerate(images):
        if not isinstance(image, dict) or "file_name" not in image or "id" not in image:
            raise ValueError(f"annotation file {path}: images[{n}] lacks file_name or id")
        ids[str(image["file_name"])] = int(image["id"])
    return NameIndex(ids)


def preview(values: Iterable[object], limit: int = 5) -> str:
    """The first ``limit`` values, then how many more: ``[1, 2, 3, ...] (40 in all)``."""
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:limit])
    more = f", ...] ({len(values)} in all)" if len(values) > limit else "]"
    return f"[{shown}{more}"
