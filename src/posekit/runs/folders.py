"""Finding and describing training runs: run and sweep folders, their checkpoints and configs.

A *run folder* is what ``python train.py`` leaves (``checkpoints/*.ckpt``, ``metrics.json``,
``.hydra/``); a *sweep folder* is what ``python train.py -m ...`` leaves: one run folder per job.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Iterable, Sequence

from omegaconf import OmegaConf

from posekit.models.checkpoint import CONFIG_KEY, read_checkpoint

log = logging.getLogger(__name__)

BEST_PATTERN = "best*.ckpt"
LAST_NAME = "last.ckpt"


def is_run_dir(path: str | Path) -> bool:
    """A folder with checkpoints (``checkpoints/*.ckpt``) or a ``metrics.json``."""
    path = Path(path)
    return (path / "metrics.json").is_file() or any((path / "checkpoints").glob("*.ckpt"))


def job_order(path: Path) -> tuple[int, int | str]:
    """Hydra numbers the jobs of a sweep 0, 1, ..., 10: sort them as numbers, others by name."""
    return (0, int(path.name)) if path.name.isdigit() else (1, path.name)


def sweep_jobs(path: str | Path) -> list[Path]:
    """The run folders directly inside a sweep folder, in job order (empty if none)."""
    path = Path(path)
    jobs = [child for child in path.iterdir() if child.is_dir() and is_run_dir(child)]
    return sorted(jobs, key=job_order)


def run_dir_of_checkpoint(ckpt: str | Path) -> Path | None:
    """``<run>`` for ``<run>/checkpoints/<name>.ckpt``, else None."""
    ckpt = Path(ckpt)
    return ckpt.parent.parent if ckpt.parent.name == "checkpoints" else None


def expand_runs(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """Run folders named by ``paths``: run folders, sweep folders (their jobs) or checkpoints
    inside a run folder (that run folder)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    runs: list[Path] = []
    for path in map(Path, paths):
        if path.is_file() and path.suffix == ".ckpt":
            run = run_dir_of_checkpoint(path)
            if run is None:
                raise ValueError(f"{path} is not inside a run folder (<run>/checkpoints/)")
            runs.append(run)
        elif path.is_dir() and is_run_dir(path):
            runs.append(path)
        elif path.is_dir() and sweep_jobs(path):
            runs.extend(sweep_jobs(path))
        else:
            raise FileNotFoundError(
                f"{path} is neither a checkpoint, a run folder (with checkpoints/ or "
                "metrics.json) nor a sweep folder (with such run folders inside)"
            )
    return runs


def best_checkpoint(run_dir: str | Path) -> Path:
    """The best checkpoint of a run folder (``checkpoints/best*.ckpt``).

    With several, the one the checkpoint callback recorded as best in ``last.ckpt``; with none
    (e.g. a ``fast_dev_run``), ``last.ckpt`` with a warning.
    """
    folder = Path(run_dir) / "checkpoints"
    candidates = sorted(folder.glob(BEST_PATTERN))
    if len(candidates) == 1:
        return candidates[0]
    last = folder / LAST_NAME
    if not candidates:
        if last.is_file():
            log.warning(f"{run_dir} has no best checkpoint; using {last}")
            return last
        raise FileNotFoundError(f"{run_dir} has no checkpoints ({folder}/*.ckpt)")
    recorded = _recorded_best_name(last) if last.is_file() else None
    for candidate in candidates:
        if candidate.name == recorded:
            return candidate
    raise ValueError(
        f"{run_dir} has several best checkpoints {[c.name for c in candidates]} and no "
        "last.ckpt recording which is best: name the checkpoint itself"
    )


def _recorded_best_name(last: Path) -> str | None:
    """The file name of ``best_model_path`` in the ModelCheckpoint state of ``last``."""
    checkpoint = read_checkpoint(last)
    for key, state in checkpoint.get("callbacks", {}).items():
        if key.startswith("ModelCheckpoint") and state.get("best_model_path"):
            return Path(state["best_model_path"]).name
    return None


def expand_checkpoints(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """Checkpoints named by ``paths``: ``.ckpt`` files as given, run folders by their best
    checkpoint, sweep folders by the best checkpoint of each job."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    checkpoints: list[Path] = []
    for path in map(Path, paths):
        if path.is_file():
            checkpoints.append(path)
        else:
            checkpoints.extend(best_checkpoint(run) for run in expand_runs(path))
    if not checkpoints:
        raise ValueError("no checkpoints given")
    return checkpoints


def newest_run(runs_dir: str | Path) -> Path:
    """The run folder under ``runs_dir`` whose newest checkpoint was written last."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise FileNotFoundError(f"no runs folder {runs_dir}: train a model first (python train.py)")
    stamped = [
        (max(ckpt.stat().st_mtime for ckpt in ckpts), run)
        for run in runs_dir.iterdir()
        if run.is_dir() and (ckpts := list((run / "checkpoints").glob("*.ckpt")))
    ]
    if not stamped:
        raise FileNotFoundError(f"no run folder with checkpoints under {runs_dir}")
    return max(stamped, key=lambda item: item[0])[1]


def run_labels(paths: Sequence[str | Path]) -> list[str]:
    """Short unique names: the fewest trailing path parts that tell the paths apart.

    A sweep job (``<sweep>/<n>``) keeps its sweep folder's name: ``2024-01-01_10-00-00/0``.
    """
    parts = [Path(p).resolve().parts for p in paths]
    if len(set(parts)) != len(parts):
        raise ValueError(f"the same run or checkpoint is named twice: {list(map(str, paths))}")
    depth = 2 if any(part[-1].isdigit() for part in parts) else 1
    while len({part[-depth:] for part in parts}) < len(parts):
        depth += 1
    return ["/".join(part[-depth:]) for part in parts]


def checkpoint_labels(checkpoints: Sequence[str | Path]) -> list[str]:
    """Names of checkpoints: their run's label, with the file stem where a run has several."""
    runs = [run_dir_of_checkpoint(c) or Path(c).with_suffix("") for c in checkpoints]
    unique_runs = list(dict.fromkeys(runs))
    label_of = dict(zip(unique_runs, run_labels(unique_runs)))
    labels = []
    for ckpt, run in zip(checkpoints, runs):
        label = label_of[run]
        if runs.count(run) > 1 and run_dir_of_checkpoint(ckpt) is not None:
            label = f"{label}:{Path(ckpt).stem}"
        labels.append(label)
    return labels


def safe_name(label: str) -> str:
    """A label as one folder name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label)


def _read_yaml(path: Path) -> Any:
    """A YAML file of a run folder as plain containers, nothing resolved: an ``${...}`` in it
    stays a string (a resolver in a file someone sent could run code)."""
    return OmegaConf.to_container(OmegaConf.load(path), resolve=False)


def _hydra_files(run_dir: Path) -> tuple[dict | None, dict[str, Any], list[str]]:
    """The run's composed config (unresolved), config-group choices and command-line overrides."""
    hydra_dir = run_dir / ".hydra"
    config = None
    if (hydra_dir / "config.yaml").is_file():
        config = _read_yaml(hydra_dir / "config.yaml")
    choices: dict[str, Any] = {}
    if (hydra_dir / "hydra.yaml").is_file():
        found = literal_select(_read_yaml(hydra_dir / "hydra.yaml"), "hydra.runtime.choices")
        choices = found if isinstance(found, dict) else {}
    overrides: list[str] = []
    if (hydra_dir / "overrides.yaml").is_file():
        overrides = [str(o) for o in _read_yaml(hydra_dir / "overrides.yaml") or []]
    return config, choices, overrides


_REFERENCE = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")


def literal_select(config: Any, key: str, depth: int = 8) -> Any:
    """The value at dotted ``key`` of plain containers; a value that is exactly a reference to
    another key (``${data.input_size}``) is followed, any other ``${...}`` is kept as text and no
    resolver is ever called. None where the key is absent."""
    node = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    match = _REFERENCE.fullmatch(node) if isinstance(node, str) else None
    if match and depth > 0:
        return literal_select(config, match.group(1), depth - 1)
    return node


def describe_run(
    run_dir: str | Path | None, checkpoint: str | Path | None = None
) -> dict[str, Any]:
    """What a run is: experiment, model, head, backbone, input size (W x H), and the list of
    its command-line overrides.

    Read from the run folder's ``.hydra/`` files; without them, from the config saved in
    ``checkpoint``. Both are read as data (:func:`literal_select`). Unknown fields are None
    (overrides: empty).
    """
    config, choices, overrides = (None, {}, [])
    if run_dir is not None:
        config, choices, overrides = _hydra_files(Path(run_dir))
    if config is None and checkpoint is not None:
        config = read_checkpoint(checkpoint).get(CONFIG_KEY)

    def select(key: str) -> Any:
        return literal_select(config, key) if isinstance(config, dict) else None

    head_target = select("model.head._target_")
    backbone, stride = select("model.backbone.name"), select("model.backbone.out_stride")
    input_size = select("data.input_size")
    return {
        "experiment": choices.get("experiment"),
        "model": choices.get("model"),
        "head": str(head_target).rsplit(".", 1)[-1] if head_target else None,
        "backbone": f"{backbone}/s{stride}" if backbone and stride else backbone,
        "input (WxH)": "x".join(map(str, input_size)) if isinstance(input_size, list) else None,
        "overrides": overrides,
    }
