"""A mixture under DDP on the CPU (2 processes, gloo, ddp_spawn in this process): the per-source
metrics equal a single process's, and each process trains on its own share of the epoch."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import pytest
import torch
from helpers import compose_config
from helpers.mixtures import TruthModule, halpe_mixture_overrides
from hydra.utils import instantiate

TINY = ["data=halpe136_face_hand", "model/backbone=resnet18_s8", "data.input_size=[48,64]",
        "data.num_workers=0", "data.batch_size=2", "data.val_batch_size=2", "data.pin_memory=false"]


def mixture_config(fixtures_dir: Path, tmp_path: Path):
    return compose_config("train", TINY + halpe_mixture_overrides(fixtures_dir, tmp_path), tmp_path)


def validate(cfg, devices: int) -> dict[str, float]:
    torch.manual_seed(0)  # the same network in both runs (its outputs feed val/loss)
    model = instantiate(cfg.model, _target_=f"{TruthModule.__module__}.TruthModule")
    trainer = L.Trainer(accelerator="cpu", devices=devices, logger=False, enable_progress_bar=False,
                        enable_checkpointing=False, enable_model_summary=False,
                        strategy="ddp_spawn" if devices > 1 else "auto")
    trainer.validate(model, datamodule=instantiate(cfg.data), verbose=False)
    return {k: float(v) for k, v in trainer.callback_metrics.items()}


@pytest.mark.slow
def test_two_processes_give_the_per_source_metrics_of_one(fixtures_dir, tmp_path):
    cfg = mixture_config(fixtures_dir, tmp_path)
    datamodule = instantiate(cfg.data)
    datamodule.setup("validate")
    sizes = {name: len(d) for name, d in datamodule.val_sets.items()}
    assert any(size % 4 for size in sizes.values())  # batches of 2 on 2 processes pad some set
    single = validate(cfg, devices=1)
    distributed = validate(cfg, devices=2)
    for source in ("halpe", "face", "hand"):
        assert 0.0 < single[f"val/{source}/PCK@0.05"] < 1.0
        assert f"val/{source}/AP" in single
    assert distributed == pytest.approx(single, abs=1e-6)


class RecordDraw(L.Callback):
    """Writes the training indices each process draws in epoch 0 (``rank<r>.json``)."""

    def __init__(self, out_dir: str) -> None:
        self.out_dir = out_dir

    def on_train_start(self, trainer, pl_module) -> None:
        sampler = trainer.train_dataloader.sampler
        record = {"type": type(sampler).__name__, "indices": list(sampler),
                  "world": sampler.num_replicas, "rank": sampler.rank}
        Path(self.out_dir, f"rank{trainer.global_rank}.json").write_text(json.dumps(record))


@pytest.mark.slow
def test_each_process_trains_on_its_share_of_the_mixture(fixtures_dir, tmp_path):
    cfg = mixture_config(fixtures_dir, tmp_path)
    model = instantiate(cfg.model)
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", logger=False,
                        enable_progress_bar=False, enable_checkpointing=False, max_steps=1,
                        limit_val_batches=0, callbacks=[RecordDraw(str(tmp_path))])
    trainer.fit(model, datamodule=instantiate(cfg.data))
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["type"] for r in ranks] == ["MixtureSampler"] * 2  # not wrapped by Lightning
    assert [(r["world"], r["rank"]) for r in ranks] == [(2, 0), (2, 1)]
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    drawn = datamodule.train_sampler().draw(0).tolist()  # the whole epoch, one process
    drawn += drawn[: len(drawn) % 2]  # an odd epoch: the last round padded with the first draw
    assert ranks[0]["indices"] == drawn[0::2][: len(ranks[0]["indices"])]
    assert ranks[1]["indices"] == drawn[1::2][: len(ranks[1]["indices"])]


def test_eval_scores_a_mixture_checkpoint_per_source(fixtures_dir, tmp_path):
    """``eval.py ckpt_path=... data=<mixture>``: a metric per validated source, and each
    source's predictions in its own keypoints (COCO results format) beside metrics.json."""
    from posekit.engine.tasks import evaluate
    from posekit.models.checkpoint import build_model, save_checkpoint

    cfg = mixture_config(fixtures_dir, tmp_path / "train")
    ckpt = save_checkpoint(build_model(cfg), tmp_path / "mixture.ckpt")
    overrides = [o for o in TINY + halpe_mixture_overrides(fixtures_dir, tmp_path)
                 if not o.startswith(("model/", "data.input_size"))]
    metrics = evaluate(compose_config("eval", [f"ckpt_path={ckpt}", *overrides], tmp_path))
    assert {"val/halpe/AP", "val/face/AP", "val/hand/PCK@0.05", "val/loss"} <= set(metrics)
    hand = json.loads((tmp_path / "predictions_hand.json").read_text())
    assert hand and all(len(entry["keypoints"]) == 21 * 3 for entry in hand)
    halpe = json.loads((tmp_path / "predictions_halpe.json").read_text())
    assert halpe and all(len(entry["keypoints"]) == 136 * 3 for entry in halpe)
