"""A JSON object read from a file piece by piece, so that a large file's text is never whole in
memory: the top-level object's arrays are parsed one element at a time from a window of the
text, by the standard library's own (C) scanner, and an ``object_hook`` can shrink each element
as it is parsed. A COCO annotation file of 528,165 people is about 400 MB of text; read at once,
its bytes and its text are 800 MB before the first value is parsed."""

from __future__ import annotations

import json
import json.scanner
from pathlib import Path
from typing import Any, Callable

from posekit.core.io import read_json

CHUNK = 1 << 22  # characters read at a time
_WHITESPACE = " \t\n\r"
_NUMBER = set(".eE+-0123456789") | {""}  # what may follow a number cut by the window


class _Incomplete(Exception):
    """The window ends inside a value: read more."""


class _Window:
    def __init__(self, path: Path, hook: Callable[[dict], Any] | None) -> None:
        self.file = open(path, encoding="utf-8")
        self.text, self.pos, self.eof = "", 0, False
        self.scan = json.scanner.make_scanner(json.JSONDecoder(object_hook=hook))

    def __enter__(self) -> "_Window":
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()

    def more(self) -> None:
        if self.eof:
            raise _Incomplete
        chunk = self.file.read(max(CHUNK, len(self.text) - self.pos))
        self.eof = not chunk
        self.text = self.text[self.pos :] + chunk  # what is parsed is let go
        self.pos = 0

    def peek(self) -> str:
        """The next character that is not white space ('' at the end)."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in _WHITESPACE:
                self.pos += 1
            if self.pos < len(self.text) or self.eof:
                return self.text[self.pos : self.pos + 1]
            self.more()

    def expect(self, chars: str) -> str:
        char = self.peek()
        if not char or char not in chars:
            raise _Incomplete
        self.pos += 1
        return char

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                value, end = self.scan(self.text, self.pos)
            except (StopIteration, json.JSONDecodeError):
                self.more()  # a value cut by the window's end; at the file's end: invalid
                continue
            cut = self.text[end : end + 1] in _NUMBER
            if cut and type(value) in (int, float) and not self.eof:
                # a number cut by the window ("-0." of "-0.5"): other values end with a bracket
                self.more()
                continue
            self.pos = end
            return value


def read_json_object(
    path: str | Path, what: str, object_hook: Callable[[dict], Any] | None = None
) -> Any:
    """The JSON value of ``path``, as :func:`posekit.core.io.read_json` gives it, read piece by
    piece when it is an object: each array that is a value of the top-level object is parsed
    element by element. Anything this reader does not follow (a top-level list, invalid JSON)
    is read again whole by ``read_json``, which names the file and the error.

    ``object_hook`` runs once on each element of those arrays, on each other value of the top
    level and on the top-level object, in file order; an object nested inside an element may
    be seen more than once (when the window cuts the element, it is parsed again): a hook that
    counts must count elements only."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        with _Window(path, object_hook) as window:
            value = _object(window)
    except (_Incomplete, UnicodeDecodeError, RecursionError):
        return read_json(path, what, object_hook)
    return value if object_hook is None else object_hook(value)


def _object(window: _Window) -> dict:
    result: dict = {}
    window.expect("{")
    if window.peek() == "}":
        window.pos += 1
        return _end(window, result)
    while True:
        key = window.value()
        if not isinstance(key, str):
            raise _Incomplete
        window.expect(":")
        result[key] = _array(window) if window.peek() == "[" else window.value()
        if window.expect(",}") == "}":
            return _end(window, result)


def _array(window: _Window) -> list:
    items: list = []
    window.expect("[")
    if window.peek() == "]":
        window.pos += 1
        return items
    while True:
        items.append(window.value())
        if window.expect(",]") == "]":
            return items


def _end(window: _Window, result: dict) -> dict:
    if window.peek():  # text after the object: not one JSON value
        raise _Incomplete
    return result
