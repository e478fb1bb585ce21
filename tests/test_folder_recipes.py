"""The recipes over image files, on small layouts the tests write: image_folder, split_file,
gtsrb_lt (official and torchvision layouts) and tinyimagenet_lt; and image_folder on the real
CIFAR-10 JPEG folders when they are present."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import PIL.Image
import PIL.ImageFile
import pytest
import torch
from data_files import (
    unpacked_cifar10,
    write_class_folders,
    write_gtsrb,
    write_image,
    write_split_lists,
)
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder
from torchvision.transforms.v2.functional import pil_to_tensor

from invtransfer.data import (
    ImageFiles,
    LongTailSubset,
    cifar_lt,
    gtsrb_lt,
    image_folder,
    longtail_counts,
    split_file,
    tinyimagenet_lt,
)

GTSRB_TRAIN = [9, 12, 8, 10]
"""Training images per class of the fake GTSRB (the real one is imbalanced too)."""
GTSRB_TEST = [3, 5, 4, 6]
WNIDS = ["n0001", "n0002", "n0003"]
TINY_TRAIN = 10
TINY_VAL = 4
FOLDERS = {
    "train": {"zebra": 2, "ant": 5, "moth": 3},
    "val": {"zebra": 1, "ant": 1, "moth": 0},
    "test": {"zebra": 2, "ant": 2, "moth": 2},
}
"""Class folders of the image_folder tests; sorted, ant is class 0, moth 1, zebra 2."""
LISTS = {
    "ImageNet_LT_train.txt": [0, 0, 0, 0, 1, 1, 2],
    "ImageNet_LT_val.txt": [2, 1, 0],
    "ImageNet_LT_test.txt": [0, 1, 2, 2],
}
LIST_NAMES = dict(zip(["train", "val", "test"], LISTS, strict=True))


def write_tiny(root: Path) -> Path:
    """The tiny-imagenet-200 layout: wnids.txt, train/<wnid>/images, val/ and its annotations."""
    rng = np.random.default_rng(1)
    base = root / "tiny-imagenet-200"
    base.mkdir()
    (base / "wnids.txt").write_text("\n".join(WNIDS) + "\n")
    for wnid in WNIDS:
        for i in range(TINY_TRAIN):
            path = base / "train" / wnid / "images" / f"{wnid}_{i}.JPEG"
            write_image(path, rng, (64, 64), "L" if i == 0 else "RGB")
    lines = []
    for i in range(TINY_VAL * len(WNIDS)):
        write_image(base / "val" / "images" / f"val_{i}.JPEG", rng, (64, 64))
        lines.append(f"val_{i}.JPEG\t{WNIDS[i % len(WNIDS)]}\t0\t0\t63\t63")
    (base / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="module")
def gtsrb_root(tmp_path_factory) -> Path:
    return write_gtsrb(tmp_path_factory.mktemp("gtsrb"), GTSRB_TRAIN, GTSRB_TEST)


@pytest.fixture(scope="module")
def official_gtsrb_root(tmp_path_factory) -> Path:
    return write_gtsrb(tmp_path_factory.mktemp("official"), GTSRB_TRAIN, GTSRB_TEST, True)


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    return write_tiny(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def folders_root(tmp_path_factory) -> Path:
    return write_class_folders(tmp_path_factory.mktemp("folders"), FOLDERS)


@pytest.fixture(scope="module")
def lists_root(tmp_path_factory) -> Path:
    return write_split_lists(tmp_path_factory.mktemp("lists"), LISTS)


def no_decoding(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("an image was opened")

    monkeypatch.setattr(PIL.Image, "open", refuse)


def count_reads(monkeypatch) -> dict[str, int]:
    """Counts, from now on, of files opened (a header read) and of images decoded."""
    counts = {"opened": 0, "decoded": 0}
    real_open, real_load = PIL.Image.open, PIL.ImageFile.ImageFile.load

    def counted_open(*args, **kwargs):
        counts["opened"] += 1
        return real_open(*args, **kwargs)

    def counted_load(self, *args, **kwargs):
        counts["decoded"] += bool(self.tile)  # tiles left to decode; none once loaded
        return real_load(self, *args, **kwargs)

    monkeypatch.setattr(PIL.Image, "open", counted_open)
    monkeypatch.setattr(PIL.ImageFile.ImageFile, "load", counted_load)
    return counts


def pixels(path: Path) -> torch.Tensor:
    """The pixels of a file as PIL decodes them, ``(C, H, W)``."""
    with PIL.Image.open(path) as file:
        return pil_to_tensor(file)


def disjoint_val_and_train(splits) -> bool:
    """Whether the validation images and the long-tailed training images share none."""
    remaining = splits.train.dataset.indices  # the images the hold-out left
    trained = {remaining[i] for i in splits.train.indices.tolist()}
    return not trained & set(splits.val.indices.tolist())


# image_folder


def test_image_folder_keeps_the_natural_class_sizes_with_sorted_class_ids(folders_root):
    splits = image_folder(folders_root)
    assert splits.class_counts.tolist() == [5, 3, 2] and splits.summary().imbalance_ratio == 2.5
    assert isinstance(splits.train, ImageFiles) and len(splits.train) == 10
    assert splits.train.targets.tolist() == [0] * 5 + [1] * 3 + [2] * 2
    assert splits.val.targets.tolist() == [0, 2] and splits.test.targets.tolist() == [
        0,
        0,
        1,
        1,
        2,
        2,
    ]
    assert splits.family is None
    image, label = splits.train[5]
    assert label == 1 and image.dtype == torch.uint8 and image.shape == (3, 6, 8)
    assert torch.equal(image, pixels(folders_root / "train" / "moth" / "000.png"))
    image, label = splits.test[5]
    assert label == 2 and torch.equal(image, pixels(folders_root / "test" / "zebra" / "001.png"))


def test_image_folder_applies_a_profile_by_class_size(folders_root):
    exponential = image_folder(folders_root, profile="exponential", imbalance_ratio=4)
    assert longtail_counts("exponential", 3, 5, imbalance_ratio=4).tolist() == [5, 2, 1]
    assert exponential.class_counts.tolist() == [5, 2, 1]
    assert isinstance(exponential.train, LongTailSubset)
    assert exponential.train.class_counts.tolist() == [5, 2, 1]
    zipf = image_folder(folders_root, profile="zipf", alpha=1.0, max_count=4)
    assert zipf.class_counts.tolist() == [4, 2, 1]
    step = image_folder(folders_root, profile="step", imbalance_ratio=3, max_count=3)
    assert step.class_counts.tolist() == [3, 1, 1]  # half of the classes (rounded) are small
    third = image_folder(
        folders_root, profile="step", imbalance_ratio=3, max_count=3, minority_fraction=0.34
    )
    assert third.class_counts.tolist() == [3, 3, 1]
    first = image_folder(folders_root, profile="exponential", imbalance_ratio=4, seed=None)
    assert first.train.indices.tolist() == [0, 1, 2, 3, 4, 5, 6, 8]
    assert len(exponential.test) == 6 and len(exponential.val) == 2


def test_image_folder_profiles_go_to_the_largest_classes_first(tmp_path):
    root = write_class_folders(tmp_path, {"train": {"a": 2, "b": 6, "c": 4}, "test": {"a": 1}})
    with pytest.raises(ValueError, match=r"without \['b', 'c'\] and with extra \[\]"):
        image_folder(root)
    for name in ("b", "c"):
        (root / "test" / name).mkdir()
    splits = image_folder(root, profile="exponential", imbalance_ratio=6)
    assert longtail_counts("exponential", 3, 6, imbalance_ratio=6).tolist() == [6, 2, 1]
    assert splits.class_counts.tolist() == [1, 6, 2]
    a, b = (image_folder(root, profile="exponential", imbalance_ratio=6) for _ in range(2))
    c = image_folder(root, profile="exponential", imbalance_ratio=6, seed=1)
    assert torch.equal(a.train.indices, b.train.indices)
    assert not torch.equal(a.train.indices, c.train.indices)
    with pytest.raises(ValueError, match=r"asks classes \['a'\] for \[3\] images, .* hold \[2\]"):
        image_folder(root, profile="zipf", alpha=1.0, min_count=3)


def test_image_folder_reads_grayscale_or_rgb_consistently(tmp_path):
    root = write_class_folders(
        tmp_path, {"train": {"a": 2, "b": 1}, "test": {"a": 1, "b": 1}}, mode="L"
    )
    write_image(root / "train" / "b" / "rgb.png", np.random.default_rng(5), (8, 6))
    gray = image_folder(root)  # the first image is grayscale
    image, _ = gray.train[2]
    assert image.shape == (1, 6, 8) and gray.test[0][0].shape == (1, 6, 8)
    rgb_file = pixels(root / "train" / "b" / "rgb.png")
    with PIL.Image.open(root / "train" / "b" / "rgb.png") as file:
        luminance = pil_to_tensor(file.convert("L"))
    assert torch.equal(gray.train[3][0], luminance) and rgb_file.shape[0] == 3
    rgb = image_folder(root, channels=3)
    image, _ = rgb.train[0]
    assert image.shape == (3, 6, 8) and torch.equal(image[0], image[2])
    assert torch.equal(rgb.train[3][0], rgb_file)
    with pytest.raises(ValueError, match=r"channels: expected 1 \(grayscale\) or 3 \(RGB\)"):
        image_folder(root, channels=2)


def test_image_folder_resizes_to_image_size_and_names_an_odd_size_without_it(tmp_path):
    root = write_class_folders(tmp_path, {"train": {"a": 2, "b": 1}, "test": {"a": 1, "b": 1}})
    odd = write_image(root / "train" / "b" / "wide.png", np.random.default_rng(1), (20, 5))
    splits = image_folder(root, image_size=(4, 7))
    assert [tuple(splits.train[i][0].shape) for i in range(4)] == [(3, 4, 7)] * 4
    assert image_folder(root, image_size=5).test[1][0].shape == (3, 5, 5)
    natural = image_folder(root)
    assert natural.train[2][0].shape == (3, 6, 8)
    with pytest.raises(ValueError, match=rf"{re.escape(str(odd))}: expected an image of 6x8"):
        natural.train[3]
    with pytest.raises(ValueError, match=r"image_size: expected a positive int or a \(height"):
        image_folder(root, image_size=(4, 0))


def test_image_folder_decodes_nothing_to_build_and_one_image_per_item(folders_root, monkeypatch):
    reads = count_reads(monkeypatch)
    splits = image_folder(folders_root, image_size=4, channels=3, profile="zipf", alpha=1.0)
    assert reads == {"opened": 0, "decoded": 0}
    image_folder(folders_root)  # channels and size from the first image's header
    assert reads == {"opened": 1, "decoded": 0}
    image, _ = splits.train[0]
    assert reads == {"opened": 2, "decoded": 1} and image.shape == (3, 4, 4)


@pytest.mark.slow
def test_image_folder_datasets_survive_pickling_and_dataloader_workers(folders_root):
    splits = image_folder(folders_root, image_size=4, profile="exponential", imbalance_ratio=2)
    copy = pickle.loads(pickle.dumps(splits.train))
    assert all(torch.equal(copy[i][0], splits.train[i][0]) for i in range(len(copy)))
    loader = DataLoader(splits.train, batch_size=4, num_workers=2)
    images, labels = next(iter(loader))
    assert images.shape == (4, 3, 4, 4) and labels.tolist() == splits.train.targets[:4].tolist()


def test_image_folder_says_what_is_missing_before_anything_else(tmp_path, monkeypatch):
    no_decoding(monkeypatch)
    with pytest.raises(ValueError, match=r"profile: expected a profile name to go with \['al"):
        image_folder(tmp_path, alpha=2.0)
    with pytest.raises(FileNotFoundError, match=rf"{re.escape(str(tmp_path))}/train: expected a"):
        image_folder(tmp_path)
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "loose.png").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"train: expected class folders .*found none"):
        image_folder(tmp_path)
    for name in ("cat", "dog", ".git"):  # hidden folders are not classes
        (tmp_path / "train" / name).mkdir()
    (tmp_path / "train" / "dog" / "notes.txt").write_text("")
    (tmp_path / "train" / "dog" / ".hidden.png").write_bytes(b"")
    (tmp_path / "train" / "cat" / "a.jpg").write_bytes(b"")
    with pytest.raises(ValueError, match=r"train: expected image files .* none in \['dog'\]"):
        image_folder(tmp_path)
    (tmp_path / "train" / "dog" / "sub").mkdir()
    (tmp_path / "train" / "dog" / "sub" / "b.PNG").write_bytes(b"")  # found recursively
    with pytest.raises(FileNotFoundError, match=r"test: expected test/<class>/<images>"):
        image_folder(tmp_path)
    (tmp_path / "test" / "cat").mkdir(parents=True)
    (tmp_path / "test" / "cow").mkdir()
    with pytest.raises(ValueError, match=r"test: .* without \['dog'\] and with extra \['cow'\]"):
        image_folder(tmp_path)
    (tmp_path / "test" / "cow").rename(tmp_path / "test" / "dog")
    with pytest.raises(ValueError, match=r"test: expected image files .* the class folders"):
        image_folder(tmp_path)


# split_file


def test_split_file_reads_the_three_lists_with_counts_from_training(lists_root):
    splits = split_file(lists_root, **LIST_NAMES, image_size=16)
    assert splits.class_counts.tolist() == [4, 2, 1]
    assert (splits.summary().many, splits.summary().medium, splits.summary().few) == (0, 0, 3)
    assert splits.train.targets.tolist() == LISTS["ImageNet_LT_train.txt"]
    assert splits.val.targets.tolist() == [2, 1, 0]
    assert splits.test.targets.tolist() == [0, 1, 2, 2]
    image, label = splits.train[1]  # a grayscale file, converted to RGB
    assert image.dtype == torch.uint8 and image.shape == (3, 16, 16) and label == 0
    assert torch.equal(image[0], image[1])
    image, label = splits.test[0]  # "ImageNet_LT_test/0000/my image 0.jpg"
    assert image.shape == (3, 16, 16) and label == 0
    assert splits.train.path(6) == lists_root / "ImageNet_LT_train" / "0002" / "image 6.jpg"


def test_split_file_without_val_and_with_absolute_lists(lists_root, tmp_path):
    outside = tmp_path / "elsewhere.txt"
    outside.write_text((lists_root / "ImageNet_LT_test.txt").read_text())
    splits = split_file(lists_root, LIST_NAMES["train"], None, outside, image_size=None)
    assert splits.val is None and len(splits.test) == 4
    assert splits.train[0][0].shape == (3, 8, 10)  # the files' own size
    assert split_file(lists_root, **LIST_NAMES, channels=1).test[2][0].shape == (1, 224, 224)
    no_val = split_file(lists_root, LIST_NAMES["train"], "", LIST_NAMES["test"])  # as in a config
    assert no_val.val is None and len(no_val.test) == 4
    with pytest.raises(ValueError, match=r"train: expected the name of a list file, received ''"):
        split_file(lists_root, "", None, LIST_NAMES["test"])


def test_split_file_decodes_nothing_to_build(lists_root, monkeypatch):
    reads = count_reads(monkeypatch)
    splits = split_file(lists_root, **LIST_NAMES)
    assert reads == {"opened": 0, "decoded": 0} and len(splits.train) == 7
    splits.val[0]
    assert reads == {"opened": 1, "decoded": 1}


def test_split_file_names_the_list_and_line_of_a_missing_image(lists_root, monkeypatch):
    (lists_root / "ImageNet_LT_val" / "0001" / "image 1.jpg").rename(lists_root / "moved.jpg")
    no_decoding(monkeypatch)
    try:
        with pytest.raises(
            ValueError,
            match=r"ImageNet_LT_val\.txt, line 3: expected the image .*image 1\.jpg, found no "
            r"such file \(1 of the 3 listed are missing\)",
        ):
            split_file(lists_root, **LIST_NAMES)
    finally:
        (lists_root / "moved.jpg").rename(lists_root / "ImageNet_LT_val" / "0001" / "image 1.jpg")


@pytest.mark.parametrize("line", ["just/a/path.jpg", "a.jpg -1", "a.jpg 1.5", "a.jpg one", "7"])
def test_split_file_names_the_list_and_line_of_a_malformed_line(tmp_path, line):
    (tmp_path / "train.txt").write_text(f"a.jpg 0\n\n{line}\n")
    with pytest.raises(ValueError, match=r"train\.txt, line 3: expected 'relative/path label'"):
        split_file(tmp_path)


def test_split_file_checks_the_classes_against_the_training_list(lists_root, tmp_path):
    (tmp_path / "test.txt").write_text("ImageNet_LT_test/0000/my image 0.jpg 0\nx.jpg 3\n")
    with pytest.raises(ValueError, match=r"test\.txt, line 2: expected a label .* 0\.\.2, rec"):
        split_file(lists_root, LIST_NAMES["train"], None, tmp_path / "test.txt")
    (tmp_path / "gap.txt").write_text("a.jpg 0\nb.jpg 2\n")
    with pytest.raises(ValueError, match=r"gap\.txt: expected images of every class 0\.\.2, "):
        split_file(lists_root, tmp_path / "gap.txt", None, tmp_path / "test.txt")
    with pytest.raises(FileNotFoundError, match=rf"{re.escape(str(lists_root))}/train\.txt: exp"):
        split_file(lists_root)
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(ValueError, match=r"empty\.txt: expected one 'relative/path label'"):
        split_file(lists_root, tmp_path / "empty.txt")


# gtsrb_lt


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


def test_gtsrb_lt_is_seeded_and_reads_no_image_to_build(
    gtsrb_root, official_gtsrb_root, monkeypatch
):
    no_decoding(monkeypatch)
    for root in (gtsrb_root, official_gtsrb_root):
        a, b = (gtsrb_lt(root, imbalance_ratio=4) for _ in range(2))
        c = gtsrb_lt(root, imbalance_ratio=4, seed=1)
        assert torch.equal(a.train.indices, b.train.indices)
        assert torch.equal(a.test.indices, b.test.indices)
        assert not torch.equal(a.train.indices, c.train.indices)


@pytest.mark.parametrize(
    "test_csv", ["GT-final_test.csv", "GTSRB/Final_Test/Images/GT-final_test.csv"]
)
def test_gtsrb_lt_reads_the_official_layout_as_torchvision_s(gtsrb_root, tmp_path, test_csv):
    official = write_gtsrb(tmp_path, GTSRB_TRAIN, GTSRB_TEST, official=True, test_csv=test_csv)
    csv = official / test_csv  # as saved on Windows: a byte-order mark and CRLF line ends
    csv.write_text("\ufeff" + csv.read_text().replace("\n", "\r\n"), encoding="utf-8")
    a = gtsrb_lt(official, imbalance_ratio=4, size=16, val_per_class=1)
    b = gtsrb_lt(gtsrb_root, imbalance_ratio=4, size=16, val_per_class=1)
    assert a.class_counts.tolist() == [4, 11, 2, 6] == b.class_counts.tolist()
    for split in ("train", "val", "test"):
        ours, theirs = getattr(a, split), getattr(b, split)
        assert torch.equal(ours.indices, theirs.indices)
        assert all(torch.equal(ours[i][0], theirs[i][0]) for i in range(0, len(ours), 3))
    image, label = a.test[0]
    assert image.shape == (3, 16, 16) and label == 0


def test_gtsrb_lt_names_the_line_of_a_bad_official_training_csv(tmp_path):
    root = write_gtsrb(tmp_path, GTSRB_TRAIN, GTSRB_TEST, official=True)
    csv = root / "GTSRB" / "Final_Training" / "Images" / "00001" / "GT-00001.csv"
    rows = csv.read_text().splitlines()
    csv.write_text("\n".join([*rows[:2], rows[2].rsplit(";", 1)[0] + ";2"]))
    with pytest.raises(ValueError, match=r"GT-00001\.csv, line 3: expected 8 fields with a C"):
        gtsrb_lt(root)
    csv.write_text("\n".join([*rows[:2], "gone.ppm;10;12;1;1;9;11;1", *rows[2:]]))
    with pytest.raises(ValueError, match=r"GT-00001\.csv, line 3: expected the image .*gone\.ppm"):
        gtsrb_lt(root)
    csv.unlink()
    with pytest.raises(FileNotFoundError, match=r"GT-00001\.csv: expected the GTSRB annotation"):
        gtsrb_lt(root)


def test_missing_layouts_say_what_is_expected(tmp_path):
    with pytest.raises(
        FileNotFoundError,
        match=r"neither.*GTSRB/Final_Training/Images/000NN/\*\.ppm with GT-000NN\.csv.*"
        r"GT-final_test\.csv.*gtsrb/GTSRB/Training/000NN/\*\.ppm.*gtsrb/GT-final_test\.csv",
    ):
        gtsrb_lt(tmp_path)
    (tmp_path / "GTSRB" / "Final_Training" / "Images").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"found the training images of the official"):
        gtsrb_lt(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"wnids\.txt"):
        tinyimagenet_lt(tmp_path)
    (tmp_path / "wnids.txt").write_text("n0001\n")
    with pytest.raises(FileNotFoundError, match=r"train/n0001/images"):
        tinyimagenet_lt(tmp_path)


def test_malformed_gtsrb_test_csv_names_the_line(tmp_path):
    csv = write_gtsrb(tmp_path, GTSRB_TRAIN, GTSRB_TEST) / "gtsrb" / "GT-final_test.csv"
    rows = csv.read_text().splitlines()
    csv.write_text("\n".join([*rows, "00000.ppm;14;11;1;1;13;10;7"]))
    with pytest.raises(ValueError, match=rf"GT-final_test\.csv, line {len(rows) + 1}.*ClassId"):
        gtsrb_lt(tmp_path)
    csv.write_text("\n".join([*rows, "absent.ppm;14;11;1;1;13;10;0"]))
    with pytest.raises(ValueError, match=r"absent\.ppm, found no such file"):
        gtsrb_lt(tmp_path)
    csv.write_text("\n".join([*rows, "00000.ppm;14;11;1;1;13;10;zero"]))
    with pytest.raises(ValueError, match=rf"csv, line {len(rows) + 1}: expected 8 fields"):
        gtsrb_lt(tmp_path)
    csv.write_text("Filename,ClassId\n00000.ppm,0\n")
    with pytest.raises(ValueError, match=r"line 1: expected a ';'-separated header"):
        gtsrb_lt(tmp_path)
    with pytest.raises(ValueError, match="size: expected a positive int"):
        gtsrb_lt(tmp_path, size=0)


# tinyimagenet_lt


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


def test_image_files_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"targets: expected one label per path \(2\)"):
        ImageFiles([tmp_path / "a.png", tmp_path / "b.png"], [0])
    with pytest.raises(ValueError, match=r"channels: expected 1 \(grayscale\) or 3"):
        ImageFiles([tmp_path / "a.png"], [0], channels=True)
    with pytest.raises(ValueError, match=r"image_size: expected a positive int"):
        ImageFiles([tmp_path / "a.png"], [0], image_size=[3, 4, 5])


# the real CIFAR-10 JPEG folders


@pytest.fixture(scope="module")
def cifar10_folder(tmp_path_factory) -> Path:
    return unpacked_cifar10(tmp_path_factory.mktemp("cifar10"))


def test_image_folder_reads_the_cifar10_jpeg_folders(cifar10_folder, monkeypatch):
    reads = count_reads(monkeypatch)
    splits = image_folder(cifar10_folder)
    assert reads == {"opened": 1, "decoded": 0}  # the first image's header, for its mode
    assert splits.class_counts.tolist() == [5000] * 10 and len(splits.test) == 10_000
    reference = ImageFolder(str(cifar10_folder / "train"))
    assert splits.train.targets.tolist() == reference.targets
    for index in (0, 23_456):
        image, label = splits.train[index]
        assert image.shape == (3, 32, 32) and label == reference.targets[index]
        assert torch.equal(image, pixels(Path(reference.samples[index][0])))
    profiled = image_folder(cifar10_folder, profile="exponential", imbalance_ratio=100, seed=None)
    assert int(profiled.class_counts.sum()) == 12_406
    convention = cifar_lt(cifar10_folder, imbalance_ratio=100)  # the first n_i of each class
    assert torch.equal(profiled.train.indices, convention.train.indices)
