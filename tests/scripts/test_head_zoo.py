"""The head zoo trains each listed family with the shared budget and tabulates them."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from helpers.tiny_models import load_script

ZOO = """
families:
  simcc: [model=simcc]
  rtmcc: [model=rtmcc, model/backbone=resnet18_s8]
budget:
  - model.backbone.pretrained=false
  - data.input_size=[48,64]
  - data.num_workers=0
  - data.batch_size=8
  - data.val_batch_size=8
  - trainer.accelerator=cpu
  - trainer.max_epochs=1
  - trainer.limit_train_batches=1
  - trainer.limit_val_batches=1
  - callbacks=default
  - logger=csv
"""


@pytest.mark.slow
def test_the_zoo_writes_one_row_per_family(tmp_path):
    config = tmp_path / "zoo.yaml"
    config.write_text(ZOO)
    zoo = load_script("head_zoo")
    frame = zoo.main(["--config", str(config), "--out", str(tmp_path / "zoo"), "--seconds", "0.1"])
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
    shared = yaml.safe_load(ZOO)["budget"]
    assert budget["budget"] == shared and budget["timing"]["seconds_per_family"] == 0.1
    assert all(f"`{override}`" in markdown for override in shared)
    assert "batch 16, 1 torch threads, 0.1 s per family" in markdown
    # re-timing reads the runs back without training
    again = zoo.main(["--config", str(config), "--out", str(tmp_path / "zoo"), "--seconds", "0.1",
                      "--measure-only"])
    assert list(again["PCK@0.05"]) == list(frame["PCK@0.05"])
