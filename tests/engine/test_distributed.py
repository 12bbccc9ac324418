"""DDP on the CPU (2 processes, gloo): training in a multirun, and evaluation that equals a
single-process evaluation of the same checkpoint."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from helpers import CONF, compose_config
from helpers.coco_ap_ranks import SAMPLE_VAL, coco_ap_on_rank, coco_case
from helpers.tiny_run import TINY, float_metrics, read_metrics, run_script
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from posekit.config import compose
from posekit.engine.distributed import _is_parent_only, rank_command
from posekit.engine.tasks import build_trainer, evaluate
from posekit.metrics import CocoKeypointAP
from posekit.metrics.sample_mean import SampleMean


def test_only_the_jobs_own_hydra_overrides_reach_its_processes():
    for parent in ("hydra.sweep.dir=/s", "hydra/launcher=slurm", "hydra.mode=MULTIRUN",
                   "hydra.run.dir=/r", "+hydra.sweeper.n_trials=3", "hydra.job.name=x"):
        assert _is_parent_only(parent), parent
    for own in ("hydra.job.chdir=true", "hydra.runtime_extra=1", "hydra/job_logging=disabled"):
        assert not _is_parent_only(own), own


@pytest.fixture
def hydra_job(tmp_path):
    """A multirun job's Hydra config, as the job's process sees it."""
    overrides = ["trainer=ddp_sim", "model.codec.split_ratio=2", "hydra.job.chdir=false",
                 "hydra.sweep.dir=/sweep", "hydra.mode=MULTIRUN"]
    cfg = compose("train", overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(tmp_path / "sweep" / "1")
        cfg.hydra.runtime.cwd = str(tmp_path)
        cfg.hydra.job.name = "train"
    HydraConfig.instance().set_config(cfg)
    yield cfg
    HydraConfig.instance().cfg = None


def test_extra_ddp_processes_rerun_the_job_not_the_sweep(hydra_job, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["train.py", "-m", "model.codec.split_ratio=1,2"])
    monkeypatch.setattr(sys.modules["__main__"], "__spec__", None)  # a script, not python -m
    command, cwd = rank_command(local_rank=1)
    assert cwd == str(tmp_path)
    assert command[:2] == [sys.executable, str(tmp_path / "train.py")]
    assert command[2:] == [
        f"--config-path={CONF}", "--config-name=train",
        "trainer=ddp_sim", "model.codec.split_ratio=2", "hydra.job.chdir=false",
        "hydra.mode=RUN", f'hydra.run.dir="{tmp_path / "sweep" / "1"}"',
        "hydra.output_subdir=null", "hydra.job.name=train_ddp_rank1",
    ]


def test_script_ddp_outside_the_entry_points_fails_clearly(tmp_path):
    cfg = compose_config("train", ["trainer=ddp_sim"], tmp_path)
    with pytest.raises(RuntimeError, match="ddp_spawn"):
        build_trainer(cfg)


def test_validation_loss_counts_each_padded_sample_once():
    values, sample_idx = torch.tensor([1.0, 2.0, 3.0, 10.0, 20.0]), torch.arange(5)
    single = SampleMean()
    single.update(values, sample_idx)
    rank0, rank1 = SampleMean(), SampleMean()
    rank0.update(values[[0, 2, 4]], sample_idx[[0, 2, 4]])
    rank1.update(values[[1, 3, 0]], sample_idx[[1, 3, 0]])  # sample 0 repeated as padding
    rank0.merge_state(rank1)
    assert rank0.compute().item() == pytest.approx(single.compute().item()) == 7.2
    with pytest.warns(UserWarning, match="before the ``update``"):
        assert SampleMean().compute() is None


# ---------------------------------------------------------------- COCO AP gathers first


@pytest.mark.slow
def test_coco_ap_gathers_every_process_before_scoring(tmp_path):
    pred, scores, meta, sigmas = coco_case()
    assert len(pred) % 2 == 1  # two processes need a padded repeat
    single = CocoKeypointAP(str(SAMPLE_VAL), sigmas)
    single.update(pred, scores, meta)
    expected = {key: float(value) for key, value in single.compute().items()}
    assert 0.1 < expected["AP"] < 0.99

    mp.spawn(coco_ap_on_rank, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2)
    for rank in (0, 1):
        result = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert result == pytest.approx(expected, abs=1e-9), rank


# ---------------------------------------------------------------- through the entry points


@pytest.fixture(scope="module")
def ddp_sweep(tmp_path_factory) -> Path:
    """README: a two-job multirun, each job trained by 2 DDP processes (trainer=ddp_sim)."""
    sweep = tmp_path_factory.mktemp("ddp_sweep")
    run_script("train.py", "-m", "trainer=ddp_sim", "model.codec.split_ratio=1,2", *TINY,
               "validate_best=false", f"hydra.sweep.dir={sweep}")
    return sweep


@pytest.mark.slow
def test_ddp_multirun_trains_each_job_with_two_processes_in_its_folder(ddp_sweep):
    assert sorted(p.name for p in ddp_sweep.iterdir() if p.is_dir()) == ["0", "1"]
    for job in ("0", "1"):
        folder = ddp_sweep / job
        assert "MEMBER: 1/2" in (folder / "train.log").read_text()
        assert "MEMBER: 2/2" in (folder / "train_ddp_rank1.log").read_text()
        assert (folder / "checkpoints" / "last.ckpt").is_file()
        assert "val/PCK@0.05" in read_metrics(folder)
    assert len((ddp_sweep / "summary.csv").read_text().splitlines()) == 3


@pytest.mark.slow
def test_ddp_evaluation_equals_single_process(ddp_sweep, tmp_path):
    """121 validation people in batches of 8 on 2 processes: the sampler pads one repeat."""
    ckpt = next((ddp_sweep / "0" / "checkpoints").glob("best_*.ckpt"))
    common = [f"ckpt_path={ckpt}", "data.num_workers=0", "data.val_batch_size=8"]
    single = evaluate(compose_config("eval", common, tmp_path / "single"))
    run_script("eval.py", *common, "trainer=ddp_sim", f"hydra.run.dir={tmp_path / 'ddp'}")
    distributed = float_metrics(read_metrics(tmp_path / "ddp"))
    expected = float_metrics(single)
    assert {"val/loss", "val/PCK@0.05", "val/AP"} <= set(expected)
    assert distributed == pytest.approx(expected, abs=1e-6)
