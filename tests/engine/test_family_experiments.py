"""The head-family experiments compose to mmpose's recipes, value by value."""

import pytest
from helpers import compose_config

# experiment -> (input (W, H), Adam lr, head, codec, loss terms)
FAMILIES = {
    "resnet50_regression_coco": ([192, 256], 5e-4, "RegressionHead", "RegressionCodec",
                                 ["RegressionLoss"]),
    "resnet50_rle_coco": ([192, 256], 1e-3, "RLEHead", "RLECodec", ["RLELoss"]),
    "resnet50_ipr_coco_256x256": ([256, 256], 5e-4, "IntegralHead", "IntegralRegressionCodec",
                                  ["RegressionLoss", "KeypointMSELoss"]),
    "resnet50_dsnt_coco_256x256": ([256, 256], 5e-4, "IntegralHead", "IntegralRegressionCodec",
                                   ["RegressionLoss", "JSDiscretLoss"]),
    "resnet50_debias_coco_256x256": ([256, 256], 5e-4, "IntegralHead", "IntegralRegressionCodec",
                                     ["RegressionLoss", "JSDiscretLoss"]),
    "hrnet_udp_coco": ([192, 256], 5e-4, "HeatmapHead", "UDPHeatmapCodec", ["KeypointMSELoss"]),
}


def short(target: str) -> str:
    return target.rsplit(".", 1)[-1]


@pytest.mark.parametrize("experiment", sorted(FAMILIES))
def test_family_experiment_is_mmposes_recipe(experiment, tmp_path):
    size, lr, head, codec, losses = FAMILIES[experiment]
    cfg = compose_config("train", [f"experiment={experiment}", "data.root=/data"], tmp_path)
    model = cfg.model
    assert cfg.data._target_.endswith("CocoDataModule") and list(cfg.data.input_size) == size
    assert short(model.head._target_) == head and short(model.codec._target_) == codec
    terms = model.loss.get("losses", {"only": model.loss})
    assert [short(term._target_) for term in terms.values()] == losses
    assert model.backbone.name == ("hrnet_w32" if experiment.startswith("hrnet") else "resnet50")
    assert model.backbone.pretrained and model.flip_test
    # mmpose: Adam, batch 64 per GPU, 210 epochs, linear warm-up over 500 iterations from
    # 0.001 x lr, then x0.1 at epochs 170 and 200
    assert short(model.optimizer._target_) == "Adam" and model.optimizer.lr == pytest.approx(lr)
    assert cfg.data.batch_size == 64 and cfg.trainer.max_epochs == 210
    assert list(model.scheduler.milestones) == [170, 200] and model.scheduler.gamma == 0.1
    assert (model.scheduler.warmup_iters, model.scheduler.warmup_ratio) == (500, 0.001)
    assert cfg.data.udp == (experiment == "hrnet_udp_coco") and model.udp == cfg.data.udp
    if codec != "RegressionCodec" and codec != "RLECodec":
        assert list(model.codec.heatmap_size) == [size[0] // 4, size[1] // 4]
        assert model.codec.sigma == 2.0
    if head == "IntegralHead":
        assert list(model.head.deconv_channels) == [256, 256, 256]
        debias = experiment.startswith("resnet50_debias")
        assert model.head.debias == debias and model.head.beta == (10.0 if debias else 1.0)
    if "RLELoss" in losses:
        assert (model.loss.q_distribution, model.loss.residual) == ("laplace", True)
    # mmpose's evaluation (CocoMetric, oks_nms on the packed bbox_scales, AP_H_56 detections)
    assert cfg.data.use_det_boxes and cfg.protocol.nms_area == "padded"
    assert cfg.protocol.rescoring == ("bbox_rle" if "RLELoss" in losses else "bbox_keypoint")
    assert cfg.published.metric == "val/AP" and cfg.published.weights.startswith(
        "https://download.openmmlab.com/mmpose/")
    if codec == "UDPHeatmapCodec":
        assert model.codec.decode_scale == "mmpose"  # UDPHeatmap.decode: / (w - 1) * W
