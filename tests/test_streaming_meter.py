"""InvarianceMeter: batches add up, values match the per-pair measures, ranks sum up."""

from __future__ import annotations

import itertools
import math
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from hypothesis import given
from hypothesis import strategies as st

from invtransfer.metrics.measures import consistency, divergence, ekld
from invtransfer.metrics.streaming import STATISTICS, InvarianceMeter

NUM_CLASSES = 5
MEANS = (*STATISTICS, *(f"overall_{name}" for name in STATISTICS))


def pairs(n: int = 60, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Clean and transformed logits, and targets that leave the last class without pairs."""
    generator = torch.Generator().manual_seed(seed)
    clean = 3 * torch.randn(n, NUM_CLASSES, generator=generator)
    transformed = clean + torch.randn(n, NUM_CLASSES, generator=generator)
    targets = torch.randint(0, NUM_CLASSES - 1, (n,), generator=generator)
    return clean, transformed, targets


def measured(*batches: tuple[torch.Tensor, ...], kind: str = "kl") -> dict[str, torch.Tensor]:
    meter = InvarianceMeter(NUM_CLASSES, divergence=kind)
    for batch in batches:
        meter.update(*batch)
    return meter.compute()


def assert_same(result: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert set(result) == set(expected)
    for name in MEANS:
        torch.testing.assert_close(result[name], expected[name], equal_nan=True)
    assert torch.equal(result["count"], expected["count"])
    assert torch.equal(result["overall_count"], expected["overall_count"])


@pytest.mark.parametrize("kind", ["kl", "symmetric_kl", "js"])
def test_matches_the_per_pair_measures_class_by_class(kind):
    clean, transformed, targets = pairs()
    result = measured((clean, transformed, targets), kind=kind)
    per_pair = {
        "divergence": (ekld if kind == "kl" else partial(divergence, kind=kind))(
            clean, transformed
        ),
        "consistency": consistency(clean, transformed),
        "accuracy": (clean.argmax(1) == targets).float(),
        "confidence": clean.softmax(1).amax(1),
    }
    for name, values in per_pair.items():
        assert result[name].dtype == torch.float64 and result[name].shape == (NUM_CLASSES,)
        for c in range(NUM_CLASSES - 1):
            expected = values[targets == c].double().mean()
            torch.testing.assert_close(result[name][c], expected, rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(
            result[f"overall_{name}"], values.double().mean(), rtol=1e-6, atol=1e-7
        )
    assert result["count"].tolist() == torch.bincount(targets, minlength=NUM_CLASSES).tolist()
    assert result["count"].dtype == torch.int64 and int(result["overall_count"]) == len(targets)


def test_classes_without_pairs_are_nan():
    result = measured(pairs())
    for name in STATISTICS:
        assert math.isnan(result[name][-1]) and not result[name][:-1].isnan().any()
    assert result["count"][-1] == 0
    empty = InvarianceMeter(3).compute()
    assert all(empty[name].isnan().all() for name in MEANS)
    assert int(empty["overall_count"]) == 0


@given(splits=st.lists(st.integers(0, 60), max_size=6))
def test_batches_add_up_to_one_update(splits):
    clean, transformed, targets = pairs()
    bounds = [0, *sorted(splits), len(targets)]
    batches = [
        (clean[start:stop], transformed[start:stop], targets[start:stop])
        for start, stop in itertools.pairwise(bounds)
    ]
    assert_same(measured(*batches), measured((clean, transformed, targets)))


def test_repeated_clean_images_count_once_per_pair():
    clean = torch.tensor([[4.0, 0.0], [0.0, 4.0]])
    meter = InvarianceMeter(2)
    meter.update(clean, clean, torch.tensor([0, 0]))  # image 0 right, image 1 wrong
    meter.update(clean[:1], clean[:1].flip(1), torch.tensor([0]))  # image 0 again
    result = meter.compute()
    assert result["count"].tolist() == [3, 0]
    assert result["accuracy"][0].item() == pytest.approx(2 / 3)
    assert result["consistency"][0].item() == pytest.approx(2 / 3)


def test_reset_forgets_everything():
    clean, transformed, targets = pairs()
    meter = InvarianceMeter(NUM_CLASSES)
    meter.update(clean, transformed, targets)
    meter.reset()
    assert int(meter.compute()["overall_count"]) == 0 and not meter.sums.any()
    meter.update(clean[:10], transformed[:10], targets[:10])
    assert_same(meter.compute(), measured((clean[:10], transformed[:10], targets[:10])))


def test_compute_leaves_the_state_alone_and_keeps_no_graph():
    clean, transformed, targets = pairs()
    meter = InvarianceMeter(NUM_CLASSES)
    meter.update(clean.requires_grad_(), transformed, targets.tolist())
    before = meter.sums.clone()
    meter.compute()
    assert torch.equal(meter.sums, before) and not meter.sums.requires_grad


def test_state_stays_float64_and_travels_in_the_state_dict():
    clean, transformed, targets = pairs()
    meter = InvarianceMeter(NUM_CLASSES)
    meter.update(clean, transformed, targets)
    before = meter.sums.clone()
    meter.half().to("cpu", torch.bfloat16)
    assert meter.sums.dtype == torch.float64 and torch.equal(meter.sums, before)
    restored = InvarianceMeter(NUM_CLASSES)
    restored.load_state_dict(meter.state_dict())
    assert_same(restored.compute(), meter.compute())
    assert "num_classes=5, divergence='kl'" in repr(meter)


def test_float64_logits_are_measured_in_float64():
    clean, transformed, targets = pairs()
    result = measured((clean.double(), transformed.double(), targets))
    expected = ekld(clean.double(), transformed.double())[targets == 0].mean()
    torch.testing.assert_close(result["divergence"][0], expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    ("batch", "error", "message"),
    [
        ((torch.zeros(3, 4), torch.zeros(3, 4), [0, 1, 2]), ValueError, "clean_logits"),
        ((torch.zeros(3, 5), torch.zeros(2, 5), [0, 1, 2]), ValueError, "transformed_logits"),
        ((torch.zeros(3, 5), torch.zeros(3, 5, 1), [0, 1, 2]), ValueError, "transformed_logits"),
        ((torch.zeros(5), torch.zeros(5), [0]), ValueError, "clean_logits"),
        (([[0.0] * 5], torch.zeros(1, 5), [0]), TypeError, "clean_logits"),
        ((torch.zeros(3, 5), torch.zeros(3, 5), [0, 1]), ValueError, "one label per pair"),
        ((torch.zeros(2, 5), torch.zeros(2, 5), [0, 5]), ValueError, "[0, 5)"),
        ((torch.zeros(2, 5), torch.zeros(2, 5), [-1, 0]), ValueError, "from -1"),
        ((torch.zeros(2, 5), torch.zeros(2, 5), [0.0, 1.0]), TypeError, "targets"),
        ((torch.zeros(2, 5), torch.zeros(2, 5), [[0, 1]]), ValueError, "targets"),
    ],
)
def test_bad_batches_are_named(batch, error, message):
    meter = InvarianceMeter(NUM_CLASSES)
    with pytest.raises(error) as raised:
        meter.update(*batch)
    assert message in str(raised.value) and not meter.sums.any()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [((0,), "num_classes"), ((2.0,), "num_classes"), ((True,), "num_classes"), ((3, "l2"), "kl")],
)
def test_bad_construction_is_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        InvarianceMeter(*arguments)


def _rank_worker(index: int, first_rank: int, world_size: int, folder: str) -> None:
    """Rank ``first_rank + index``: update with its half of the pairs, save what it computes."""
    rank = first_rank + index
    dist.init_process_group(
        "gloo",
        init_method=f"file://{folder}/init",
        rank=rank,
        world_size=world_size,
        timeout=timedelta(seconds=60),
    )
    try:
        clean, transformed, targets = pairs()
        mine = slice(rank, None, world_size)
        meter = InvarianceMeter(NUM_CLASSES)
        meter.update(clean[mine], transformed[mine], targets[mine])
        synced = meter.compute()
        local = meter.compute(sync=False)
        torch.save({"synced": synced, "local": local}, Path(folder) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_gloo_ranks_sum_to_the_single_process_result(tmp_path):
    # Rank 1 is a spawned process; rank 0 runs in this one, which saves booting a second
    # interpreter (most of this test's time) while keeping two real processes.
    folder = str(tmp_path)
    child = mp.start_processes(
        _rank_worker, args=(1, 2, folder), nprocs=1, join=False, start_method="spawn"
    )
    try:
        _rank_worker(0, 0, 2, folder)
    finally:
        while not child.join():
            pass
    assert not dist.is_initialized()
    clean, transformed, targets = pairs()
    expected = measured((clean, transformed, targets))
    for rank in range(2):
        saved = torch.load(tmp_path / f"rank{rank}.pt")
        assert_same(saved["synced"], expected)
        mine = slice(rank, None, 2)
        assert_same(saved["local"], measured((clean[mine], transformed[mine], targets[mine])))
