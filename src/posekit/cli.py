"""Every posekit command takes its arguments one way: Hydra's ``key=value``, as ``train.py``.

    python scripts/infer.py ckpt_path=logs/train/runs/<run> input=photos/ [key=value ...]
    python scripts/infer.py --help          # the command's options (its conf/<name>.yaml)
    python scripts/infer.py --cfg job       # the composed options, without running

A command is a function of its composed config ``conf/<name>.yaml``, wrapped by
:func:`command`. From the shell it runs through ``hydra.main`` (``--help``, ``--cfg job``,
``-m`` sweeps, tab completion, "Did you mean ...?" for a misspelt key); called with a list of
overrides (tests, notebooks: ``main(["ckpt_path=...", "input=..."])``) it composes the same
config from the same overrides and returns the function's result.

Only the helpers that run inside the reference's environment (mmpose's, where Hydra is not
installed: ``scripts/capture_reference_keys.py``, ``scripts/reference/``,
``scripts/benchmarks/mmpose_*.py``) read ``sys.argv`` themselves.
"""

from __future__ import annotations

import functools
import sys
from typing import Callable, Sequence, TypeVar

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict
from omegaconf.errors import MissingMandatoryValue

from posekit.config import CONF_DIR, compose, run_with_key_hints, set_repo_root

Result = TypeVar("Result")
Command = Callable[[Sequence[str] | None], Result]


def command(
    config_name: str, refuse: tuple[type[BaseException], ...] = ()
) -> Callable[[Callable[[DictConfig], Result]], Command]:
    """``@command("infer")``: ``run(cfg)`` as a command of ``conf/<config_name>.yaml``.

    The wrapped ``main(argv=None)`` reads the shell's arguments through ``hydra.main`` when
    ``argv`` is None, else composes ``argv``. In both, :func:`task_overrides` and
    :func:`choice` answer from the same Hydra config, and an exception of a ``refuse`` type
    (bad input the user must fix) ends the command with its message and exit status 1
    (``SystemExit``), never a traceback; so does an option without default (``???``) that
    was not given, naming it.
    """

    def wrap(run: Callable[[DictConfig], Result]) -> Command:
        def refusing(cfg: DictConfig) -> Result:
            try:
                return run(cfg)
            except MissingMandatoryValue as error:  # an option without default (???) not given
                raise SystemExit(f"{config_name}: give {error.full_key}=... (--help lists the "
                                 "options)") from error
            except refuse as error:
                raise SystemExit(f"{config_name}: {error}") from error

        @functools.wraps(run)
        def main(argv: Sequence[str] | None = None) -> Result:
            set_repo_root()
            if argv is None and {"--help", "-h"} & set(sys.argv[1:]):
                print(command_help(run, config_name))
                return None
            if argv is not None:
                cfg = compose(config_name, list(argv), return_hydra_config=True)
                HydraConfig.instance().set_config(cfg)
                with open_dict(cfg):
                    del cfg["hydra"]
                return refusing(cfg)
            results: list[Result] = []

            @functools.wraps(run)
            def task(cfg: DictConfig) -> Result:
                results.append(refusing(cfg))
                return results[-1]

            entry = hydra.main(version_base="1.3", config_path=str(CONF_DIR),
                               config_name=config_name)(task)
            run_with_key_hints(entry, config_name)
            return results[-1] if results else None

        return main

    return wrap


def command_help(run: Callable[..., object], config_name: str) -> str:
    """``--help``: the command's docstring (its script's) and its options as written, comments
    included, in ``conf/<config_name>.yaml`` (Hydra's own help stays at ``--hydra-help``)."""
    doc = (sys.modules[run.__module__].__doc__ or "").strip()
    options = (CONF_DIR / f"{config_name}.yaml").read_text()
    return (f"{doc}\n\nOptions, given as key=value (conf/{config_name}.yaml; a group such as "
            f"data=<set> picks a file of conf/<group>/; --cfg job prints the composed "
            f"config):\n\n{options}")


def task_overrides(exclude: Sequence[str] = ()) -> list[str]:
    """The ``key=value`` overrides this command was given, less those whose key (or group) is
    in ``exclude`` (the command's own options), or under one (``scale.people=...`` of
    ``scale``): what to pass on when it composes a run config of its own
    (``compose("train", task_overrides(["checkpoint", "out"]))``)."""
    given = list(HydraConfig.get().overrides.task)
    own = set(exclude)

    def is_own(key: str) -> bool:
        parts = key.split(".")
        return any(".".join(parts[:n]) in own for n in range(1, len(parts) + 1))

    return [o for o in given if not is_own(o.split("=", 1)[0].lstrip("+~"))]


def choice(group: str) -> str | None:
    """The option chosen for a config group (``choice("experiment")`` -> ``"hrnet_udp_coco"``)."""
    return HydraConfig.get().runtime.choices.get(group)


def exit_with(status: object) -> None:
    """``sys.exit`` with a command's result when it is an exit status (an int), else 0."""
    sys.exit(status if isinstance(status, int) and not isinstance(status, bool) else 0)
