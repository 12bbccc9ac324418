"""One training per run folder: refuse to train over another run, keep the history on resume.

A training holds a lock on its run folder (``.train.lock``) for its whole run: a second
training started in the same folder meanwhile is refused with the first one's pid.

A Hydra callback (``conf/hydra/default.yaml``), because Hydra replaces ``.hydra/config.yaml``
and ``.hydra/overrides.yaml`` of the run folder before the task starts; ``on_run_start`` comes
first. A training whose folder already holds checkpoints is refused unless it resumes
(``ckpt_path`` set); a resumed run copies the previous ``.hydra`` files to
``.hydra/history/<n>/`` and warns about every setting that differs from the previous start.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

# differ on every resume by design
IGNORED_KEYS = ("ckpt_path",)
LOCK_NAME = ".train.lock"  # held (flock) by the training process for its whole run
_held_locks: list[int] = []  # open for the life of the process: the OS releases them at exit


class RunFolderError(SystemExit):
    """A training would overwrite another run's checkpoints. A SystemExit (exit code 1, the
    message on stderr) because Hydra turns a callback's exceptions into mere warnings."""


def flat_settings(cfg: DictConfig) -> dict[str, Any]:
    """``dotted.key -> value`` of a config without its ``hydra`` node, unresolved."""
    container = OmegaConf.to_container(cfg, resolve=False)
    container.pop("hydra", None)
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and node:
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))
        else:
            flat[prefix] = node

    walk(container, "")
    return flat


def setting_differences(before: DictConfig, after: DictConfig) -> list[str]:
    """``key: old -> new`` for every setting that differs (IGNORED_KEYS aside)."""
    old, new = flat_settings(before), flat_settings(after)
    lines = []
    for key in sorted(set(old) | set(new)):
        if key in IGNORED_KEYS or old.get(key, "<absent>") == new.get(key, "<absent>"):
            continue
        lines.append(f"{key}: {old.get(key, '<absent>')} -> {new.get(key, '<absent>')}")
    return lines


def keep_history(hydra_dir: Path) -> Path:
    """Copy the ``.hydra/*.yaml`` of the previous start to ``.hydra/history/<n>/``."""
    history = hydra_dir / "history"
    number = len(list(history.glob("*"))) if history.is_dir() else 0
    target = history / str(number)
    target.mkdir(parents=True)
    for path in hydra_dir.glob("*.yaml"):
        shutil.copy2(path, target / path.name)
    return target


def lock_run_folder(run_dir: Path) -> None:
    """Hold an exclusive lock on ``<run_dir>/.train.lock`` until this process ends (also when it
    is killed: the OS releases it); the file holds the holder's pid.

    Raises:
        RunFolderError: another process holds it, naming that process's pid.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        if err.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        raise RunFolderError(
            f"error: {run_dir} is in use by another training (pid {holder}): two trainings "
            "would overwrite each other's checkpoints, metrics.json and .hydra. Wait for it to "
            "end, or train in another folder (hydra.run.dir=...)"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held_locks.append(fd)


def guard_run_folder(config: DictConfig) -> None:
    """The checks of :class:`RunFolderGuard` for a composed ``train`` config."""
    if os.environ.get("LOCAL_RANK", "0") != "0" or config.get("task_name") != "train":
        return  # DDP's extra processes share the first one's folder; eval writes no checkpoints
    run_dir = Path(str(config.hydra.run.dir))
    lock_run_folder(run_dir)
    checkpoints = sorted((run_dir / "checkpoints").glob("*.ckpt"))
    resuming = config.get("ckpt_path") is not None
    if checkpoints and not resuming:
        raise RunFolderError(
            f"error: {run_dir} already holds another run's checkpoints "
            f"({checkpoints[0].name}, ...). "
            f"Resume it with ckpt_path=last hydra.run.dir={run_dir}, or train in another folder"
        )
    hydra_dir = run_dir / str(config.hydra.output_subdir or ".hydra")
    previous = hydra_dir / "config.yaml"
    if not resuming or config.hydra.output_subdir is None or not previous.is_file():
        return
    saved = keep_history(hydra_dir)
    differences = setting_differences(OmegaConf.load(previous), config)
    if differences:
        log.warning(
            "resuming %s with settings that differ from its previous start (kept in %s):\n  %s",
            run_dir,
            saved,
            "\n  ".join(differences),
        )


class RunFolderGuard(Callback):
    """Hydra callback: :func:`guard_run_folder` before Hydra writes into the run folder."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        guard_run_folder(config)
