"""Per-class, balanced and shot-group accuracy on small hand-computed cases and bad inputs."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from invtransfer.data import summary
from invtransfer.metrics.accuracy import (
    SHOT_GROUPS,
    ShotAccuracy,
    balanced_accuracy,
    per_class_accuracy,
    shot_accuracy,
    shot_groups,
)

PREDICTIONS = torch.tensor([0, 0, 1, 1, 2, 0, 3, 3, 3])
TARGETS = torch.tensor([0, 0, 0, 1, 1, 1, 3, 3, 3])
"""Class 0: 2/3 correct, class 1: 1/3, class 2: no examples, class 3: 3/3."""


def one_hot_logits(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Logits whose argmax is ``labels``, with noise that does not move it."""
    noise = torch.rand(len(labels), num_classes, generator=torch.Generator().manual_seed(0))
    return noise + 2 * torch.nn.functional.one_hot(labels, num_classes)


def test_per_class_accuracy_by_hand():
    accuracy = per_class_accuracy(PREDICTIONS, TARGETS, num_classes=5)
    assert accuracy.dtype == torch.float64 and accuracy.shape == (5,)
    assert accuracy[[0, 1, 3]].tolist() == pytest.approx([2 / 3, 1 / 3, 1.0])
    assert math.isnan(accuracy[2]) and math.isnan(accuracy[4])


def test_num_classes_defaults_to_the_largest_label():
    assert len(per_class_accuracy(PREDICTIONS, TARGETS)) == 4
    assert len(per_class_accuracy(torch.tensor([5]), torch.tensor([0]))) == 6


def test_logits_and_labels_agree():
    logits = one_hot_logits(PREDICTIONS, 5)
    from_labels = per_class_accuracy(PREDICTIONS, TARGETS, num_classes=5)
    torch.testing.assert_close(per_class_accuracy(logits, TARGETS), from_labels, equal_nan=True)
    assert balanced_accuracy(logits, TARGETS) == balanced_accuracy(PREDICTIONS, TARGETS, 5)
    counts = torch.tensor([300, 50, 50, 5, 1])
    assert shot_accuracy(logits, TARGETS, counts) == shot_accuracy(PREDICTIONS, TARGETS, counts)


@given(labels=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=40))
def test_per_class_accuracy_matches_a_loop(labels):
    predictions, targets = (torch.tensor(column) for column in zip(*labels, strict=True))
    accuracy = per_class_accuracy(predictions, targets, num_classes=6)
    for c in range(6):
        mask = targets == c
        expected = (predictions[mask] == c).double().mean().item() if mask.any() else math.nan
        assert accuracy[c].item() == pytest.approx(expected, nan_ok=True)


def test_balanced_accuracy_skips_classes_without_examples():
    assert balanced_accuracy(PREDICTIONS, TARGETS, num_classes=5) == pytest.approx(2 / 3)
    assert math.isnan(balanced_accuracy(torch.tensor([], dtype=torch.long), [], num_classes=3))
    empty = per_class_accuracy(torch.zeros(0, 3), torch.tensor([], dtype=torch.long))
    assert empty.isnan().all() and empty.shape == (3,)


def test_shot_groups_follow_the_summary_convention():
    counts = torch.tensor([500, 101, 100, 20, 19, 5, 1])
    groups = shot_groups(counts)
    assert groups.tolist() == [0, 0, 1, 1, 2, 2, 2] and SHOT_GROUPS[2] == "few"
    s = summary(counts)
    assert torch.bincount(groups, minlength=3).tolist() == [s.many, s.medium, s.few]
    assert shot_groups(counts, many=20, few=20).tolist() == [0, 0, 0, 1, 2, 2, 2]


def test_shot_accuracy_by_hand():
    counts = torch.tensor([300, 150, 50, 20, 5])  # many: 0, 1; medium: 2, 3; few: 4
    predictions = torch.tensor([0, 1, 1, 2, 0, 3, 3, 4, 0, 0])
    targets = torch.tensor([0, 0, 1, 2, 2, 3, 3, 4, 4, 4])
    result = shot_accuracy(predictions, targets, counts)
    # per class: 1/2, 1, 1/2, 1, 1/3
    assert result.many == pytest.approx(0.75) and result.medium == pytest.approx(0.75)
    assert result.few == pytest.approx(1 / 3)
    assert (result.many_classes, result.medium_classes, result.few_classes) == (2, 2, 1)
    assert result.overall == pytest.approx(6 / 10)
    assert result.balanced == pytest.approx((0.5 + 1 + 0.5 + 1 + 1 / 3) / 5)
    assert (result.many_threshold, result.few_threshold) == (100, 20)


