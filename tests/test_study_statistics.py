"""The study statistics pinned against scipy on random data: Spearman, the log-size slope, the
bootstrap interval at its stated level, Student's t quantiles, and the mean and paired
intervals. Swapping Spearman for Pearson, or a 95% interval for a 50% one, fails here."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from invtransfer.metrics import (
    bootstrap_interval,
    log_slope,
    mean_interval,
    paired_difference,
    spearman,
    t_quantile,
)

stats = pytest.importorskip("scipy.stats", reason="the reference statistics need scipy")


def _random(seed: int, n: int) -> np.random.Generator:
    return np.random.default_rng([seed, n])


@given(st.integers(0, 10_000), st.integers(3, 60))
@settings(max_examples=60, deadline=None)
def test_spearman_is_scipys_rank_correlation_with_ties(seed, n):
    rng = _random(seed, n)
    sizes = rng.choice([5, 5, 5, 12, 40, 300, 4800], size=n).astype(float)  # tied sizes
    values = rng.random(n) + 0.001 * sizes
    if len(set(sizes)) < 2 or len(set(values)) < 2:
        return
    expected = stats.spearmanr(sizes, values).statistic
    assert spearman(torch.tensor(sizes), torch.tensor(values)) == pytest.approx(expected, abs=1e-12)


def test_spearman_is_not_pearson():
    x = torch.tensor([1.0, 2.0, 3.0, 4.0, 100.0])
    y = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    assert spearman(x, y) == pytest.approx(1.0)
    assert stats.pearsonr(x.numpy(), y.numpy()).statistic < 0.8


@given(st.integers(0, 10_000), st.integers(3, 60))
@settings(max_examples=60, deadline=None)
def test_log_slope_is_the_least_squares_slope_on_log_sizes(seed, n):
    rng = _random(seed, n)
    sizes = rng.integers(5, 5000, size=n).astype(float)
    values = rng.normal(size=n) - 0.1 * np.log(sizes)
    if len(set(sizes)) < 2:
        return
    expected = stats.linregress(np.log(sizes), values).slope
    assert log_slope(torch.tensor(sizes), torch.tensor(values)) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 9, 10, 29, 30, 99, 1000])
@pytest.mark.parametrize("probability", [0.005, 0.025, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975, 0.999])
def test_t_quantile_is_scipys(df, probability):
    assert t_quantile(probability, df) == pytest.approx(stats.t.ppf(probability, df), abs=1e-9)


@pytest.mark.parametrize("confidence", [0.5, 0.9, 0.95, 0.99])
@pytest.mark.parametrize("n", [2, 3, 5, 30])
def test_mean_interval_is_the_student_t_interval(confidence, n):
    values = _random(7, n).normal(0.4, 0.1, size=n)
    interval = mean_interval(values, confidence)
    low, high = stats.t.interval(confidence, n - 1, loc=values.mean(), scale=stats.sem(values))
    assert (interval.mean, interval.low, interval.high, interval.n) == pytest.approx(
        (values.mean(), low, high, n), abs=1e-12
    )


@pytest.mark.parametrize("confidence", [0.5, 0.95])
@given(seed=st.integers(0, 10_000), n=st.integers(2, 40))
@settings(max_examples=40, deadline=None)
def test_paired_difference_is_scipys_paired_t_interval(confidence, seed, n):
    rng = _random(seed, n)
    before = rng.normal(0.5, 0.1, size=n)
    after = before + rng.normal(-0.02, 0.05, size=n)
    difference = paired_difference(before, after, confidence)
    expected = stats.ttest_rel(after, before).confidence_interval(confidence)
    assert difference.mean == pytest.approx(float(np.mean(after - before)), abs=1e-12)
    assert (difference.low, difference.high) == pytest.approx(
        (expected.low, expected.high), abs=1e-9
    )


def test_paired_difference_leaves_out_pairs_with_nan_and_says_n():
    difference = paired_difference([0.5, math.nan, 0.4], [0.4, 0.3, 0.35])
    assert difference.n == 2
    assert difference.mean == pytest.approx(-0.075)
    single = paired_difference([0.5], [0.4])
    assert single.n == 1 and math.isnan(single.low) and single.finding() == "n = 1: no interval"
    assert str(single) == "-0.100 (n = 1)"


def test_paired_difference_findings_follow_the_interval():
    lower = paired_difference([0.5, 0.6, 0.55, 0.52], [0.4, 0.5, 0.44, 0.43])
    assert lower.high < 0 and lower.finding() == "lower, CI excludes 0"
    higher = paired_difference([0.4, 0.5, 0.44, 0.43], [0.5, 0.6, 0.55, 0.52])
    assert higher.low > 0 and higher.finding() == "higher, CI excludes 0"
    mixed = paired_difference([0.5, 0.4, 0.6], [0.45, 0.5, 0.58])
    assert mixed.low < 0 < mixed.high and mixed.finding() == "no detectable difference"


def test_paired_difference_refuses_unmatched_lengths():
    with pytest.raises(ValueError, match="after: expected as many values as before"):
        paired_difference([0.1, 0.2], [0.1])


@pytest.mark.parametrize("confidence", [0.5, 0.95])
def test_bootstrap_interval_matches_scipys_percentile_bootstrap_at_its_level(confidence):
    values = _random(3, 200).exponential(size=200)
    low, high = bootstrap_interval(torch.tensor(values), seed=0, confidence=confidence,
                                   resamples=20_000)  # fmt: skip
    reference = stats.bootstrap(
        (values,), np.mean, confidence_level=confidence, n_resamples=20_000,
        method="percentile", random_state=np.random.default_rng(0),
    ).confidence_interval  # fmt: skip
    width = reference.high - reference.low
    assert abs(low - reference.low) < 0.03 * width  # Monte Carlo error of two bootstraps
    assert abs(high - reference.high) < 0.03 * width


def test_t_quantile_refuses_bad_arguments():
    with pytest.raises(ValueError, match="df: expected an int >= 1, received 0"):
        t_quantile(0.9, 0)
    with pytest.raises(ValueError, match=r"probability: expected a value in \(0, 1\)"):
        t_quantile(1.0, 3)


@pytest.mark.parametrize("confidence", [0.5, 0.95])
def test_pooled_spearman_resamples_whole_runs_at_its_level(confidence):
    from invtransfer._seeding import generator_for
    from invtransfer.metrics import pooled_spearman

    rng = _random(11, 5)
    sizes = [torch.tensor(rng.permutation([4800, 1200, 533, 300, 192, 133, 97, 75, 59, 48]))
             for _ in range(5)]  # fmt: skip
    values = [torch.tensor(rng.random(10)) - 0.02 * s.double().log() for s in sizes]
    pooled = pooled_spearman(sizes, values, seed=3, confidence=confidence, resamples=400)
    assert pooled.n == 5
    assert pooled.mean == pytest.approx(
        stats.spearmanr(torch.cat(sizes), torch.cat(values)).statistic, abs=1e-12
    )
    draws = torch.randint(5, (400, 5), generator=generator_for(3)).tolist()
    resampled = [
        stats.spearmanr(np.concatenate([sizes[i] for i in d]),
                        np.concatenate([values[i] for i in d])).statistic
        for d in draws
    ]  # fmt: skip
    tail = (1 - confidence) / 2
    assert (pooled.low, pooled.high) == pytest.approx(
        tuple(np.percentile(resampled, [100 * tail, 100 * (1 - tail)])), abs=1e-12
    )


def test_pooled_spearman_of_one_run_has_no_interval():
    from invtransfer.metrics import pooled_spearman

    one = pooled_spearman([torch.tensor([500, 50, 5])], [torch.tensor([0.1, 0.3, 0.2])])
    assert one.n == 1 and one.mean == pytest.approx(-0.5) and math.isnan(one.low)


@given(st.integers(0, 10_000), st.integers(3, 49))
@settings(max_examples=40, deadline=None)
def test_size_trend_summarises_against_scipy(seed, n):
    from invtransfer.metrics import size_trend

    rng = _random(seed, n)
    sizes = rng.permutation(np.maximum(5, 4800 // np.arange(1, n + 1) ** 2)).astype(float)
    values = rng.random(n)
    trend = size_trend(torch.tensor(sizes), torch.tensor(values))
    order = np.argsort(sizes, kind="stable")
    third = max(n // 3, 1)
    tail, head = values[order[:third]].mean(), values[order[-third:]].mean()
    assert trend["spearman"] == pytest.approx(stats.spearmanr(sizes, values).statistic, abs=1e-12)
    assert trend["log_size_slope"] == pytest.approx(
        stats.linregress(np.log(sizes), values).slope, rel=1e-9, abs=1e-12
    )
    assert (trend["tail_mean"], trend["head_mean"]) == pytest.approx((tail, head), abs=1e-12)
    assert trend["tail_over_head"] == pytest.approx(tail / head, rel=1e-12)
