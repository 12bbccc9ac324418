"""Resume: ``ckpt_path=last`` in the run folder continues a stopped run exactly."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from helpers import compose_config
from helpers.tiny_run import TINY, float_metrics, read_metrics, run_script

from posekit.engine.resume import collect_rng_states, resolve_ckpt_path, set_rng_states
from posekit.engine.tasks import train

# deterministic, seeded, no workers; the cosine length fixed, as a killed run's would be
EXACT = [*TINY, "seed=7", "trainer.deterministic=true", "model.scheduler.T_max=2"]


def test_ckpt_path_names_a_file_or_the_run_folders_last(tmp_path):
    cfg = compose_config("train", [], tmp_path)
    assert resolve_ckpt_path(cfg) is None
    cfg.ckpt_path = "last"
    with pytest.raises(FileNotFoundError, match="hydra.run.dir=<run folder>"):
        resolve_ckpt_path(cfg)
    last = tmp_path / "checkpoints" / "last.ckpt"
    last.parent.mkdir()
    last.touch()
    assert resolve_ckpt_path(cfg) == str(last)
    cfg.ckpt_path = str(tmp_path / "missing.ckpt")
    with pytest.raises(FileNotFoundError, match="missing.ckpt"):
        resolve_ckpt_path(cfg)


def test_random_states_round_trip_through_a_weights_only_checkpoint(tmp_path):
    torch.save(collect_rng_states(), tmp_path / "states.pt")
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_states(torch.load(tmp_path / "states.pt", weights_only=True))
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


@pytest.fixture
def deterministic_algorithms():
    yield
    torch.use_deterministic_algorithms(False)  # trainer.deterministic=true sets it process-wide


@pytest.mark.slow
def test_stopped_and_resumed_run_equals_the_uninterrupted_one(tmp_path, deterministic_algorithms):
    stopped = tmp_path / "stopped"
    train(compose_config("train", EXACT, stopped))  # "killed" after its first epoch
    # README: python train.py ckpt_path=last hydra.run.dir=<run folder> (with its overrides)
    run_script("train.py", *EXACT, "trainer.max_epochs=2", "ckpt_path=last",
               f"hydra.run.dir={stopped}")
    whole = tmp_path / "whole"
    train(compose_config("train", [*EXACT, "trainer.max_epochs=2"], whole))

    resumed_state = torch.load(stopped / "checkpoints" / "last.ckpt", weights_only=False)
    whole_state = torch.load(whole / "checkpoints" / "last.ckpt", weights_only=False)
    assert resumed_state["global_step"] == whole_state["global_step"] == 4
    for name, value in whole_state["state_dict"].items():
        torch.testing.assert_close(resumed_state["state_dict"][name], value, rtol=0, atol=1e-6)
    resumed, expected = float_metrics(read_metrics(stopped)), float_metrics(read_metrics(whole))
    assert {"val/loss", "val/PCK@0.05", "train/loss"} <= set(expected)
    assert resumed == pytest.approx(expected, abs=1e-6)
