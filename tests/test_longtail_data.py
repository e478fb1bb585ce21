"""make_longtail, NuisanceDataset, readers and the grayscale recipes on files the tests write."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch
from data_files import write_idx, write_mnist_layout
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import TensorDataset

from invtransfer.data import (
    NuisanceDataset,
    TensorImages,
    k49_lt,
    kmnist_lt,
    make_longtail,
    mnist_lt,
    read_idx,
    read_npz,
)
from invtransfer.transforms import BackgroundIntensity, Rotation


def labelled(labels: list[int]) -> TensorDataset:
    data = TensorDataset(torch.arange(len(labels)))
    data.targets = torch.tensor(labels)
    return data


@given(
    available=st.lists(st.integers(1, 30), min_size=1, max_size=6),
    seed=st.integers(0, 1000),
    data=st.data(),
)
def test_make_longtail_keeps_the_asked_counts_of_each_class(available, seed, data):
    labels = [c for c, n in enumerate(available) for _ in range(n)]
    counts = [data.draw(st.integers(1, n)) for n in available]
    subset = make_longtail(labelled(labels), counts, seed=seed)
    assert subset.class_counts.tolist() == counts and len(subset) == sum(counts)
    assert len(set(subset.indices.tolist())) == len(subset)  # no repeats without reuse
    assert torch.equal(torch.tensor(labels)[subset.indices], subset.targets)
    again = make_longtail(labelled(labels), counts, seed=seed)
    assert torch.equal(again.indices, subset.indices)


def test_seed_none_keeps_the_first_examples_of_each_class():
    subset = make_longtail(labelled([0, 1, 0, 1, 0, 1]), [2, 1], seed=None)
    assert subset.indices.tolist() == [0, 2, 1]


def test_reuse_cycles_through_all_base_examples():
    subset = make_longtail(labelled([0, 0, 0, 1]), [7, 2], seed=1, reuse=True)
    class0 = subset.indices[subset.targets == 0].tolist()
    assert sorted(set(class0)) == [0, 1, 2] and len(class0) == 7
    assert all(class0.count(i) in (2, 3) for i in (0, 1, 2))


def test_make_longtail_errors():
    data = labelled([0, 0, 1])
    with pytest.raises(ValueError, match=r"classes \[1\] ask for \[2\] examples but have \[1\]"):
        make_longtail(data, [1, 2])
    with pytest.raises(ValueError, match="have none at all"):
        make_longtail(data, [1, 1, 1], reuse=True)
    with pytest.raises(ValueError, match=r"one count per class \(2 classes"):
        make_longtail(data, [1])
    with pytest.raises(ValueError, match="at least 1 example"):
        make_longtail(data, [1, 0])


def test_nuisance_dataset_fixes_one_transformation_per_index():
    base = TensorImages(
        torch.randint(0, 256, (2500, 1, 8, 8), dtype=torch.uint8),
        torch.zeros(2500, dtype=torch.long),
    )
    rotated = NuisanceDataset(base, Rotation(), seed=3)
    assert torch.equal(rotated[2100][0], rotated[2100][0])
    assert torch.equal(rotated.clean(7)[0], base[7][0])
    assert torch.equal(rotated[7][0], Rotation().apply(base[7][0], rotated.params[7]))
    shorter = NuisanceDataset(torch.utils.data.Subset(base, range(1500)), Rotation(), seed=3)
    assert torch.equal(shorter.params.angle, rotated.params.angle[:1500])  # index, not size
    assert not torch.equal(
        NuisanceDataset(base, Rotation(), seed=4).params.angle, rotated.params.angle
    )
    assert rotated.targets.shape == (2500,)


def test_read_idx_plain_and_gzipped(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    for compress in (False, True):
        path = write_idx(
            tmp_path / f"a{compress}.gz" if compress else tmp_path / "a", array, compress
        )
        assert read_idx(path).tolist() == array.tolist()


def test_read_idx_rejects_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_idx(tmp_path / "missing")
    (tmp_path / "magic").write_bytes(b"\x12\x34\x08\x01\x00\x00\x00\x01\x00")
    with pytest.raises(ValueError, match="magic number"):
        read_idx(tmp_path / "magic")
    truncated = write_idx(tmp_path / "short", np.zeros((4, 5), dtype=np.uint8))
    truncated.write_bytes(truncated.read_bytes()[:-3])
    with pytest.raises(ValueError, match=r"expected 32 bytes .* received 29 \(truncated"):
        read_idx(truncated)
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"xx")[:-4])
    with pytest.raises(ValueError, match="gzip"):
        read_idx(tmp_path / "bad.gz")


def test_read_npz_refuses_pickles_and_reports_keys(tmp_path):
    np.savez(tmp_path / "objects.npz", np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"not a readable \.npz"):
        read_npz(tmp_path / "objects.npz")
    np.savez(tmp_path / "other.npz", images=np.zeros(2))
    with pytest.raises(ValueError, match=r"expected an array named 'arr_0', found \['images'\]"):
        read_npz(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"not a readable \.npz"):
        read_npz(tmp_path / "junk.npz")


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_and_kmnist_layouts(tmp_path, gz):
    write_mnist_layout(tmp_path, gz=gz)
    splits = mnist_lt(tmp_path, "bg", max_count=30, min_count=2, val_per_class=4)
    assert splits.class_counts.tolist() == [30, 7, 3, 2]
    assert len(splits.train) == 42 and len(splits.val) == 16 and len(splits.test) == 160
    image, label = splits.train[0]
    assert image.dtype == torch.uint8 and image.shape == (1, 28, 28) and label == 0
    assert isinstance(splits.family, BackgroundIntensity)
    torchvision_layout = tmp_path / "KMNIST" / "raw"
    torchvision_layout.mkdir(parents=True)
    for file in tmp_path.glob("*ubyte*"):
        file.rename(torchvision_layout / file.name)
    assert kmnist_lt(
        tmp_path, max_count=30, min_count=2, val_per_class=4
    ).class_counts.tolist() == [30, 7, 3, 2]


def test_k49_layout(tmp_path):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        labels = np.repeat(np.arange(5), 20).astype(np.uint8)
        np.savez(
            tmp_path / f"k49-{split}-imgs.npz", rng.integers(0, 256, (100, 28, 28), dtype=np.uint8)
        )
        np.savez(tmp_path / f"k49-{split}-labels.npz", labels)
    splits = k49_lt(tmp_path, "dil", max_count=40, val_per_class=2)
    assert splits.class_counts.tolist() == [40, 10, 5, 5, 5]
    assert len(splits.val) == 10 and len(splits.test) == 100


def test_recipes_say_which_file_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        mnist_lt(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"k49-train-imgs\.npz"):
        k49_lt(tmp_path)
    write_mnist_layout(tmp_path)
    with pytest.raises(ValueError, match="variant: expected one of"):
        mnist_lt(tmp_path, "blur")


def test_k49_files_with_float_labels_are_refused_not_truncated(tmp_path):
    import numpy as np

    from invtransfer.data import k49_lt

    images = np.zeros((8, 28, 28), dtype=np.uint8)
    for split in ("train", "test"):
        np.savez(tmp_path / f"k49-{split}-imgs.npz", arr_0=images)
        np.savez(tmp_path / f"k49-{split}-labels.npz", arr_0=np.full(8, 0.9))
    with pytest.raises(ValueError, match=r"k49-train-labels\.npz"):
        k49_lt(tmp_path, "bg")
