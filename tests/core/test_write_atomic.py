"""Files posekit writes (metrics.json, predictions.json, checkpoints) follow the umask, as files
written with open() do: write_atomic's temporary file is created 0600 and must not stay so."""

from __future__ import annotations

import os
import stat

import pytest
import torch

from posekit.core.io import write_atomic, write_json
from posekit.engine.checkpoint_io import AtomicCheckpointIO


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_written_files_get_the_permissions_of_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        written = [
            write_json(tmp_path / "metrics.json", {"val/PCK": 0.5}),
            write_atomic(tmp_path / "predictions.json", b"[]"),
        ]
        AtomicCheckpointIO().save_checkpoint({"step": torch.tensor(1)}, tmp_path / "last.ckpt")
        plain = tmp_path / "plain.txt"
        with open(plain, "w") as f:  # the reference: what open() gives under this umask
            f.write("x")
    finally:
        os.umask(previous)
    expected = stat.S_IMODE(plain.stat().st_mode)
    assert expected == 0o666 & ~umask
    for path in [*written, tmp_path / "last.ckpt"]:
        assert stat.S_IMODE(path.stat().st_mode) == expected, path.name
    assert os.umask(previous) == previous  # the umask itself is left as it was
    os.umask(previous)
