"""resolve_labels finds labels without decoding images, in the documented order."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import ConcatDataset, Dataset, Subset, TensorDataset

from invtransfer.labels import check_class_counts, class_counts, resolve_labels


class Undecodable(Dataset):
    """A dataset that fails if any example is read."""

    def __init__(self, n: int, **attributes):
        self.n = n
        self.__dict__.update(attributes)

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        raise AssertionError("an image was decoded")


def test_resolution_order_and_recursion():
    with_targets = Undecodable(3, targets=[2, 0, 1], labels=[9, 9, 9])
    assert resolve_labels(with_targets).tolist() == [2, 0, 1]
    assert resolve_labels(Undecodable(2, labels=torch.tensor([1, 1]))).tolist() == [1, 1]
    folder = Undecodable(2, samples=[("a.png", 3), ("b.png", 4)])
    assert resolve_labels(folder).tolist() == [3, 4]
    nested = ConcatDataset([Subset(with_targets, [2, 0]), folder])
    assert resolve_labels(nested).tolist() == [1, 2, 3, 4]
    assert resolve_labels(with_targets, labels=[0, 0, 0]).tolist() == [0, 0, 0]


def test_iteration_only_when_allowed():
    plain = TensorDataset(torch.zeros(3, 1), torch.tensor([1, 0, 1]))
    with pytest.raises(TypeError, match="allow_iteration=True"):
        resolve_labels(plain)
    with pytest.warns(UserWarning, match="reading every example"):
        assert resolve_labels(plain, allow_iteration=True).tolist() == [1, 0, 1]


@pytest.mark.parametrize(
    ("labels", "error", "message"),
    [
        ([0.5, 1.0], TypeError, "integer class labels, received dtype torch.float"),
        ([1, -1], ValueError, "labels >= 0, received -1"),
        ([[1, 2]], ValueError, "1-D sequence"),
        ([1, 2], ValueError, r"one label per example \(3\), received 2"),
    ],
)
def test_bad_labels(labels, error, message):
    with pytest.raises(error, match=message):
        resolve_labels(Undecodable(3), labels=labels)


def test_class_counts():
    assert class_counts(torch.tensor([0, 2, 2])).tolist() == [1, 0, 2]
    with pytest.raises(ValueError, match=r"labels in \[0, 2\), received label 2"):
        class_counts(torch.tensor([0, 2]), num_classes=2)
    with pytest.raises(ValueError, match="at least 1 example"):
        check_class_counts([3, 0])
