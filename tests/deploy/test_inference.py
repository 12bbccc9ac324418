"""The Predictor reproduces validation; the inference CLI on an image, a folder and a video."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import lightning as L
import numpy as np
import pytest
import torch
from helpers import REPO
from helpers.tiny_models import load_script, save_tiny_checkpoint
from hydra.utils import instantiate
from omegaconf import OmegaConf, open_dict

from posekit.core.geometry import bbox_to_center_scale
from posekit.data.formats.coco import load_coco_records
from posekit.data.topdown import TopDownDataset
from posekit.deploy.detections import DetectionsFile, PersonDetector
from posekit.deploy.media import list_images
from posekit.deploy.predictor import Predictor, coco_results, resolve_checkpoint
from posekit.metrics.coco import instance_scores
from posekit.models.checkpoint import load_model

SAMPLE = REPO / "data" / "sample"


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tiny")
    return {
        head: save_tiny_checkpoint(folder / f"{head}.ckpt", head)
        for head in ("simcc", "heatmap", "udp", "rle")
    }


@pytest.fixture(scope="module")
def infer():
    return load_script("infer")


class Capture(torch.nn.Module):
    """Stands in for the data set's metrics: keeps what validation feeds them."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    def update(self, keypoints, scores, meta) -> None:
        self.rows.append((keypoints.cpu(), scores.cpu(), meta["sample_idx"].cpu()))

    def reset(self) -> None:
        self.rows = []

    def compute(self) -> dict:
        return {}


def _validation_predictions(ckpt: Path) -> tuple[list, np.ndarray, np.ndarray]:
    """The module's validation on the first 32 people of the sample's validation split:
    records, keypoints (N, K, 2), scores (N, K)."""
    model = load_model(ckpt)
    capture = Capture()
    cfg = OmegaConf.create(model.run_config)
    with open_dict(cfg):
        cfg.data.root = str(SAMPLE)
        cfg.data.val_batch_size = 32
    datamodule = instantiate(cfg.data)
    datamodule.metric_factories = {"capture": lambda spec: capture}  # the metrics setup() builds
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=1,
    )
    trainer.validate(model, datamodule=datamodule, verbose=False)
    keypoints = torch.cat([row[0] for row in capture.rows]).numpy()
    scores = torch.cat([row[1] for row in capture.rows]).numpy()
    order = torch.cat([row[2] for row in capture.rows]).numpy()
    records = datamodule.val_set.records
    return [records[i] for i in order], keypoints, scores


@pytest.mark.parametrize("head", ["simcc", "heatmap", "udp", "rle"])
def test_predictor_reproduces_validation(checkpoints, head):
    records, expected, expected_scores = _validation_predictions(checkpoints[head])
    assert len(records) == 32
    predictor = Predictor.from_checkpoint(checkpoints[head])
    by_image: dict[str, list[int]] = {}
    for row, record in enumerate(records):
        by_image.setdefault(record.image_path, []).append(row)
    keypoints = np.zeros_like(expected)
    scores = np.zeros_like(expected_scores)
    for path, rows in by_image.items():
        boxes = np.stack([records[row].bbox for row in rows])
        keypoints[rows], scores[rows] = predictor(path, boxes, batch_size=8)
    np.testing.assert_allclose(keypoints, expected, atol=1e-4, rtol=0)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5, rtol=0)


