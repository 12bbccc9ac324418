"""The head zoo trains each listed family with the shared budget and tabulates them."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from helpers import REPO
from helpers.tiny_models import load_script

# the budget made tiny: train.py overrides, added to every family after the zoo's budget
TINY = ["data.input_size=[48,64]", "data.num_workers=0", "data.batch_size=8",
        "data.val_batch_size=8", "trainer.max_epochs=1", "trainer.limit_train_batches=1",
        "trainer.limit_val_batches=1"]


@pytest.mark.slow
def test_the_zoo_writes_one_row_per_family(tmp_path):
    zoo = load_script("head_zoo")
    options = ["families=[simcc,rtmcc]", f"out={tmp_path / 'zoo'}", "seconds=0.1"]
    frame = zoo.main([*options, *TINY])
    assert list(frame["family"]) == ["simcc", "rtmcc"]
    table = pd.read_csv(tmp_path / "zoo" / "head_zoo.csv")
    assert list(table.columns) == ["family", "overrides", "PCK@0.05", "AP", "params (M)",
                                   "images/s"]
    assert table["images/s"].gt(0).all() and table["PCK@0.05"].between(0, 1).all()
    # the RTMCC head adds its GAU and classifiers to the same ResNet-18 (stride 8)
    assert table["params (M)"][1] > table["params (M)"][0]
    markdown = (tmp_path / "zoo" / "head_zoo.md").read_text()
    assert markdown.startswith("| family | overrides | PCK@0.05 |") and "`model=rtmcc" in markdown
    # the table records the budget every family shared and how speed was timed
    budget = json.loads((tmp_path / "zoo" / "head_zoo_budget.json").read_text())
    shared = yaml.safe_load((REPO / "conf" / "head_zoo.yaml").read_text())["budget"] + TINY
    assert budget["budget"] == shared and budget["timing"]["seconds_per_family"] == 0.1
    assert all(f"`{override}`" in markdown for override in shared)
    assert "batch 16, 1 torch threads, 0.1 s per family" in markdown
    # re-timing reads the runs back without training
    again = zoo.main([*options, "measure_only=true", *TINY])
    assert list(again["PCK@0.05"]) == list(frame["PCK@0.05"])
