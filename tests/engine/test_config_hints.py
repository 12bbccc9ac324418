"""A misspelt config key gets a "did you mean" where Hydra gives none; a data layout error is
printed with its line breaks."""

from __future__ import annotations

import sys

import pytest
from helpers import compose_config
from hydra.errors import ConfigCompositionException, InstantiationException
from hydra.utils import instantiate

from posekit.config import compose, run_with_key_hints, suggest_key, unknown_key_hint


@pytest.mark.parametrize("typo, meant", [
    ("model.optimzer.lr=0.1", "model.optimizer.lr=0.1"),
    ("trainer.max_epoch=3", "trainer.max_epochs=3"),
    ("data.val_annn=x.json", "data.val_ann=x.json"),
])
def test_compose_suggests_the_nearest_key(typo, meant):
    with pytest.raises(ConfigCompositionException, match=f"Did you mean {meant}\\?"):
        compose("train", [typo])


def test_no_suggestion_without_a_near_key():
    with pytest.raises(ConfigCompositionException) as raised:
        compose("train", ["model.qqqqqq=1"])
    assert "Did you mean" not in str(raised.value)
    assert unknown_key_hint("train", ["model=heatmap"]) is None  # nothing wrong


def test_suggestion_follows_the_chosen_group(tmp_path):
    cfg = compose_config("train", ["model=heatmap"], tmp_path)
    assert suggest_key(cfg, "model.codec.sigmaa") == "model.codec.sigma"
    assert suggest_key(cfg, "model.codec.sigma") is None  # spelt right


def test_entry_point_adds_the_hint_to_hydras_error(monkeypatch, capsys):
    def failing_main():  # as @hydra.main does after printing its error
        raise SystemExit(1)

    monkeypatch.setattr(sys, "argv", ["train.py", "-m", "model.optimzer.lr=0.1"])
    with pytest.raises(SystemExit):
        run_with_key_hints(failing_main, "train")
    assert "Did you mean model.optimizer.lr=0.1?" in capsys.readouterr().err


def test_layout_error_keeps_its_line_breaks(tmp_path):
    cfg = compose_config("train", ["data.root=/nonexistent/posekit"], tmp_path)
    with pytest.raises(InstantiationException) as raised:
        instantiate(cfg.data)
    message = str(raised.value)
    assert "DataLayoutError: data.root /nonexistent/posekit does not exist" in message
    assert "\n  <root>/annotations/train.json\n" in message and "\\n" not in message