def test_predictor_api(checkpoints):
    predictor = Predictor.from_checkpoint(checkpoints["simcc"], flip_test=False)
    assert not predictor.model.flip_test and predictor.bbox_padding == 1.25
    image = cv2.cvtColor(cv2.imread(str(SAMPLE / "images" / "000570_0.jpg")), cv2.COLOR_BGR2RGB)
    height, width = image.shape[:2]
    whole, _ = predictor(image)
    boxed, _ = predictor(image, np.array([[0, 0, width, height]]))
    np.testing.assert_array_equal(whole, boxed)  # no boxes: the whole image is one box
    boxes = np.array([[10, 20, 40, 90], [0, 0, width, height], [30, 5, 20, 60]], np.float32)
    keypoints, scores = predictor(image, boxes, batch_size=2)  # batches of 2 and 1
    assert keypoints.shape == (3, 17, 2) and scores.shape == (3, 17)
    one_by_one = np.concatenate([predictor(image, box[None])[0] for box in boxes])
    np.testing.assert_allclose(keypoints, one_by_one, atol=1e-4)
    # each person's keypoints lie in its crop: the box widened to 3:4, padded by 1.25
    center, scale = bbox_to_center_scale(boxes[0], 48 / 64, 1.25)
    assert (np.abs(keypoints[0] - center) <= scale / 2).all()
    empty, empty_scores = predictor(image, np.zeros((0, 4)))
    assert empty.shape == (0, 17, 2) and empty_scores.shape == (0, 17)
    with pytest.raises(ValueError, match="w, h > 0"):
        predictor(image, np.array([[0, 0, 0, 10]]))
    with pytest.raises(ValueError, match="uint8"):
        predictor(image.astype(np.float32))


def test_predictor_clips_boxes_as_evaluation_does(checkpoints, tmp_path):
    """A box reaching past the image border: the Predictor cuts the crop that evaluation cuts
    (the loader clips every box to 0 .. W-1, H-1), not the crop of the raw box."""
    predictor = Predictor.from_checkpoint(checkpoints["simcc"])
    name = "000570_0.jpg"
    image = cv2.cvtColor(cv2.imread(str(SAMPLE / "images" / name)), cv2.COLOR_BGR2RGB)
    height, width = image.shape[:2]
    raw = [-10.0, 20.0, width + 20.0, height]  # past the left, right and bottom edges
    by_hand = np.array([[0.0, 20.0, width - 1.0, height - 21.0]])  # corners clipped
    prediction = predictor.predict(image, np.array([raw]), keep_crops=True)
    np.testing.assert_allclose(prediction.boxes, by_hand)
    np.testing.assert_array_equal(prediction.keypoints, predictor(image, by_hand)[0])
    # the evaluation data path on the same box in a COCO file: the same crop
    ann = tmp_path / "one.json"
    ann.write_text(json.dumps({
        "images": [{"id": 1, "file_name": name, "width": width, "height": height}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": raw, "iscrowd": 0,
                         "keypoints": [30, 60, 2] * 17, "num_keypoints": 17, "area": 1000.0}],
        "categories": [{"id": 1, "name": "person"}]}))
    records = load_coco_records(ann, SAMPLE / "images", 17)
    dataset = TopDownDataset(records, predictor.spec, predictor.codec, predictor.input_size,
                             train=False)
    crop = dataset[0]["image"].permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(crop, prediction.crops[0])
    unclipped, _, _ = predictor.crop(image, np.array([raw], np.float32))
    assert not np.array_equal(unclipped[0], crop)  # the clipping matters for this box
    with pytest.raises(ValueError, match=r"box 0 .* boxes outside the image"):
        predictor(image, np.array([[width + 5.0, 0.0, 10.0, 10.0]]))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_predictor_asked_for_cuda_without_it_says_so(checkpoints):
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        Predictor.from_checkpoint(checkpoints["simcc"], device="cuda")


@pytest.mark.gpu
def test_predictor_on_cuda_matches_cpu(checkpoints):
    image = SAMPLE / "images" / "000570_0.jpg"
    on_cpu, _ = Predictor.from_checkpoint(checkpoints["simcc"])(image)
    on_gpu, _ = Predictor.from_checkpoint(checkpoints["simcc"], device="cuda")(image)
    np.testing.assert_allclose(on_gpu, on_cpu, atol=1e-3)


