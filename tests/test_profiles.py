"""Class-count profiles reproduce the published long-tailed datasets; summaries describe them."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from invtransfer.data import longtail_counts, summary


def test_published_totals():
    cifar10 = longtail_counts("exponential", 10, 5000, imbalance_ratio=100)
    cifar100 = longtail_counts("exponential", 100, 500, imbalance_ratio=100)
    k49 = longtail_counts("zipf", 49, 4800, alpha=2, min_count=5)
    assert int(cifar10.sum()) == 12_406 and int(cifar100.sum()) == 10_847
    assert int(k49.sum()) == 7_822 and int((k49 == 5).sum()) == 21
    assert cifar10.dtype == torch.int64 and cifar10[0] == 5000 and cifar10[-1] == 50
    assert summary(k49).imbalance_ratio == 960


def test_step_profile():
    counts = longtail_counts("step", 10, 1000, imbalance_ratio=10, minority_fraction=0.3)
    assert counts.tolist() == [1000] * 7 + [100] * 3


def test_reverse_and_permutation():
    forward = longtail_counts("exponential", 10, 500, imbalance_ratio=10)
    assert torch.equal(
        longtail_counts("exponential", 10, 500, imbalance_ratio=10, reverse=True), forward.flip(0)
    )
    shuffled = longtail_counts("exponential", 10, 500, imbalance_ratio=10, permutation_seed=3)
    assert sorted(shuffled.tolist()) == sorted(forward.tolist()) and not torch.equal(
        shuffled, forward
    )
    again = longtail_counts("exponential", 10, 500, imbalance_ratio=10, permutation_seed=3)
    assert torch.equal(shuffled, again)


@given(
    classes=st.integers(1, 200),
    max_count=st.integers(1, 10_000),
    ratio=st.floats(1, 1000),
    profile=st.sampled_from(["exponential", "step"]),
)
def test_counts_are_positive_non_increasing_and_bounded(classes, max_count, ratio, profile):
    counts = longtail_counts(profile, classes, max_count, imbalance_ratio=ratio)
    assert len(counts) == classes and int(counts.min()) >= 1 and int(counts[0]) == max_count
    assert bool((counts[1:] <= counts[:-1]).all())


@given(classes=st.integers(1, 100), alpha=st.floats(0.1, 3), floor=st.integers(1, 50))
def test_zipf_respects_its_floor(classes, alpha, floor):
    counts = longtail_counts("zipf", classes, 1000, alpha=alpha, min_count=floor)
    assert int(counts.min()) >= min(floor, 1000) and bool((counts[1:] <= counts[:-1]).all())


def test_summary_of_a_balanced_set():
    s = summary(torch.full((5,), 50))
    assert s.gini == pytest.approx(0.0) and s.imbalance_ratio == 1 and s.medium == 5
    assert "5 classes, 250 examples" in str(s)


def test_summary_gini_of_one_dominant_class():
    assert summary(torch.tensor([10_000, 1, 1, 1])).gini == pytest.approx(0.75, abs=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"profile": "linear", "imbalance_ratio": 10}, "profile: expected one of"),
        (
            {"profile": "exponential", "imbalance_ratio": 0.01},
            r"received 0.01 .*imb_factor.*use 100",
        ),
        ({"profile": "exponential"}, "imbalance_ratio: the 'exponential' profile needs one"),
        ({"profile": "zipf", "alpha": 0}, "alpha: the 'zipf' profile needs alpha > 0"),
        ({"profile": "zipf", "alpha": 1, "imbalance_ratio": 5}, "sets it through alpha"),
        ({"profile": "exponential", "imbalance_ratio": 5, "alpha": 1}, "alpha: only the 'zipf'"),
        ({"profile": "step", "imbalance_ratio": 5, "minority_fraction": 1.0}, "minority_fraction"),
        ({"profile": "zipf", "alpha": 1, "min_count": 0}, "min_count: expected an int >= 1"),
    ],
)
def test_bad_profile_arguments(kwargs, message):
    profile = kwargs.pop("profile")
    with pytest.raises(ValueError, match=message):
        longtail_counts(profile, 10, 100, **kwargs)


def test_bad_counts_for_summary():
    with pytest.raises(ValueError, match=r"at least 1 example, received \[0\] for classes \[1\]"):
        summary(torch.tensor([5, 0, 3]))
    with pytest.raises(TypeError, match="integer counts"):
        summary(torch.tensor([5.0, 3.0]))


def test_the_gini_coefficient_is_the_pairwise_formula_without_a_classes_by_classes_matrix():
    from invtransfer.data.profiles import summary

    counts = torch.randint(5, 5000, (700,), generator=torch.Generator().manual_seed(0))
    values = counts.double()
    pairwise = (values[:, None] - values[None, :]).abs().sum()
    expected = float(pairwise / (2 * len(values) ** 2 * values.mean()))
    assert summary(counts).gini == pytest.approx(expected, rel=1e-12)
    many = torch.randint(5, 5000, (200_000,), generator=torch.Generator().manual_seed(1))
    assert 0 < summary(many).gini < 1  # 200,000 classes: a pairwise matrix would need 320 GB
