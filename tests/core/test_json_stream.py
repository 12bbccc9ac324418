"""The piecewise JSON reader gives json.loads' value with the window cut anywhere, calls the
hook once per object, and names the file for invalid JSON."""

from __future__ import annotations

import json

import pytest

from posekit.core import json_stream
from posekit.core.json_stream import read_json_object

DOCUMENTS = [
    {"images": [{"id": 1, "file_name": "a b\\u00e9\"c.jpg"}], "annotations": [], "x": None},
    {"annotations": [{"id": 12345, "bbox": [1.5e-3, -2, 1e10, 33.25], "k": [True, False]},
                     {"id": 6, "seg": {"counts": "abc", "size": [3, 4]}}], "info": {"v": "1.0"},
     "n": 123456789, "f": -0.5, "s": "end"},
    {},
    {"a": [], "b": [[1, 2], [3]], "c": [{"d": []}], "é": "ü"},
]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
@pytest.mark.parametrize("document", DOCUMENTS)
def test_any_window_gives_the_whole_value_and_one_hook_call_per_object(
    tmp_path, monkeypatch, chunk, document
):
    monkeypatch.setattr(json_stream, "CHUNK", chunk)
    path = tmp_path / "doc.json"
    for text in (json.dumps(document), json.dumps(document, indent=2)):
        path.write_text(text, encoding="utf-8")
        seen, expected = [], []
        value = read_json_object(path, "test file", lambda d: seen.append(dict(d)) or d)
        assert value == json.loads(text, object_hook=lambda d: expected.append(dict(d)) or d)
        # each element of a top-level array (here: the objects with an id) once, in order
        assert [d for d in seen if "id" in d] == [d for d in expected if "id" in d]
        assert seen[-1] == expected[-1]  # the top-level object, last


@pytest.mark.parametrize("text", ['{"a": [1, 2', '{"a": 1,}', '{"a": 1} x', '[1, 2]', ""])
def test_invalid_or_other_json_is_read_whole_as_read_json_reads_it(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    if text == "[1, 2]":  # not an object: read whole
        assert read_json_object(path, "test file") == [1, 2]
        return
    with pytest.raises(ValueError, match=r"test file .*bad.json is not valid JSON"):
        read_json_object(path, "test file")