def test_run_folder_resolves_to_its_best_checkpoint(checkpoints, tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(checkpoints["simcc"], run / "checkpoints" / "best_epoch003.ckpt")
    save_tiny_checkpoint(run / "checkpoints" / "last.ckpt", seed=1)
    assert resolve_checkpoint(run) == run / "checkpoints" / "best_epoch003.ckpt"
    assert resolve_checkpoint(run / "checkpoints") == run / "checkpoints" / "best_epoch003.ckpt"
    (run / "checkpoints" / "best_epoch003.ckpt").unlink()
    assert resolve_checkpoint(run) == run / "checkpoints" / "last.ckpt"
    with pytest.raises(FileNotFoundError, match="not found"):
        resolve_checkpoint(tmp_path / "nowhere")


def test_instance_scores_rescore_like_coco_evaluation():
    scores = np.array([[0.9, 0.1, 0.5], [0.1, 0.1, 0.1]])
    # person 2 has no keypoint score above 0.2: 0, as the official HRNet code and mmpose
    np.testing.assert_allclose(instance_scores(scores, np.array([1.0, 0.5])), [0.7, 0.0])


# ------------------------------------------------------------------ boxes


def test_detections_file_formats(tmp_path):
    results = tmp_path / "results.json"
    results.write_text(
        json.dumps(
            [
                {"image_id": 1, "bbox": [1, 2, 3, 4], "score": 0.9, "category_id": 1},
                {"image_id": 1, "bbox": [5, 6, 7, 8], "score": 0.1, "category_id": 1},
                {"image_id": 1, "bbox": [0, 0, 9, 9], "score": 0.9, "category_id": 3},
            ]
        )
    )
    boxes, scores = DetectionsFile(results, score_threshold=0.3).boxes(1, "b.jpg")
    np.testing.assert_array_equal(boxes, [[1, 2, 3, 4]])
    assert DetectionsFile(results).boxes(0, "a.jpg")[0].shape == (0, 4)
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"b.jpg": [[1, 2, 3, 4], [5, 6, 7, 8, 0.2]]}))
    boxes, scores = DetectionsFile(mapping).boxes(7, "b.jpg")
    np.testing.assert_allclose(scores, [1.0, 0.2])
    mapping.write_text(json.dumps({"b.jpg": [[1, 2, 3]]}))
    with pytest.raises(ValueError, match=r"mapping.json \(b.jpg\): box 0"):
        DetectionsFile(mapping).boxes(0, "b.jpg")


def test_an_input_folder_without_images_is_named(tmp_path):
    (tmp_path / "notes.txt").write_text("no pictures")
    with pytest.raises(FileNotFoundError, match=f"no images .* in {tmp_path}"):
        list_images(tmp_path)


def test_person_detector_keeps_confident_people_as_xywh():
    class FakeDetector(torch.nn.Module):
        def forward(self, images):
            assert images[0].shape == (3, 20, 30) and images[0].max() <= 1
            return [
                {
                    "boxes": torch.tensor([[1.0, 2.0, 11.0, 22.0], [0, 0, 5, 5], [3, 3, 9, 9]]),
                    "labels": torch.tensor([1, 1, 2]),
                    "scores": torch.tensor([0.9, 0.2, 0.99]),
                }
            ]

    boxes, scores = PersonDetector(FakeDetector(), score_threshold=0.5)(
        np.full((20, 30, 3), 255, np.uint8)
    )
    np.testing.assert_allclose(boxes, [[1, 2, 10, 20]])
    np.testing.assert_allclose(scores, [0.9])


# ------------------------------------------------------------------ CLI


def _results(out: Path) -> list[dict]:
    return json.loads((out / "results.json").read_text())


def test_cli_on_one_image_with_maps(checkpoints, infer, tmp_path):
    image = SAMPLE / "images" / "000570_1.jpg"
    for head in ("simcc", "heatmap"):
        out = infer.main([f"ckpt_path={checkpoints[head]}", f"input={image}",
                          f"out={tmp_path / head}", "maps=true"])
        (result,) = _results(out)
        assert result["file_name"] == "000570_1.jpg" and result["image_id"] == 0
        assert result["category_id"] == 1 and len(result["keypoints"]) == 17 * 3
        source = cv2.imread(str(image))
        drawn = cv2.imread(str(out / "overlays" / "000570_1.png"))
        assert drawn.shape == source.shape and (drawn != source).any()
        assert (out / "maps" / "000570_1_person0.png").is_file()
    assert (tmp_path / "simcc" / "maps" / "000570_1_person0_simcc.png").is_file()


