"""gtsrb_lt and tinyimagenet_lt on small GTSRB and Tiny ImageNet layouts the tests write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from invtransfer.data import gtsrb_lt, longtail_counts, tinyimagenet_lt
from invtransfer.data.folders import ImageFiles

GTSRB_TRAIN = [9, 12, 8, 10]
"""Training images per class of the fake GTSRB (the real one is imbalanced too)."""
GTSRB_TEST = [3, 5, 4, 6]
WNIDS = ["n0001", "n0002", "n0003"]
TINY_TRAIN = 10
TINY_VAL = 4


def write_image(path: Path, rng: np.random.Generator, size: tuple[int, int], gray: bool = False):
    shape = (size[1], size[0]) if gray else (size[1], size[0], 3)
    PIL.Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(path)


def write_gtsrb(root: Path) -> Path:
    """torchvision's GTSRB layout: Training/<class>/*.ppm, Final_Test/Images and the CSV."""
    rng = np.random.default_rng(0)
    base = root / "gtsrb"
    for label, count in enumerate(GTSRB_TRAIN):
        folder = base / "GTSRB" / "Training" / f"{label:05d}"
        folder.mkdir(parents=True)
        for i in range(count):
            write_image(folder / f"00000_{i:05d}.ppm", rng, (10 + i % 3, 12))
        (folder / f"GT-{label:05d}.csv").write_text("Filename;ClassId\n")  # not an image
    images = base / "GTSRB" / "Final_Test" / "Images"
    images.mkdir(parents=True)
    rows = ["Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"]
    labels = [label for label, count in enumerate(GTSRB_TEST) for _ in range(count)]
    for i, label in enumerate(labels):
        write_image(images / f"{i:05d}.ppm", rng, (14, 11))
        rows.append(f"{i:05d}.ppm;14;11;1;1;13;10;{label}")
    (base / "GT-final_test.csv").write_text("\n".join(rows) + "\n")
    return root


def write_tiny(root: Path) -> Path:
    """The tiny-imagenet-200 layout: wnids.txt, train/<wnid>/images, val/ and its annotations."""
    rng = np.random.default_rng(1)
    base = root / "tiny-imagenet-200"
    base.mkdir()
    (base / "wnids.txt").write_text("\n".join(WNIDS) + "\n")
    for wnid in WNIDS:
        folder = base / "train" / wnid / "images"
        folder.mkdir(parents=True)
        for i in range(TINY_TRAIN):
            write_image(folder / f"{wnid}_{i}.JPEG", rng, (64, 64), gray=i == 0)
    (base / "val" / "images").mkdir(parents=True)
    lines = []
    for i in range(TINY_VAL * len(WNIDS)):
        write_image(base / "val" / "images" / f"val_{i}.JPEG", rng, (64, 64))
        lines.append(f"val_{i}.JPEG\t{WNIDS[i % len(WNIDS)]}\t0\t0\t63\t63")
    (base / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="module")
def gtsrb_root(tmp_path_factory) -> Path:
    return write_gtsrb(tmp_path_factory.mktemp("gtsrb"))


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    return write_tiny(tmp_path_factory.mktemp("tiny"))