def test_an_empty_group_is_nan_and_reported_as_empty():
    counts = torch.tensor([300, 150, 5])  # no medium class
    result = shot_accuracy(torch.tensor([0, 1, 0]), torch.tensor([0, 1, 2]), counts)
    assert math.isnan(result.medium) and result.medium_classes == 0
    assert (result.many, result.few, result.many_classes, result.few_classes) == (1.0, 0.0, 2, 1)
    unevaluated = shot_accuracy(torch.tensor([0]), torch.tensor([0]), counts)
    assert math.isnan(unevaluated.few) and unevaluated.few_classes == 1  # no few examples
    assert "medium nan (0)" in str(result)


def test_thresholds_move_the_groups():
    counts = torch.tensor([300, 150, 5])
    result = shot_accuracy(torch.tensor([0, 1, 0]), torch.tensor([0, 1, 2]), counts, 200, 10)
    assert (result.many_classes, result.medium_classes, result.few_classes) == (1, 1, 1)
    assert (result.many_threshold, result.few_threshold) == (200, 10)


def test_to_dict_is_flat_and_complete():
    result = shot_accuracy(torch.tensor([0, 1]), torch.tensor([0, 1]), [200, 10])
    fields = result.to_dict()
    assert set(fields) == set(ShotAccuracy.__dataclass_fields__)
    assert fields["many"] == 1.0 and fields["few_classes"] == 1 and fields["few_threshold"] == 20
    with pytest.raises(AttributeError):
        result.many = 0.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: per_class_accuracy(torch.zeros(3), [0, 1, 2]), TypeError, "predictions_or"),
        (lambda: per_class_accuracy(torch.zeros(2, 3, 4), [0, 1]), ValueError, "(N, C)"),
        (lambda: per_class_accuracy([0, 1], [0, 1]), TypeError, "predictions_or_logits"),
        (lambda: per_class_accuracy(torch.zeros(3, 2), [0, 1]), ValueError, "received 2"),
        (lambda: per_class_accuracy(torch.zeros(2, 2), [0, 2]), ValueError, "[0, 2)"),
        (lambda: per_class_accuracy(torch.zeros(2, 2), [0, -1]), ValueError, "from -1"),
        (lambda: per_class_accuracy(torch.zeros(2, 2), [0.0, 1.0]), TypeError, "targets"),
        (lambda: per_class_accuracy(torch.zeros(2, 2), [[0, 1]]), ValueError, "targets"),
        (lambda: per_class_accuracy(torch.zeros(2, 2), [0, 1], 3), ValueError, "num_classes = 3"),
        (lambda: per_class_accuracy(torch.tensor([0, 3]), [0, 1], 3), ValueError, "predictions"),
        (lambda: per_class_accuracy(torch.tensor([0]), [0], 0), ValueError, "num_classes"),
        (lambda: per_class_accuracy(torch.tensor([0]), [0], True), ValueError, "num_classes"),
        (lambda: balanced_accuracy(torch.tensor([], dtype=torch.long), []), ValueError, "num_"),
        (lambda: shot_accuracy(torch.zeros(2, 3), [0, 1], [5, 5]), ValueError, "train_class"),
        (lambda: shot_accuracy(torch.tensor([2]), [2], [5, 5]), ValueError, "[0, 2)"),
        (lambda: shot_accuracy(torch.tensor([0]), [0], [5, 0]), ValueError, "train_class"),
        (lambda: shot_accuracy(torch.tensor([0]), [0], [5.0]), TypeError, "train_class"),
        (lambda: shot_accuracy(torch.tensor([0]), [0], [5], 10, 20), ValueError, "few <= many"),
        (lambda: shot_accuracy(torch.tensor([0]), [0], [5], 10, 0), ValueError, "0 < few"),
        (lambda: shot_groups([5], many="100"), TypeError, "many"),  # type: ignore[arg-type]
    ],
)
def test_bad_inputs_are_named(call, error, message):
    with pytest.raises(error) as raised:
        call()
    assert message in str(raised.value)