def test_cli_on_a_folder_with_detections(checkpoints, infer, tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    names = ["000570_0.jpg", "000570_1.jpg", "000573_0.jpg"]
    for name in names:
        shutil.copy(SAMPLE / "images" / name, folder / name)
    detections = tmp_path / "boxes.json"
    detections.write_text(
        json.dumps(
            [
                {"image_id": 0, "bbox": [10, 10, 40, 100], "score": 0.9},
                {"image_id": 0, "bbox": [20, 15, 30, 90], "score": 0.8},
                {"image_id": 2, "bbox": [5, 5, 50, 120], "score": 0.95},
            ]
        )
    )
    out = infer.main([f"ckpt_path={checkpoints['simcc']}", f"input={folder}",
                      f"detections={detections}", f"out={tmp_path / 'out'}", "flip_test=false"])
    results = _results(out)
    assert [r["file_name"] for r in results] == [names[0], names[0], names[2]]
    assert results[1]["bbox"] == [20, 15, 30, 90]
    assert sorted(p.name for p in (out / "overlays").iterdir()) == [
        n.replace(".jpg", ".png") for n in names
    ]
    assert "3 people" in capsys.readouterr().out


def test_cli_falls_back_to_the_whole_image_without_detector_weights(
    checkpoints, infer, tmp_path, capsys, monkeypatch
):
    import torchvision.models.detection as detection

    def unavailable(**kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(detection, "fasterrcnn_resnet50_fpn_v2", unavailable)
    monkeypatch.delattr(cv2, "HOGDescriptor", raising=False)  # OpenCV 5: no HOG either
    image = SAMPLE / "images" / "000570_0.jpg"
    out = infer.main([f"ckpt_path={checkpoints['simcc']}", f"input={image}",
                      "detector=torchvision", f"out={tmp_path}"])
    err = capsys.readouterr().err
    assert "no detector weights are available" in err and "no HOG people detector" in err
    assert "WARNING: NO PERSON DETECTOR" in err
    height, width = cv2.imread(str(image)).shape[:2]
    # the whole image, clipped as every box (corners at most W-1, H-1)
    assert _results(out)[0]["bbox"] == [0, 0, width - 1, height - 1]


def test_cli_on_a_video(checkpoints, infer, tmp_path):
    video = tmp_path / "walk.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5, (96, 128))
    for name in ("000570_0.jpg", "000573_0.jpg", "000576_0.jpg", "000579_0.jpg"):
        writer.write(cv2.resize(cv2.imread(str(SAMPLE / "images" / name)), (96, 128)))
    writer.release()
    out = infer.main([f"ckpt_path={checkpoints['heatmap']}", f"input={video}",
                      f"out={tmp_path / 'out'}"])
    results = _results(out)
    assert [r["image_id"] for r in results] == [0, 1, 2, 3]
    assert {r["file_name"] for r in results} == {"walk.mp4"}
    capture = cv2.VideoCapture(str(out / "walk_overlay.mp4"))
    frames = 0
    while capture.read()[0]:
        frames += 1
    assert frames == 4
    assert int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) == 96


def test_coco_results_layout(checkpoints):
    predictor = Predictor.from_checkpoint(checkpoints["simcc"])
    prediction = predictor.predict(SAMPLE / "images" / "000570_0.jpg", np.array([[0, 0, 50, 100]]))
    (result,) = coco_results(prediction, np.array([0.5]), image_id=7, file_name="x.jpg")
    flat = np.array(result["keypoints"]).reshape(17, 3)
    np.testing.assert_allclose(flat[:, :2], prediction.keypoints[0], atol=1e-3)
    np.testing.assert_allclose(flat[:, 2], prediction.scores[0], atol=1e-3)
    scores = prediction.scores[0]
    confident = scores[scores > 0.2]  # HRNet / mmpose: box score x mean of confident scores
    expected = 0.5 * (confident.mean() if confident.size else 0.0)
    assert result["score"] == pytest.approx(float(expected))


def test_cli_without_detector_warns_loudly(checkpoints, infer, tmp_path, capsys):
    image = SAMPLE / "images" / "000570_0.jpg"
    infer.main([f"ckpt_path={checkpoints['simcc']}", f"input={image}", f"out={tmp_path}"])
    assert "WARNING: NO PERSON DETECTOR" in capsys.readouterr().err
