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


class Pairs(Dataset):
    """A dataset of ``(image, label)`` pairs with nothing that gives its labels away."""

    def __init__(self, labels: list[int]):
        self.examples = [(torch.zeros(1), label) for label in labels]

    def __len__(self):
        return len(self.examples)

    def __getitem__(self, index):
        return self.examples[index]


def test_iteration_only_when_allowed():
    plain = Pairs([1, 0, 1])
    with pytest.raises(TypeError, match="dataset: expected a dataset with `targets`") as raised:
        resolve_labels(plain)
    assert "received Pairs. Set `dataset.targets`" in str(raised.value)
    with pytest.warns(UserWarning, match="reading every example"):
        assert resolve_labels(plain, allow_iteration=True).tolist() == [1, 0, 1]


def test_a_tensor_dataset_has_its_labels_last():
    images = torch.rand(4, 1, 8, 8)
    for dtype in (torch.int64, torch.int32, torch.uint8):
        data = TensorDataset(images, torch.tensor([3, 0, 2, 0], dtype=dtype))
        resolved = resolve_labels(data)
        assert resolved.tolist() == [3, 0, 2, 0] and resolved.dtype == torch.int64
    data = TensorDataset(images, torch.tensor([3, 0, 2, 0]))
    assert resolve_labels(Subset(data, [2, 1])).tolist() == [2, 0]
    data.targets = [1, 1, 1, 1]  # an attribute wins over the tensor
    assert resolve_labels(data).tolist() == [1, 1, 1, 1]


@pytest.mark.parametrize(
    ("last", "error", "received"),
    [
        (torch.rand(4, 1, 8, 8), TypeError, "dtype torch.float32 and shape (4, 1, 8, 8)"),
        (torch.tensor([0.0, 1.0, 0.0, 1.0]), TypeError, "dtype torch.float32 and shape (4,)"),
        (torch.tensor([True, False, True, True]), TypeError, "dtype torch.bool and shape (4,)"),
        (torch.zeros(4, 2, dtype=torch.long), ValueError, "dtype torch.int64 and shape (4, 2)"),
    ],
)
def test_a_tensor_dataset_without_labels_last_is_named(last, error, received):
    data = TensorDataset(torch.rand(4, 1, 8, 8), last)
    assert_names_the_tensor(data, error, f"a last tensor of {received}")


@pytest.mark.parametrize(
    ("only", "error", "received"),
    [
        (torch.arange(4), ValueError, "dtype torch.int64 and shape (4,)"),
        (torch.rand(4, 1, 8, 8), TypeError, "dtype torch.float32 and shape (4, 1, 8, 8)"),
    ],
)
def test_a_tensor_dataset_of_one_tensor_has_no_labels(only, error, received):
    assert_names_the_tensor(TensorDataset(only), error, f"a single tensor of {received}")


def assert_names_the_tensor(data: TensorDataset, error: type, received: str) -> None:
    with pytest.raises(error) as raised:
        resolve_labels(data)
    message = str(raised.value)
    assert message.startswith("dataset: expected a TensorDataset(inputs, ..., labels) whose last")
    assert "1-D integer tensor with one label per example" in message
    assert f"received {received}. Set `dataset.targets`" in message
    assert "pass `labels=` where the function takes it" in message


def test_a_tensor_dataset_with_labels_elsewhere_is_read_when_allowed():
    data = TensorDataset(torch.rand(3, 1, 4, 4), torch.tensor([2, 0, 1]), torch.rand(3))
    with pytest.raises(TypeError, match=r"dtype torch.float32 and shape \(3,\)"):
        resolve_labels(data)
    with pytest.warns(UserWarning, match="reading every example"):
        assert resolve_labels(data, allow_iteration=True).tolist() == [2, 0, 1]
    assert resolve_labels(data, labels=[0, 0, 1]).tolist() == [0, 0, 1]


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
