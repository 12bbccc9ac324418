"""Nothing leaves the machine unless asked: importing posekit and then albumentations (as the
data config's photometric augmentation does) opens no network connection."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import socket
attempts = []
def refuse(*args, **kwargs):
    attempts.append(args)
    raise OSError("network disabled by the test")
socket.socket.connect = refuse
socket.create_connection = refuse
import posekit
import albumentations
print("attempts", len(attempts))
"""


def test_albumentations_update_check_is_off() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_ALBUMENTATIONS_UPDATE"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "attempts 0" in done.stdout
    assert "update" not in done.stderr.lower()
