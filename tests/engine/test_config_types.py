"""Text where a number belongs is named by its key before anything is built (Hydra parses
``data.batch_size=abc`` as a string)."""

from __future__ import annotations

import pytest
from helpers import compose_config

from posekit.engine.config_types import check_config_types
from posekit.engine.tasks import evaluate, train


@pytest.mark.parametrize(("override", "message"), [
    ("data.batch_size=abc", r"data.batch_size='abc' must be an integer >= 1 \(e.g. "
                            r"data.batch_size=1\)"),
    ("trainer.max_epochs=two", r"trainer.max_epochs='two' must be an integer >= -1"),
    ("model.optimizer.lr=fast", r"model.optimizer.lr='fast' must be a number >= 0"),
    ("model.optimizer.lr=nan", r"model.optimizer.lr=nan must be a number"),
    ("data.batch_size=0", r"data.batch_size=0 must be an integer >= 1"),
    ("data.num_workers=true", r"data.num_workers=True must be an integer >= 0"),
    ("data.batch_size=2.5", r"data.batch_size=2.5 must be an integer"),
])
def test_text_or_out_of_range_numbers_name_the_key(tmp_path, override, message):
    cfg = compose_config("train", [override], tmp_path)
    with pytest.raises(ValueError, match=message):
        train(cfg)  # refused before the data or the model is built
    assert not any(tmp_path.iterdir())


def test_eval_checks_the_same_keys_and_the_defaults_pass(tmp_path):
    with pytest.raises(ValueError, match=r"data.batch_size='abc'"):
        evaluate(compose_config("eval", ["ckpt_path=x.ckpt", "data.batch_size=abc"], tmp_path))
    for name in ("train", "eval"):
        check_config_types(compose_config(name, ["ckpt_path=x.ckpt"] * (name == "eval"),
                                          tmp_path))
