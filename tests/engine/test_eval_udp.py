"""eval.py cuts the crops as the checkpoint was trained: UDP crops for a UDP model."""

from helpers import compose_config
from helpers.tiny_models import save_tiny_checkpoint

from posekit.engine.tasks import evaluate


def test_eval_of_a_udp_checkpoint_uses_udp_crops(tmp_path):
    checkpoint = save_tiny_checkpoint(tmp_path / "udp.ckpt", "udp")
    overrides = [f"ckpt_path={checkpoint}", "data.num_workers=0", "trainer.accelerator=cpu",
                 "trainer.limit_val_batches=1", "data.val_batch_size=8",
                 "data.udp=false"]  # the composed data config says otherwise: the checkpoint wins
    cfg = compose_config("eval", overrides, tmp_path / "eval")
    metrics = evaluate(cfg)
    assert cfg.data.udp is True
    assert 0.0 <= metrics["val/PCK@0.05"] <= 1.0