def no_decoding(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("an image was decoded")

    monkeypatch.setattr(PIL.Image, "open", refuse)


def disjoint_val_and_train(splits) -> bool:
    """Whether the validation images and the long-tailed training images share none."""
    remaining = splits.train.dataset.indices  # the images the hold-out left
    trained = {remaining[i] for i in splits.train.indices.tolist()}
    return not trained & set(splits.val.indices.tolist())


def test_gtsrb_lt_follows_the_profile_by_class_size_with_a_balanced_test_set(gtsrb_root):
    splits = gtsrb_lt(gtsrb_root, imbalance_ratio=4, size=16)
    profile = longtail_counts("exponential", 4, max(GTSRB_TRAIN), imbalance_ratio=4)
    assert profile.tolist() == [12, 7, 4, 3]
    assert splits.class_counts.tolist() == [4, 12, 3, 7]  # the i-th largest class, i-th count
    assert splits.train.class_counts.tolist() == [4, 12, 3, 7] and len(splits.train) == 26
    assert splits.test.class_counts.tolist() == [min(GTSRB_TEST)] * 4 and len(splits.test) == 12
    assert splits.val is None and splits.family is None and splits.num_classes == 4
    for data in (splits.train, splits.test):
        image, label = data[len(data) - 1]
        assert image.dtype == torch.uint8 and image.shape == (3, 16, 16) and label == 3


def test_gtsrb_lt_holds_the_validation_set_out_first(gtsrb_root):
    splits = gtsrb_lt(gtsrb_root, imbalance_ratio=4, val_per_class=2, max_count=6)
    assert splits.class_counts.tolist() == [2, 6, 1, 3]
    assert splits.val.class_counts.tolist() == [2, 2, 2, 2]
    assert disjoint_val_and_train(splits)
    image, _ = splits.val[0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.uint8
    default = gtsrb_lt(gtsrb_root, imbalance_ratio=4, val_per_class=3)
    assert default.class_counts.max() == max(GTSRB_TRAIN) - 3


def test_gtsrb_lt_is_seeded_and_reads_no_image_to_build(gtsrb_root, monkeypatch):
    no_decoding(monkeypatch)
    a, b = (gtsrb_lt(gtsrb_root, imbalance_ratio=4) for _ in range(2))
    c = gtsrb_lt(gtsrb_root, imbalance_ratio=4, seed=1)
    assert torch.equal(a.train.indices, b.train.indices)
    assert torch.equal(a.test.indices, b.test.indices)
    assert not torch.equal(a.train.indices, c.train.indices)


def test_tinyimagenet_lt_follows_the_profile_and_tests_on_val(tiny_root):
    splits = tinyimagenet_lt(tiny_root, imbalance_ratio=5)
    assert splits.class_counts.tolist() == [10, 4, 2] and len(splits.train) == 16
    assert len(splits.test) == TINY_VAL * 3 and splits.val is None
    assert splits.test.targets.bincount().tolist() == [TINY_VAL] * 3
    image, label = splits.train.dataset[0]  # a grayscale file, converted to RGB
    assert image.dtype == torch.uint8 and image.shape == (3, 64, 64) and label == 0
    image, label = splits.train[len(splits.train) - 1]
    assert image.dtype == torch.uint8 and image.shape == (3, 64, 64) and label == 2
    image, label = splits.test[1]
    assert image.shape == (3, 64, 64) and label == 1


def test_tinyimagenet_lt_accepts_the_folder_itself_and_holds_out_val(tiny_root):
    splits = tinyimagenet_lt(tiny_root / "tiny-imagenet-200", imbalance_ratio=5, val_per_class=2)
    assert splits.class_counts.tolist() == [8, 3, 1]
    assert splits.val.class_counts.tolist() == [2, 2, 2]
    assert disjoint_val_and_train(splits)


def test_tinyimagenet_lt_is_seeded_and_reads_no_image_to_build(tiny_root, monkeypatch):
    no_decoding(monkeypatch)
    a, b = (tinyimagenet_lt(tiny_root, imbalance_ratio=5) for _ in range(2))
    c = tinyimagenet_lt(tiny_root, imbalance_ratio=5, seed=1)
    assert torch.equal(a.train.indices, b.train.indices)
    assert not torch.equal(a.train.indices, c.train.indices)


def test_missing_layouts_say_what_is_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"gtsrb/GTSRB/Training.*GT-final_test\.csv"):
        gtsrb_lt(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"wnids\.txt"):
        tinyimagenet_lt(tmp_path)
    (tmp_path / "wnids.txt").write_text("n0001\n")
    with pytest.raises(FileNotFoundError, match=r"train/n0001/images"):
        tinyimagenet_lt(tmp_path)


def test_malformed_gtsrb_test_csv_names_the_line(tmp_path):
    csv = write_gtsrb(tmp_path) / "gtsrb" / "GT-final_test.csv"
    rows = csv.read_text().splitlines()
    csv.write_text("\n".join([*rows, "00000.ppm;14;11;1;1;13;10;7"]))
    with pytest.raises(ValueError, match=rf"GT-final_test\.csv, line {len(rows) + 1}.*ClassId"):
        gtsrb_lt(tmp_path)
    csv.write_text("\n".join([*rows, "absent.ppm;14;11;1;1;13;10;0"]))
    with pytest.raises(ValueError, match=r"absent\.ppm, found no such file"):
        gtsrb_lt(tmp_path)
    csv.write_text("\n".join([*rows, "00000.ppm;14;11;1;1;13;10;zero"]))
    with pytest.raises(ValueError, match=r"GT-final_test\.csv: expected ';'-separated"):
        gtsrb_lt(tmp_path)
    with pytest.raises(ValueError, match="size: expected a positive int"):
        gtsrb_lt(tmp_path, size=0)


def test_malformed_tiny_annotations_name_the_line(tmp_path):
    annotations = write_tiny(tmp_path) / "tiny-imagenet-200" / "val" / "val_annotations.txt"
    lines = annotations.read_text().splitlines()
    annotations.write_text("\n".join([*lines[:2], "val_0.JPEG\tn9999\t0\t0\t1\t1"]))
    with pytest.raises(ValueError, match=r"val_annotations\.txt, line 3: .*received 'n9999'"):
        tinyimagenet_lt(tmp_path)
    annotations.write_text("\n".join([*lines[:1], "gone.JPEG\tn0001\t0\t0\t1\t1"]))
    with pytest.raises(ValueError, match=r"line 2: expected the image .*gone\.JPEG"):
        tinyimagenet_lt(tmp_path)
    annotations.write_text("val_0.JPEG n0001\n")
    with pytest.raises(ValueError, match=r"line 1: expected a tab-separated filename and wnid"):
        tinyimagenet_lt(tmp_path)


def test_image_files_checks_its_labels(tmp_path):
    with pytest.raises(ValueError, match=r"targets: expected one label per path \(2\)"):
        ImageFiles([tmp_path / "a.png", tmp_path / "b.png"], [0])
