"""COCO-size annotation files: setup time (cold and cached), peak memory, loader workers'
private memory over N samples, and COCO AP time of 104k detected people.

The files are written here (``write_people_file``: realistic fields, 17 keypoints, a
segmentation polygon per person, 2.6 people per image, images pointing at the COCO fixture's
four JPEGs). Each setup runs in a fresh process (``python scale.py setup ...``) so that its peak
resident set (VmHWM) is its own; workers' private memory (USS, psutil) is read after the first
batch and after N samples of a shuffled training loader.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # scripts/, when run on its own

from benchmarks.process_memory import current_rss, peak_rss, reset_peak_rss, uss  # noqa: E402

MIB = 1024.0 * 1024.0
PEOPLE_PER_IMAGE = 2.6


def write_people_file(path: Path, people: int, image_files: list[tuple[str, int, int]],
                      seed: int = 0, images: int | None = None) -> Path:
    """A COCO-format keypoint file of ``people`` labelled people (written in chunks) in
    ``images`` images (default: 2.6 people per image, as COCO train2017), which reuse the
    ``image_files`` (file name, width, height) in turn; each person lies inside its image."""
    rng = np.random.default_rng(seed)
    images = images or max(1, int(round(people / PEOPLE_PER_IMAGE)))
    sizes = np.array([image_files[i % len(image_files)][1:] for i in range(images)], float)
    with open(path, "w") as f:
        f.write('{"info": {"description": "posekit scale benchmark"}, "licenses": [], "images": [')
        f.write(",".join(
            json.dumps({"license": 1, "file_name": image_files[i % len(image_files)][0],
                        "coco_url": "", "height": int(sizes[i, 1]), "width": int(sizes[i, 0]),
                        "date_captured": "2013-11-14 17:02:52", "flickr_url": "", "id": i + 1})
            for i in range(images)))
        f.write('], "annotations": [')
        for start in range(0, people, 10000):
            count = min(10000, people - start)
            # boxes as fractions of the image, as COCO people in a 640 x 480 image
            size = sizes[(start + np.arange(count)) % images]  # (count, 2) width, height
            boxes = np.column_stack([rng.uniform(0, 400 / 640, count), rng.uniform(0, 200 / 480, count),
                                     rng.uniform(40 / 640, 230 / 640, count),
                                     rng.uniform(80 / 480, 270 / 480, count)]) * np.tile(size, 2)
            chunk = []
            for j in range(count):
                x, y, w, h = boxes[j].round(2).tolist()
                kx = rng.integers(int(x), int(x + w) + 1, 17)
                ky = rng.integers(int(y), int(y + h) + 1, 17)
                v = rng.choice([0, 1, 2], 17, p=[0.3, 0.1, 0.6])
                v[5] = 2  # at least one labelled keypoint
                flat = np.column_stack([np.where(v > 0, kx, 0), np.where(v > 0, ky, 0), v])
                angles = np.sort(rng.uniform(0, 2 * np.pi, 24))
                polygon = np.column_stack([x + w / 2 * (1 + np.cos(angles)),
                                           y + h / 2 * (1 + np.sin(angles))]).round(2)
                chunk.append(json.dumps({
                    "segmentation": [polygon.ravel().tolist()], "num_keypoints": int((v > 0).sum()),
                    "area": round(w * h * 0.6, 4), "iscrowd": 0,
                    "keypoints": flat.ravel().tolist(), "image_id": (start + j) % images + 1,
                    "bbox": [x, y, w, h], "category_id": 1, "id": start + j + 1,
                }))
            f.write(("," if start else "") + ",".join(chunk))
        f.write('], "categories": [{"supercategory": "person", "id": 1, "name": "person"}]}')
    return path


def measure_setup(root: Path, ann: str, workers: int, samples: int) -> dict:
    """In this (fresh) process: setup('fit') time, peak and final RSS, workers' USS."""
    import torch
    from hydra.utils import instantiate

    from benchmarks.common import coco_fixture_overrides, compose_config

    torch.set_num_threads(1)
    cfg = compose_config([*coco_fixture_overrides(root, (48, 64)), f"data.train_ann={ann}",
                          "data.val_ann=test_coco.json"])
    datamodule = instantiate(cfg.data, num_workers=workers, batch_size=16, persistent_workers=True)
    before = current_rss()
    reset_peak_rss()
    start = time.perf_counter()
    datamodule.setup("fit")
    seconds = time.perf_counter() - start
    result = {"seconds": seconds, "peak": peak_rss(), "rss": current_rss(),
              "before": before, "people": len(datamodule.train_set)}
    if workers and samples:
        loader = datamodule.train_dataloader()
        batches = iter(loader)
        next(batches)
        pids = [w.pid for w in batches._workers]
        first = [uss(pid) for pid in pids]
        for step in range(samples // 16):
            next(batches)
            if step == samples // 160:  # a tenth of the way: the workers' buffers warmed up
                warm = [uss(pid) for pid in pids]
        result.update(uss_first=first, uss_warm=warm, uss_last=[uss(pid) for pid in pids])
    return result


def _run_setup(python: str, root: Path, ann: str, workers: int, samples: int) -> dict:
    out = subprocess.run([python, __file__, "setup", str(root), ann, str(workers), str(samples)],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def scale_rows(args: DictConfig) -> list:
    from benchmarks.common import Row, coco_fixture

    fixture = coco_fixture()
    if fixture is None:
        return []
    rows: list[Row] = []
    root = Path(args.scale.dir or Path(tempfile.gettempdir()) / "posekit-scale")
    root.mkdir(parents=True, exist_ok=True)
    for name in ("test_coco.json", *sorted(p.name for p in fixture.glob("*.jpg"))):
        if not (root / name).exists():
            (root / name).symlink_to(fixture / name)
    listed = json.loads((fixture / "test_coco.json").read_text())["images"]
    files = sorted((i["file_name"], int(i["width"]), int(i["height"])) for i in listed)
    for people in args.scale.people:
        ann = f"people_{people}.json"
        if not (root / ann).exists():
            write_people_file(root / ann, people, files)
        for cache in root.glob(f"{ann}.*.posekit-records.npz"):
            cache.unlink()
        label = f"{people:,} people"
        cold = _run_setup(sys.executable, root, ann, 0, 0)
        warm = _run_setup(sys.executable, root, ann, args.scale.workers, args.scale.samples)
        rows.append(Row("scale", f"setup('fit') cold, {label}", cold["seconds"], "s",
                        note=f"peak RSS {cold['peak'] / MIB:,.0f} MiB, after "
                             f"{cold['rss'] / MIB:,.0f} MiB (x{cold['peak'] / cold['rss']:.2f}); setup grew it "
                             f"{(cold['peak'] - cold['before']) / MIB:,.0f} MiB at the peak, "
                             f"kept {(cold['rss'] - cold['before']) / MIB:,.0f} MiB"))
        rows.append(Row("scale", f"setup('fit') cached, {label}", warm["seconds"], "s",
                        note=f"peak RSS {warm['peak'] / MIB:,.0f} MiB"))
        if "uss_first" in warm:
            rows.append(uss_row(f"worker USS after {args.scale.samples:,} samples, {label}",
                                warm, args.scale.workers))
        if args.mmpose_python and people <= args.scale.mmpose_max:
            rows += mmpose_rows(args, root, ann, label)
    rows += metric_rows(args.scale.detections, args.scale.images, root, args.scale.rounds)
    return rows


def mmpose_rows(args: DictConfig, root: Path, ann: str, label: str) -> list:
    """mmpose's CocoDataset on the same file (mmpose_scale.py in ``mmpose_python``)."""
    from benchmarks.common import Row

    script = Path(__file__).with_name("mmpose_scale.py")
    done = subprocess.run([args.mmpose_python, str(script), str(root), ann, "--workers",
                           str(args.scale.workers), "--samples", str(args.scale.samples)],
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"mmpose_python={args.mmpose_python}: the mmpose scale measurement "
                         f"failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    versions = ", ".join(f"{k} {v}" for k, v in result["versions"].items())
    return [
        Row("scale", f"mmpose CocoDataset build, {label}", result["seconds"], "s",
            note=f"peak RSS {result['peak'] / MIB:,.0f} MiB, after {result['rss'] / MIB:,.0f} "
                 f"MiB; {result['people']:,} people; {versions}"),
        uss_row(f"mmpose worker USS after {args.scale.samples:,} samples, {label}", result,
                args.scale.workers, " (serialize_data=True)"),
    ]


def uss_row(setting: str, result: dict, workers: int, extra: str = ""):
    """The largest worker USS at the end, with every worker's first-batch and last figures."""
    from benchmarks.common import Row

    first, last = np.array(result["uss_first"]) / MIB, np.array(result["uss_last"]) / MIB
    growth = float((last / first).max() - 1)
    note = (f"{workers} workers, first batch {', '.join(f'{v:.1f}' for v in first)} -> "
            f"{', '.join(f'{v:.1f}' for v in last)} MiB (+{growth:.0%} at most)")
    if "uss_warm" in result:
        warm = np.array(result["uss_warm"]) / MIB
        note += (f"; after a tenth of the samples {', '.join(f'{v:.1f}' for v in warm)} MiB, "
                 f"+{float((last / warm).max() - 1):.0%} from there to the end")
    return Row("scale", setting, float(last.max()), "MiB", note=note + extra)


def metric_rows(detections: int, images: int, root: Path, rounds: int = 3) -> list:
    """COCO AP of ``detections`` detected people over ``images`` images (rescoring, OKS-NMS,
    COCOeval) against pycocotools alone on the resulting list, in ``rounds`` interleaved
    rounds: medians, spreads and the ratio's median."""
    import contextlib
    import io

    import torch
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from benchmarks.common import Row
    from posekit.metrics import CocoKeypointAP

    gt_file = root / f"gt_{images}.json"
    if not gt_file.exists():
        # COCO val2017: 6,352 people with keypoints in 5,000 images
        write_people_file(gt_file, int(images * 1.27), [("a.jpg", 640, 480)], seed=1,
                          images=images)
    gt = json.loads(gt_file.read_text())
    rng = np.random.default_rng(2)
    people = gt["annotations"]
    pick = rng.integers(0, len(people), detections)
    keypoints = np.array([people[i]["keypoints"] for i in pick], dtype=np.float64)
    keypoints = keypoints.reshape(-1, 17, 3)
    keypoints[..., :2] += rng.normal(0, 6, (detections, 17, 2))
    states = {
        "pred_keypoints": torch.from_numpy(keypoints[..., :2]),
        "pred_scores": torch.from_numpy(rng.uniform(0.0, 1.0, (detections, 17))),
        "bbox": torch.tensor([people[i]["bbox"] for i in pick], dtype=torch.float64),
        "bbox_score": torch.from_numpy(rng.uniform(0.3, 1.0, detections)),
        "image_id": torch.tensor([people[i]["image_id"] for i in pick]),
    }
    metrics = {backend: CocoKeypointAP(str(gt_file), sigmas=[0.05] * 17, use_detections=True,
                                       backend=backend)
               for backend in ("pycocotools", "faster_coco_eval")}
    results = metrics["pycocotools"]._build_results(states)  # as predictions.json holds them

    def posekit(backend: str) -> tuple[float, float]:  # what compute() does, on these states
        metric = metrics[backend]
        start = time.perf_counter()
        values = metric._evaluate(metric._build_results(states, as_lists=False))
        return time.perf_counter() - start, values["AP"]

    def alone() -> tuple[float, float]:  # pycocotools on the same results list
        reference = COCO()
        reference.dataset = metrics["pycocotools"]._coco.dataset
        copies = [dict(result) for result in results]  # loadRes edits them
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            reference.createIndex()
            evaluator = COCOeval(reference, reference.loadRes(copies), iouType="keypoints")
            evaluator.params.kpt_oks_sigmas = np.array([0.05] * 17)
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        return time.perf_counter() - start, float(evaluator.stats[0])

    times: dict[str, list[float]] = {"alone": [], "pycocotools": [], "faster_coco_eval": []}
    aps: dict[str, float] = {}
    for _ in range(rounds):  # interleaved, so that a busy machine slows each alike
        for name, measure in (("alone", alone), ("pycocotools", lambda: posekit("pycocotools")),
                              ("faster_coco_eval", lambda: posekit("faster_coco_eval"))):
            seconds, aps[name] = measure()
            times[name].append(seconds)
    median = {name: float(np.median(t)) for name, t in times.items()}
    rows = [Row("scale", f"pycocotools alone, {len(results):,} results", median["alone"], "s",
                spread=_spread(times["alone"]), note=f"AP {aps['alone']:.9f}")]
    for backend in ("pycocotools", "faster_coco_eval"):
        ratios = sorted(o / a for o, a in zip(times[backend], times["alone"]))
        rows.append(Row(
            "scale", f"COCO AP ({backend}), {detections:,} detections, {images:,} images",
            median[backend], "s", spread=_spread(times[backend]),
            note=f"AP {aps[backend]:.9f} (|diff| {abs(aps[backend] - aps['alone']):.1e}); "
                 f"x{np.median(ratios):.2f} of pycocotools alone (median of {rounds} "
                 f"interleaved rounds, {ratios[0]:.2f} - {ratios[-1]:.2f})"))
    return rows


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f} - {max(values):.2f}"


if __name__ == "__main__" and sys.argv[1:2] == ["setup"]:
    _, _, root, ann, workers, samples = sys.argv
    print(json.dumps(measure_setup(Path(root), ann, int(workers), int(samples))))
