"""Lightning's DDP (``strategy: ddp``) inside Hydra runs, multiruns and sweeps.

For ``devices > 1`` on one machine, Lightning starts the extra processes by running the script
again. Its own command for Hydra apps re-uses ``sys.argv`` and ``hydra.run.dir``: right for a
single run, wrong in a multirun, where the argv holds ``-m`` and the sweep lists (each extra
process would start a sweep of its own) and the job folder is a sweep subfolder. posekit gives
Lightning :func:`rank_command` instead, built from the running Hydra job: the same script,
config and job overrides (a grid point or an Optuna trial), in RUN mode, in the job's folder.
After each job, :func:`end_ddp_launch` resets the launching process so that the next job of the
multirun starts processes of its own.

Under SLURM (``srun``, the submitit launcher) every process is started by SLURM and none of
this is used.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import get_original_cwd
from lightning.pytorch.strategies.launchers import subprocess_script
from lightning.pytorch.strategies.launchers.subprocess_script import (
    _SubprocessScriptLauncher,
)
from omegaconf import DictConfig

# what Lightning's launcher sets in the environment of the process that starts the others
LAUNCH_VARIABLES = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")
# Hydra overrides that belong to the parent run or sweep, not to one process of one job
PARENT_ONLY = (
    "hydra.run",
    "hydra.sweep",
    "hydra.mode",
    "hydra.sweeper",
    "hydra/sweeper",
    "hydra.launcher",
    "hydra/launcher",
    "hydra.output_subdir",
    "hydra.job.name",
)


def _override_key(override: str) -> str:
    return override.lstrip("+~").split("=", 1)[0]


def _is_parent_only(override: str) -> bool:
    key = _override_key(override)
    return any(key == prefix or key.startswith(prefix + ".") for prefix in PARENT_ONLY)


def _config_arguments(hydra_cfg: DictConfig) -> list[str]:
    """``--config-path`` / ``--config-name`` / ``--config-dir`` of the running app."""
    arguments = []
    for source in hydra_cfg.runtime.config_sources:
        location = source.path if source.schema == "file" else f"{source.schema}://{source.path}"
        if source.provider == "main":
            arguments.append(f"--config-path={location}")
        elif source.provider == "command-line":
            arguments.append(f"--config-dir={location}")
    arguments.append(f"--config-name={hydra_cfg.job.config_name}")
    return arguments


def rank_command(local_rank: int) -> tuple[list[str], str]:
    """The command and working directory of process ``local_rank`` of the running Hydra job."""
    import __main__

    hydra_cfg = HydraConfig.get()
    if __main__.__spec__ is None:
        script = str(Path(get_original_cwd(), sys.argv[0]).resolve())
        command = [sys.executable, script]
    else:
        command = [sys.executable, "-m", __main__.__spec__.name]
    command += _config_arguments(hydra_cfg)
    command += list(hydra_cfg.overrides.task)
    command += [o for o in hydra_cfg.overrides.hydra if not _is_parent_only(o)]
    command += [
        "hydra.mode=RUN",
        f'hydra.run.dir="{hydra_cfg.runtime.output_dir}"',
        "hydra.output_subdir=null",  # the job's .hydra folder is the first process's
        f"hydra.job.name={hydra_cfg.job.name}_ddp_rank{local_rank}",
    ]
    return command, get_original_cwd()


def use_hydra_job_for_ddp_ranks() -> None:
    """Make Lightning start the extra DDP processes with :func:`rank_command`."""
    if not hasattr(subprocess_script, "_hydra_subprocess_cmd"):
        raise RuntimeError(
            "this Lightning version has no subprocess_script._hydra_subprocess_cmd: update "
            "posekit.engine.distributed for it, or use trainer.strategy=ddp_spawn"
        )
    subprocess_script._hydra_subprocess_cmd = rank_command


def end_ddp_launch(trainer: L.Trainer) -> None:
    """After a run whose extra processes this process started: wait for them to finish, close
    the process group and drop the variables Lightning set for them (``LOCAL_RANK``, ...), so
    that the next run in this process (the next job of a multirun) starts processes of its own
    instead of taking itself for one of them."""
    launcher = trainer.strategy.launcher
    if not isinstance(launcher, _SubprocessScriptLauncher) or not launcher.procs:
        return
    for process in launcher.procs:
        process.wait()
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    for name in LAUNCH_VARIABLES:
        os.environ.pop(name, None)


def check_ddp_launch(trainer: L.Trainer) -> None:
    """Fail clearly where ``strategy: ddp`` would re-run something that is not a Hydra app
    (a test runner, a script calling ``posekit.engine.tasks.train``)."""
    if isinstance(trainer.strategy.launcher, _SubprocessScriptLauncher) and not (
        HydraConfig.initialized()
    ):
        raise RuntimeError(
            "trainer.strategy=ddp starts its extra processes by running the script again, so it "
            "needs the Hydra entry points (python train.py / eval.py ...). In-process (tests, "
            "notebooks) use trainer.strategy=ddp_spawn."
        )
