"""data.group_by_image: an epoch drawn image by image, and one decode for an image's people."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from helpers import REPO, compose_config
from hydra.utils import instantiate

from posekit.core.geometry import crop_affine_matrix
from posekit.data.decode import LastImageReader, decode_at, matrix_for
from posekit.data.grouped_sampler import ImageGroupedSampler

# 40 images with 1 to 4 people each, people of an image not adjacent in the index order
KEYS = [f"image{(7 * i) % 40}" for i in range(40)] + [f"image{i % 13}" for i in range(50)]


def runs_of(order: list[int]) -> list[list[str]]:
    """The order as runs of people of one image: [[key, key], [key], ...]."""
    runs: list[list[str]] = []
    for index in order:
        if runs and runs[-1][-1] == KEYS[index]:
            runs[-1].append(KEYS[index])
        else:
            runs.append([KEYS[index]])
    return runs


def test_an_epoch_visits_every_person_once_image_by_image():
    sampler = ImageGroupedSampler(KEYS, seed=3)
    order = list(sampler)
    assert sorted(order) == list(range(len(KEYS)))
    runs = runs_of(order)
    assert len(runs) == len(set(KEYS)) == 40  # each image in one run
    assert all(len(run) == KEYS.count(run[0]) for run in runs)


def test_the_order_changes_with_the_epoch_and_the_seed_only():
    first, again, other_seed = (ImageGroupedSampler(KEYS, seed=s) for s in (3, 3, 4))
    epoch0 = list(first)
    assert list(again) == epoch0
    assert list(other_seed) != epoch0
    first.set_epoch(1)
    assert list(first) != epoch0
    assert [runs[0] for runs in runs_of(list(first))] != [runs[0] for runs in runs_of(epoch0)]


def test_processes_take_contiguous_blocks_of_one_order():
    """Under DDP each rank takes a block, so an image's people stay on one rank; the ranks
    cover every person, the last block padded with the first people (90 = 4 x 23 - 2)."""
    ranks = [list(ImageGroupedSampler(KEYS, seed=5, num_replicas=4, rank=r)) for r in range(4)]
    whole = list(ImageGroupedSampler(KEYS, seed=5))
    assert [len(r) for r in ranks] == [23] * 4
    assert sum(ranks, []) == whole + whole[:2]
    split = [key for key in set(KEYS)
             if sum(any(KEYS[i] == key for i in block) for block in ranks) > 1]
    # only images straddling the 3 block boundaries, and those of the padding
    assert len(split) <= 3 + len({KEYS[i] for i in whole[:2]})


def smooth_jpeg(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    image = cv2.resize(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8), (640, 480))
    cv2.imwrite(str(path), image)
    return path


def test_the_reader_decodes_an_image_once_and_reuses_a_finer_one(tmp_path):
    first, second = smooth_jpeg(tmp_path / "a.jpg", 0), smooth_jpeg(tmp_path / "b.jpg", 1)
    size = (48, 64)
    fine = crop_affine_matrix(np.array([320.0, 240.0]), np.array([60.0, 80.0]), 0.0, size)
    coarse = crop_affine_matrix(np.array([320.0, 240.0]), np.array([300.0, 400.0]), 0.0, size)
    reader = LastImageReader(reduced=True)
    steps = [(first, coarse, 4, 1), (first, coarse, 4, 1), (first, fine, 1, 2),
             (first, coarse, 1, 2), (second, coarse, 4, 3), (first, coarse, 4, 4)]
    for path, matrix, factor, decodes in steps:
        image, warp, used = reader.read_for_crop(path, matrix, "test")
        assert (used, reader.decodes) == (factor, decodes)
        # the same crop as a decode of its own at that factor
        alone, alone_warp = decode_at(path, factor, "test"), matrix_for(matrix, factor)
        np.testing.assert_array_equal(cv2.warpAffine(image, warp, size),
                                      cv2.warpAffine(alone, alone_warp, size))


def test_grouped_training_decodes_each_image_once(fixtures_dir, tmp_path):
    """The COCO fixture (4 images, several people each), a whole training epoch in the
    sampler's order: one decode per image, against one per change of image in a plain shuffle
    (counted here from the order itself)."""
    coco = fixtures_dir / "coco"
    cfg = compose_config("train", [
        "data=custom", f"data.root={coco}", f"data.keypoints.path={REPO}/conf/keypoints/coco.yaml",
        "data.train_ann=test_coco.json", "data.val_ann=test_coco.json", "data.train_images=.",
        "data.val_images=.", "data.group_by_image=true", "data.num_workers=0", "seed=11",
        "data.reduced_decode=false"], tmp_path)
    module = instantiate(cfg.data)
    module.setup("fit")
    loader = module.train_dataloader()
    sampler = loader.sampler
    assert isinstance(sampler, ImageGroupedSampler) and sampler.seed == 11
    dataset = loader.dataset
    paths = [record.image_path for record in dataset.records]
    for index in sampler:
        dataset[index]
    assert dataset.reader.decodes == len(set(paths)) < len(paths)

    shuffled = np.random.default_rng(0).permutation(len(paths))
    changes = 1 + sum(paths[a] != paths[b] for a, b in zip(shuffled[1:], shuffled[:-1]))
    dataset.reader = LastImageReader(reduced=False)
    for index in shuffled:
        dataset[int(index)]
    assert dataset.reader.decodes == changes > len(set(paths))


def test_plain_shuffle_without_the_option(tmp_path):
    cfg = compose_config("train", ["data.num_workers=0"], tmp_path)
    module = instantiate(cfg.data)
    module.setup("fit")
    assert module.train_sampler() is None
    assert not isinstance(module.train_dataloader().sampler, ImageGroupedSampler)
