"""`GenerativeAugment` and `LearnedNuisance`: batch augmentation, keys, gating, state,
collate (in worker processes too), the translation bank, files."""

from __future__ import annotations

import copy
import json
import math
import pickle
from pathlib import Path

import pytest
import torch
from conftest import images, seeded
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader, Dataset, TensorDataset

from invtransfer._seeding import derive_seed, generator_for, keyed_uniforms
from invtransfer.generative import GenerativeAugment, MUNITGenerator, TranslationBank, preset
from invtransfer.generative.augment import AugmentCollator, LearnedNuisance
from invtransfer.metrics import invariance_curve
from invtransfer.transforms import Params

SIZE = 8
STYLE_DIM = preset("tiny", image_size=SIZE, channels=1).style_dim
seeds = st.integers(min_value=0, max_value=2**32 - 1)
batch_sizes = st.integers(min_value=1, max_value=6)
fractions = st.floats(min_value=0, max_value=1, allow_nan=False)
dtypes = st.sampled_from([torch.uint8, torch.float32])
"""float64 has its own tests below (``test_float64_*``), so that a failure there is reported
once, plainly, rather than shrunk by every property."""


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny convolutions run fastest on one thread; two threads on a busy machine spin."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_generator(channels: int = 1, size: int = SIZE, seed: int = 0) -> MUNITGenerator:
    """A randomly initialised tiny generator (its translations differ from the input)."""
    return MUNITGenerator(preset("tiny", image_size=size, channels=channels), seed=seed)


def make_augment(**kwargs) -> GenerativeAugment:
    channels = kwargs.pop("channels", 1)
    return GenerativeAugment(make_generator(channels), **kwargs)


def batch(n: int, dtype: torch.dtype = torch.float32, channels: int = 1, seed: int = 0):
    """``n`` images in ``dtype`` (uint8 in 0..255, floats in [0, 1]) and labels 0..n-1."""
    x = images(n, channels, SIZE, seed)
    x = (x * 255).round().to(torch.uint8) if dtype == torch.uint8 else x.to(dtype)
    return x, torch.arange(n)


def expected_count(fraction: float, n: int) -> int:
    """The rows a step key (or no key) proposes: ``fraction * n`` rounded half up."""
    return math.floor(fraction * n + 0.5)


def index_uniforms(seed: int, epoch: int, index: torch.Tensor) -> torch.Tensor:
    """What an index key draws, computed here from `keyed_uniforms` and the documented stream
    ``(seed, 2, epoch)``: per row, column 0 proposes it (below ``fraction``), 1 gates it, 2
    picks its bank entry, and the rest are its style's normal quantiles."""
    return keyed_uniforms(derive_seed(seed, 2, epoch), index, 3 + STYLE_DIM)


def index_proposals(seed: int, epoch: int, index: torch.Tensor, fraction: float) -> torch.Tensor:
    """The rows an index key proposes: those whose own uniform is below ``fraction``."""
    return index_uniforms(seed, epoch, index)[:, 0] < fraction


def index_styles(seed: int, epoch: int, index: torch.Tensor) -> torch.Tensor:
    """The N(0, I) style codes an index key draws: the normal quantiles of its uniforms."""
    return torch.special.ndtri(index_uniforms(seed, epoch, index)[:, 3:]).float()


def assert_same_result(first, second) -> None:
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        assert a.dtype == b.dtype and torch.equal(a, b)


# --- augment(x, y, key) -> (images, labels) ----------------------------------------------


@settings(max_examples=15)
@given(n=batch_sizes, fraction=fractions, dtype=dtypes, seed=seeds, index_key=st.booleans())
def test_batch_contract(n, fraction, dtype, seed, index_key):
    augment = make_augment(fraction=fraction, seed=seed)
    x, y = batch(n, dtype, seed=seed % 1000)
    key = torch.arange(10, 10 + n) if index_key else 3
    original = x.clone()
    out, labels, mask = augment(x, y, key, return_mask=True)
    assert out.shape == x.shape and out.dtype == dtype
    assert mask.shape == (n,) and mask.dtype == torch.bool
    assert labels is y and torch.equal(labels, torch.arange(n))
    assert torch.equal(x, original), "the input batch was modified in place"
    if dtype.is_floating_point:
        assert float(out.min()) >= 0 and float(out.max()) <= 1
    if index_key:
        assert torch.equal(mask, index_proposals(seed, 0, key, fraction))
    else:
        assert int(mask.sum()) == expected_count(fraction, n)
    assert torch.equal(out[~mask], x[~mask])
    for row in mask.nonzero().flatten().tolist():
        assert not torch.equal(out[row], x[row]), f"translated row {row} equals its input"
    pair = augment(x, y, key)
    assert len(pair) == 2 and torch.equal(pair[0], out) and pair[1] is y


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 10])
@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 0.5, 0.75, 1.0])
def test_a_step_key_or_no_key_translates_fraction_n_rows_rounded_half_up(n, fraction):
    augment = make_augment(fraction=fraction)
    x, y = batch(n)
    for key in (0, 1, None):
        assert int(augment(x, y, key, return_mask=True)[2].sum()) == expected_count(fraction, n)


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 0.5, 0.75, 1.0])
def test_an_index_key_proposes_exactly_the_rows_whose_own_uniform_is_below_fraction(fraction):
    augment = make_augment(fraction=fraction, seed=12)
    x, y = batch(10)
    for epoch in (0, 3):
        augment.set_epoch(epoch)
        for index in (
            torch.arange(10),
            torch.arange(10) + 7,
            torch.tensor([4, 90, 4, 0] * 2 + [1, 2]),
        ):
            mask = augment(x, y, index, return_mask=True)[2]
            assert torch.equal(mask, index_proposals(12, epoch, index, fraction)), (epoch, index)


def test_an_index_key_proposes_each_image_with_probability_fraction():
    """The count is binomial, not fixed: over 300 batches of 10 (bank mode, so that the draws
    are what is measured) the share is ``fraction``, and the batches' counts differ."""
    augment = make_augment(fraction=0.3, seed=1)
    n, batches = 10, 300
    augment.build_bank(torch.zeros(n * batches, 1, SIZE, SIZE, dtype=torch.uint8), k=1)
    x, y = torch.zeros(n, 1, SIZE, SIZE, dtype=torch.uint8), torch.zeros(n, dtype=torch.long)
    counts = torch.tensor([
        int(augment(x, y, torch.arange(b * n, (b + 1) * n), return_mask=True)[2].sum())
        for b in range(batches)
    ])  # fmt: skip
    sigma = math.sqrt(0.3 * 0.7 / (n * batches))
    assert abs(float(counts.sum()) / (n * batches) - 0.3) <= 5 * sigma
    assert int(counts.min()) < 3 < int(counts.max()), "every batch drew round(0.3 * 10) rows"


def test_rgb_batches_work():
    augment = make_augment(channels=3, fraction=0.5)
    x, y = batch(4, channels=3)
    out, _, mask = augment(x, y, 0, return_mask=True)
    assert out.shape == x.shape and int(mask.sum()) == 2
    assert torch.equal(out[~mask], x[~mask])


def test_the_augment_freezes_a_copy_and_leaves_the_callers_generator_trainable():
    generator = make_generator()
    augment = GenerativeAugment(generator)
    assert all(p.requires_grad for p in generator.parameters())
    assert not any(p.requires_grad for p in augment.parameters())
    with torch.no_grad():
        generator.decoder.mlp[0].weight.add_(1)  # training the original moves only the original
    assert not torch.equal(generator.decoder.mlp[0].weight, augment.generator.decoder.mlp[0].weight)
    augment.train()  # e.g. the parent module's model.train()
    assert augment.training and not augment.generator.training


def test_labels_come_back_unchanged_with_their_dtype():
    augment = make_augment(fraction=1.0)
    x, _ = batch(3)
    for y in (torch.tensor([2, 0, 1]), torch.tensor([7, 7, 1], dtype=torch.int32)):
        _, labels, mask = augment(x, y.clone(), 0, return_mask=True)
        assert labels.dtype == y.dtype and torch.equal(labels, y)
        assert mask.all()


def test_nothing_is_translated_before_start_epoch():
    augment = make_augment(fraction=0.5, start_epoch=2)
    x, y = batch(6, torch.uint8)
    for epoch in (0, 1):
        augment.set_epoch(epoch)
        assert augment.epoch == epoch and not augment.active
        for key in (0, torch.arange(6), None):
            out, labels, mask = augment(x, y, key, return_mask=True)
            assert not mask.any() and torch.equal(out, x) and torch.equal(labels, y)
    results = []
    for epoch in (2, 3, 10):
        augment.set_epoch(epoch)
        assert augment.active
        out, _, mask = augment(x, y, 0, return_mask=True)
        assert int(mask.sum()) == 3 and not torch.equal(out, x)
        results.append(out)
    assert not torch.equal(results[0], results[1]), "epochs 2 and 3 drew the same"


def test_float64_batches_keep_their_dtype_and_range():
    augment = make_augment(fraction=0.5)
    x, y = batch(4, torch.float64)
    out, labels, mask = augment(x, y, 0, return_mask=True)
    assert out.dtype == torch.float64 and out.shape == x.shape and torch.equal(labels, y)
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    assert int(mask.sum()) == 2 and torch.equal(out[~mask], x[~mask])
    # the float64 result is the float32 one (the generator works in its own dtype)
    torch.testing.assert_close(out.float(), augment(x.float(), y, 0)[0])


# --- keys: determinism and randomness ----------------------------------------------------


def test_a_step_key_draws_from_seed_epoch_and_step_as_the_runner_always_has():
    """The draws of ``key=step``: one generator from ``(seed, 0, epoch, step)``, styles, a
    permutation, then the gate's uniforms (the experiment runner's results rest on it)."""
    augment = make_augment(fraction=0.5, seed=5)
    augment.set_epoch(3)
    x, y = batch(6)
    out, _, mask = augment(x, y, 4, return_mask=True)
    draws = generator_for(5, 0, 3, 4)
    styles = torch.randn(6, augment.config.style_dim, generator=draws)
    order = torch.randperm(6, generator=draws)
    expected_mask = torch.zeros(6, dtype=torch.bool)
    expected_mask[order[:3]] = True
    assert torch.equal(mask, expected_mask)
    assert torch.equal(out, augment.family.apply(x, Params(style=styles, translate=mask)))


@settings(max_examples=10)
@given(seed=seeds, epoch=st.integers(min_value=0, max_value=50))
def test_same_seed_epoch_and_key_give_the_same_outputs(seed, epoch):
    x, y = batch(6)
    first, second = make_augment(seed=seed), make_augment(seed=seed)
    first.set_epoch(epoch)
    second.set_epoch(epoch)
    for key in (0, 1, torch.arange(6), torch.arange(6, 12)):
        assert_same_result(first(x, y, key), second(x, y, key))
    assert not torch.equal(first(x, y, 0)[0], first(x, y, 1)[0]), "steps 0 and 1 drew the same"
    index_a, index_b = first(x, y, torch.arange(6)), first(x, y, torch.arange(6, 12))
    assert not torch.equal(index_a[0], index_b[0]), "two sets of indices drew the same"


def test_a_key_gives_the_same_rows_whatever_was_called_in_between():
    augment = make_augment(fraction=0.5, seed=2)
    x, y = batch(6)
    index = torch.tensor([9, 3, 0, 14, 5, 2])
    expected = [augment(x, y, key, return_mask=True) for key in (7, index)]
    augment(x, y)
    augment(x, y, 8)
    augment.family(x, generator=seeded(0))
    augment.collate([(x[i], y[i], i) for i in range(6)])
    augment.set_epoch(1)
    augment(x, y, index)
    augment.set_epoch(0)
    for key, result in zip((7, index), expected, strict=True):
        assert_same_result(augment(x, y, key, return_mask=True), result)


def test_epochs_and_seeds_change_the_draws_of_both_kinds_of_key():
    x, y = batch(6)
    for key in (0, torch.arange(6)):
        results = []
        for seed, epoch in ((0, 0), (0, 1), (1, 0), (2, 0)):
            augment = make_augment(seed=seed)
            augment.set_epoch(epoch)
            results.append(augment(x, y, key)[0])
        for i in range(len(results)):
            for j in range(i):
                assert not torch.equal(results[i], results[j]), (key, i, j)


def test_an_index_key_gives_each_image_its_own_draws_whatever_its_batch():
    augment = make_augment(fraction=1.0, seed=3)  # every row translated: styles compare
    augment.set_epoch(2)
    x, y = batch(8)
    index = torch.arange(100, 108)
    alone = augment(x, y, index)[0]
    reordered = torch.tensor([5, 0, 7, 2])
    out = augment(x[reordered], y[reordered], index[reordered])[0]
    assert torch.equal(out, alone[reordered])  # the same image, index and epoch: same style
    mixed = torch.cat([index[:4], torch.arange(900, 904)])  # new neighbours
    assert torch.equal(augment(x, y, mixed)[0][:4], alone[:4])
    augment.set_epoch(3)
    assert not torch.equal(augment(x, y, index)[0], alone)


@pytest.mark.parametrize("mode", ["generator", "gate", "bank"])
@settings(max_examples=8)
@given(order=st.permutations(range(10)), split=st.integers(min_value=1, max_value=9))
def test_two_ranks_with_index_keys_get_what_one_process_gets(mode, order, split):
    """Any partition of a batch into two ranks' batches, each in any order, gives every image
    the row, style (hence translation) and bank entry it gets in the whole batch."""
    gated = {"class_counts": COUNTS, "size_threshold": 110, "gate": "linear"}
    augment = make_augment(fraction=0.5, seed=7, **(gated if mode == "gate" else {}))
    augment.set_epoch(1)
    x, _ = batch(10, torch.uint8)
    y, index = torch.arange(10) % 4, torch.tensor([3, 17, 0, 8, 25, 11, 6, 19, 2, 30])
    if mode == "bank":
        augment.build_bank(images(31, 1, SIZE, seed=5), k=3)
    whole = augment(x, y, index, return_mask=True)
    ranks = torch.tensor(order[:split]), torch.tensor(order[split:])
    out, mask = torch.empty_like(whole[0]), torch.empty_like(whole[2])
    for rows in ranks:
        out[rows], _, mask[rows] = augment(x[rows], y[rows], index[rows], return_mask=True)
    assert torch.equal(mask, whole[2]) and torch.equal(out, whole[0])
    assert mask.any() and not torch.equal(out, x)


def test_an_index_key_draws_each_row_from_the_keyed_uniforms_of_its_index():
    """Proposal, gate and style of every row, recomputed from `keyed_uniforms` of
    ``(seed, 2, epoch)`` and the row's index; the proposals are also pinned as values."""
    augment = make_augment(  # keep rates 0, 0.1, 0.6 and 1 by class
        fraction=0.5, class_counts=COUNTS, size_threshold=110, gate="linear", seed=0
    )
    augment.set_epoch(4)
    x, _ = batch(10)
    y = torch.tensor([2, 3, 2, 3, 3, 2, 3, 1, 0, 3])
    index = torch.tensor([9, 3, 0, 14, 5, 2, 11, 7, 30, 1])
    out, _, mask = augment(x, y, index, return_mask=True)
    uniforms = index_uniforms(0, 4, index)
    proposed = uniforms[:, 0] < 0.5
    assert proposed.nonzero().flatten().tolist() == [0, 2, 3, 8]  # 4 of 10, not round(5)
    kept = uniforms[:, 1] < torch.tensor([0.0, 0.1, 0.6, 1.0], dtype=torch.float64)[y]
    assert torch.equal(mask, proposed & kept)
    assert mask.nonzero().flatten().tolist() == [2, 3]  # 0 (class 2) and 8 (class 0) gated
    styles = index_styles(0, 4, index)
    assert torch.equal(out, augment.family.apply(x, Params(style=styles, translate=mask)))


def test_no_key_draws_afresh_without_the_global_rng():
    augment = make_augment(fraction=0.5)
    x, y = batch(6)
    outputs = [augment(x, y)[0] for _ in range(3)]
    assert not torch.equal(outputs[0], outputs[1]) and not torch.equal(outputs[1], outputs[2])


def test_the_global_rng_is_neither_read_nor_changed():
    x, y = batch(4)
    before = torch.get_rng_state()
    augment = make_augment(fraction=0.5, seed=1)
    augment(x, y)
    augment(x, y, 0)
    augment(x, y, torch.arange(4))
    augment.family(x)
    augment.family.views(x, 2)
    augment.collate([(x[i], y[i]) for i in range(4)])
    augment.build_bank(x, k=2)
    augment(x, y, torch.arange(4))
    assert torch.equal(torch.get_rng_state(), before)

    def run():
        fresh = make_augment(fraction=0.5, seed=1)
        plain = [*fresh(x, y, 0), *fresh(x, y, torch.arange(4))]
        fresh.build_bank(x, k=2)
        return [*plain, *fresh(x, y, torch.arange(4)), fresh.family(x, generator=seeded(2))]

    torch.manual_seed(0)
    first = run()
    torch.manual_seed(1)
    assert_same_result(run(), first)


def test_bad_keys_name_the_key_what_was_expected_and_what_came():
    augment = make_augment()
    x, y = batch(3)
    wrong_type = ("0", 1.0, True, [0, 1, 2], torch.zeros(3), torch.zeros(3, dtype=torch.bool))
    for key in wrong_type:
        with pytest.raises(TypeError, match=r"key: expected an int step >= 0 or a 1-D integer"):
            augment(x, y, key)
    wrong_value = (-1, torch.arange(2), torch.arange(4), torch.arange(3)[:, None], torch.tensor(1))
    for key in wrong_value:
        with pytest.raises(ValueError, match=r"key: expected .*3 dataset indices.*received"):
            augment(x, y, key)
    with pytest.raises(ValueError, match=r"key: expected values >= 0, received values in \[-1"):
        augment(x, y, torch.tensor([0, -1, 2]))


# --- the class-size gate ----------------------------------------------------------------

COUNTS = [200, 100, 50, 10]


@settings(max_examples=15)
@given(
    labels=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=6),
    threshold=st.integers(min_value=1, max_value=250),
    fraction=fractions,
    seed=seeds,
    index_key=st.booleans(),
)
def test_below_gate_never_translates_classes_at_or_over_the_threshold(
    labels, threshold, fraction, seed, index_key
):
    y = torch.tensor(labels)
    x, _ = batch(len(labels), torch.uint8, seed=seed % 1000)
    key = torch.arange(len(labels)) * 3 if index_key else 5
    gated = make_augment(
        fraction=fraction, class_counts=COUNTS, size_threshold=threshold, gate="below", seed=seed
    )
    ungated = make_augment(fraction=fraction, class_counts=COUNTS, seed=seed)
    out, _, mask = gated(x, y, key, return_mask=True)
    _, _, proposals = ungated(x, y, key, return_mask=True)
    small = torch.tensor(COUNTS)[y] < threshold
    assert not mask[~small].any()
    assert torch.equal(mask, proposals & small), "the gate should keep every small proposal"
    assert torch.equal(out[~mask], x[~mask])


@pytest.mark.parametrize("index_key", [False, True], ids=["step", "index"])
def test_linear_gate_keeps_translations_at_the_stated_rate(index_key):
    threshold, smallest = 110, min(COUNTS)
    keep = [min(max((threshold - n) / (threshold - smallest), 0.0), 1.0) for n in COUNTS]
    assert keep == [0.0, 0.1, 0.6, 1.0]
    n, batches = 128, 30
    augment = make_augment(
        fraction=1.0, class_counts=COUNTS, size_threshold=threshold, gate="linear", seed=5
    )
    # bank mode: the gate is what is measured, not the generator, so draws are cheap
    if index_key:
        augment.build_bank(images(n * batches, 1, SIZE), k=1)
    x, y = images(n, 1, SIZE), torch.arange(n) % 4
    kept = torch.zeros(4)
    for b in range(batches):
        key = torch.arange(b * n, (b + 1) * n) if index_key else b
        _, _, mask = augment(x, y, key, return_mask=True)
        kept += torch.bincount(y[mask], minlength=4)
    trials = n // 4 * batches
    assert kept[0] == 0 and kept[3] == trials
    for c in (1, 2):
        sigma = math.sqrt(keep[c] * (1 - keep[c]) / trials)
        assert abs(float(kept[c]) / trials - keep[c]) <= 5 * sigma, (c, float(kept[c]) / trials)


def test_gate_errors():
    generator = make_generator()
    with pytest.raises(ValueError, match="class_counts"):
        GenerativeAugment(generator, size_threshold=10)
    with pytest.raises(ValueError, match="gate"):
        GenerativeAugment(generator, class_counts=COUNTS, size_threshold=10, gate="sigmoid")
    for threshold in (5, 10):  # at or below the smallest class (10)
        with pytest.raises(ValueError, match="size_threshold"):
            GenerativeAugment(
                generator, class_counts=COUNTS, size_threshold=threshold, gate="linear"
            )
    augment = GenerativeAugment(generator, class_counts=COUNTS, size_threshold=60)
    x, _ = batch(2)
    for bad in ([0, 4], [-1, 0]):
        with pytest.raises(ValueError, match=r"y: .*\[0, 4\)"):
            augment(x, torch.tensor(bad), 0)


# --- state: the epoch, state_dict, copies ------------------------------------------------


def test_the_epoch_is_in_the_state_dict_and_load_state_dict_restores_it():
    augment = make_augment(start_epoch=2)
    augment.set_epoch(5)
    state = augment.state_dict()
    assert state["_extra_state"].dtype == torch.int64 and int(state["_extra_state"]) == 5
    fresh = make_augment(start_epoch=2)
    assert fresh.epoch == 0 and not fresh.active
    fresh.load_state_dict(state)
    assert fresh.epoch == 5 and fresh.active
    x, y = batch(4)
    assert_same_result(fresh(x, y, 1), augment(x, y, 1))
    for bad in (torch.tensor(-1), torch.tensor(2.0), torch.tensor([1, 2]), 3):
        with pytest.raises(ValueError, match=r"_extra_state: expected the epoch"):
            fresh.load_state_dict({**state, "_extra_state": bad})


def test_a_resumed_user_loop_reproduces_the_uninterrupted_one():
    x, y = batch(6)
    index = [torch.tensor([5, 1, 3, 0, 2, 4]) + 6 * b for b in range(3)]

    def epoch_of(augment, epoch, steps):
        augment.set_epoch(epoch)
        return [(*augment(x, y, s), *augment(x, y, index[s])) for s in steps]

    uninterrupted = make_augment(fraction=0.5, start_epoch=1, seed=4)
    expected = [epoch_of(uninterrupted, epoch, range(3)) for epoch in range(3)]

    first = make_augment(fraction=0.5, start_epoch=1, seed=4)
    got = [epoch_of(first, 0, range(3))]
    first.set_epoch(1)
    part = [(*first(x, y, 0), *first(x, y, index[0]))]
    saved = copy.deepcopy(first.state_dict())  # the checkpoint after step 0 of epoch 1
    resumed = make_augment(fraction=0.5, start_epoch=1, seed=4)
    resumed.load_state_dict(saved)
    part += [(*resumed(x, y, s), *resumed(x, y, index[s])) for s in (1, 2)]
    got += [part, epoch_of(resumed, 2, range(3))]
    for got_epoch, expected_epoch in zip(got, expected, strict=True):
        for a, b in zip(got_epoch, expected_epoch, strict=True):
            assert_same_result(a, b)


def test_copies_and_pickles_draw_the_same_and_keep_the_epoch_shareable():
    augment = make_augment(fraction=0.5, start_epoch=1, seed=8)
    augment.build_bank(images(6, 1, SIZE), k=2)
    augment.set_epoch(3)
    x, y = batch(6)
    expected = augment(x, y, torch.arange(6), return_mask=True)
    deep, pickled = copy.deepcopy(augment), pickle.loads(pickle.dumps(augment))
    for other in (deep, pickled, copy.copy(augment)):
        assert other.epoch == 3 and other._epoch.is_shared()
        assert_same_result(other(x, y, torch.arange(6), return_mask=True), expected)
    deep.set_epoch(0)
    pickled.set_epoch(0)
    assert augment.epoch == 3  # deep copies and unpickled augments keep their own epoch
    copy.copy(augment).set_epoch(4)  # a shallow copy shares it, as it shares the generator
    assert augment.epoch == 4


def test_a_compiled_augment_draws_what_the_augment_draws():
    augment = make_augment(fraction=0.5, seed=6)
    compiled = torch.compile(augment, backend="eager")
    x, y = batch(4)
    for key in (2, torch.tensor([7, 1, 0, 3])):
        assert_same_result(
            compiled(x, y, key, return_mask=True), augment(x, y, key, return_mask=True)
        )


def test_constructor_arguments_are_checked():
    generator = make_generator()
    for bad in (torch.nn.Conv2d(1, 1, 3), object(), None):
        with pytest.raises(TypeError, match="generator: expected a MUNITGenerator"):
            GenerativeAugment(bad)
        with pytest.raises(TypeError, match="generator: expected a MUNITGenerator"):
            LearnedNuisance(bad)
    for fraction in (-0.1, 1.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="fraction"):
            GenerativeAugment(generator, fraction=fraction)
    for fraction in ("0.5", True, None):
        with pytest.raises(TypeError, match="fraction"):
            GenerativeAugment(generator, fraction=fraction)
    for name in ("start_epoch", "seed"):
        with pytest.raises(ValueError, match=name):
            GenerativeAugment(generator, **{name: -1})
    for epoch in (-1, 1.0, True):
        with pytest.raises(ValueError, match="epoch: expected an int >= 0"):
            GenerativeAugment(generator).set_epoch(epoch)


# --- LearnedNuisance: the learned nuisance as a transform family -------------------------


def test_the_augments_family_is_its_generator_translating_every_image():
    augment = make_augment(fraction=0.0)  # the fraction only applies to training batches
    family = augment.family
    assert isinstance(family, LearnedNuisance) and family.generator is augment.generator
    assert not isinstance(augment, LearnedNuisance)
    x, _ = batch(4)
    expected = LearnedNuisance(make_generator())(x, generator=seeded(0))
    assert torch.equal(family(x, generator=seeded(0)), expected)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64])
def test_the_learned_nuisance_translates_every_image_in_the_callers_dtype(dtype):
    nuisance = LearnedNuisance(make_generator())
    x, _ = batch(4, dtype)
    out = nuisance(x, generator=seeded(0))
    assert out.shape == x.shape and out.dtype == dtype
    for row in range(4):
        assert not torch.equal(out[row], x[row])
    single = nuisance(x[0], generator=seeded(0))
    assert single.shape == x[0].shape and single.dtype == dtype
    views = nuisance.views(x, 2, generator=seeded(0))
    assert views.images.dtype == dtype


def test_the_learned_nuisance_freezes_a_copy():
    generator = make_generator()
    nuisance = LearnedNuisance(generator)
    assert nuisance.generator is not generator and not nuisance.generator.training
    assert not any(p.requires_grad for p in nuisance.parameters())
    assert all(p.requires_grad for p in generator.parameters())
    assert not nuisance.train().generator.training


@settings(max_examples=10)
@given(n=batch_sizes, seed=seeds)
def test_sample_and_apply_replay_exactly(n, seed):
    nuisance = LearnedNuisance(make_generator())
    x, _ = batch(n, seed=seed % 1000)
    drawn, params = nuisance.apply_random(x, generator=seeded(seed))
    assert torch.equal(nuisance(x, generator=seeded(seed)), drawn)
    assert torch.equal(nuisance.apply(x, params), drawn)
    assert torch.equal(nuisance.apply(x, nuisance.sample(n, generator=seeded(seed))), drawn)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64])
def test_identity_leaves_images_unchanged(dtype):
    nuisance = LearnedNuisance(make_generator())
    x, _ = batch(5, dtype)
    out = nuisance.apply(x, nuisance.identity(5))
    assert out.dtype == dtype and torch.equal(out, x)


def test_views_pair_each_copy_with_its_source():
    nuisance = LearnedNuisance(make_generator())
    x, _ = batch(3)
    views = nuisance.views(x, 2, generator=seeded(1))
    assert views.images.shape == (6, 1, SIZE, SIZE)
    assert views.source.tolist() == [0, 0, 1, 1, 2, 2]
    assert torch.equal(views.images, nuisance.apply(x[views.source], views.params))
    assert not torch.equal(views.images[0], views.images[1]), "two views share a style"


def test_the_learned_nuisance_measures_an_invariance_curve():
    nuisance = LearnedNuisance(make_generator())
    x, _ = batch(8, torch.uint8)
    data = TensorDataset(x, torch.arange(8) % 2)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(SIZE * SIZE, 2))
    curve = invariance_curve(
        model, data, nuisance, class_sizes=[50, 5], samples_per_class=2,
        transforms_per_sample=3, progress=False,
    )  # fmt: skip
    again = invariance_curve(
        model, data, nuisance, class_sizes=[50, 5], samples_per_class=2,
        transforms_per_sample=3, progress=False,
    )  # fmt: skip
    means = curve.columns()["ekld_mean"]
    assert len(means) == 2 and all(m > 0 for m in means)
    assert means == again.columns()["ekld_mean"]


def test_channels_check_rejects_a_wrong_channel_count():
    nuisance = LearnedNuisance(make_generator(channels=1))
    assert nuisance.channels == (1,)
    nuisance.check_channels(1)
    with pytest.raises(ValueError, match="1 channels, received 3"):
        nuisance.check_channels(3)


# --- bad input --------------------------------------------------------------------------


def test_wrong_image_size_names_the_expected_shape():
    augment = make_augment()
    wrong = images(2, 1, 12)
    y = torch.arange(2)
    for call in (
        lambda: augment(wrong, y, 0),
        lambda: augment.family(wrong),
        lambda: augment.family.apply(wrong, augment.family.identity(2)),
        lambda: augment.family.views(wrong, 2),
    ):
        with pytest.raises(ValueError, match=r"\(1, 8, 8\).*\(1, 12, 12\)"):
            call()


def test_wrong_channel_count_is_a_clear_error():
    augment = make_augment(channels=1)
    wrong = images(2, 3, SIZE)
    for call in (lambda: augment(wrong, torch.arange(2)), lambda: augment.family(wrong)):
        with pytest.raises(ValueError, match=r"x: .*1 channels.*received 3"):
            call()
    rgb = make_augment(channels=3)
    with pytest.raises(ValueError, match=r"x: .*3 channels.*received 1"):
        rgb(images(2, 1, SIZE), torch.arange(2))


def test_bad_image_values_are_refused():
    augment = make_augment()
    y = torch.arange(2)
    nan = images(2, 1, SIZE)
    nan[1, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match=r"x: expected float values in \[0, 1\]"):
        augment(nan, y, 0)
    as_255 = images(2, 1, SIZE) * 255  # uint8 values in a float tensor
    with pytest.raises(ValueError, match=r"x: expected float values in \[0, 1\].*uint8"):
        augment(as_255, y, 0)
    with pytest.raises(TypeError, match="x: "):
        augment(torch.ones(2, 1, SIZE, SIZE, dtype=torch.int64), y, 0)


def test_bad_labels_are_refused():
    augment = make_augment()
    x, _ = batch(3)
    bad_labels = (
        torch.tensor([0.0, 1.0, 2.0]),  # float labels
        torch.arange(2),  # too short
        torch.arange(4),  # too long
        torch.arange(3)[:, None],  # wrong rank
        [0, 1, 2],  # not a tensor
    )
    for bad in bad_labels:
        with pytest.raises(ValueError, match=r"y: expected 3 integer class ids"):
            augment(x, bad, 0)


# --- collate ----------------------------------------------------------------------------


def tiny_dataset(n: int = 12, index: bool = False) -> TensorDataset:
    x = (images(n, 1, SIZE, seed=7) * 255).round().to(torch.uint8)
    y = torch.arange(n) % 3
    return TensorDataset(x, y, torch.arange(n)) if index else TensorDataset(x, y)


def run_loader(augment: GenerativeAugment, data: Dataset, epochs=(0, 1), **loader_options):
    """Every batch of every epoch, through ``augment.collator(return_mask=True)``."""
    loader = DataLoader(
        data, batch_size=3, collate_fn=augment.collator(return_mask=True), **loader_options
    )
    results = []
    for epoch in epochs:
        augment.set_epoch(epoch)
        results.append(list(loader))
    return results


def test_collate_in_a_dataloader_matches_direct_calls():
    data = tiny_dataset(index=True)
    augment = make_augment(fraction=0.5, seed=4)
    epochs = run_loader(augment, data)
    x, y, index = data.tensors
    for epoch, batches in enumerate(epochs):
        assert len(batches) == 4
        augment.set_epoch(epoch)
        for b, (out, labels, mask) in enumerate(batches):
            rows = slice(3 * b, 3 * b + 3)
            assert out.dtype == torch.uint8 and out.shape == (3, 1, SIZE, SIZE)
            assert torch.equal(labels, y[rows])
            assert torch.equal(mask, index_proposals(4, epoch, index[rows], 0.5))
            assert torch.equal(out[~mask], x[rows][~mask])
            expected = augment(x[rows], y[rows], index[rows], return_mask=True)
            assert_same_result((out, labels, mask), expected)
    assert not torch.equal(epochs[0][0][0], epochs[1][0][0]), "epochs 0 and 1 agree"
    pair = augment.collate([tuple(column[i] for column in data.tensors) for i in range(3)])
    assert_same_result(pair, epochs[1][0][:2])


def test_collate_with_indices_does_not_depend_on_the_forked_workers():
    data = tiny_dataset(index=True)
    serial = run_loader(make_augment(fraction=0.5, seed=9), data, shuffle=False)
    parallel = run_loader(make_augment(fraction=0.5, seed=9), data, num_workers=2)
    for serial_epoch, parallel_epoch in zip(serial, parallel, strict=True):
        assert len(serial_epoch) == len(parallel_epoch) == 4
        for a, b in zip(serial_epoch, parallel_epoch, strict=True):
            assert_same_result(a, b)


@pytest.mark.parametrize("context", ["spawn", "fork"])
def test_persistent_workers_see_set_epoch_and_match_zero_workers(context):
    """Persistent workers keep the augment they were given at the first epoch; the epoch
    they read is the main process's, so the delayed start switches on in them too."""
    data = tiny_dataset(index=True)
    serial = run_loader(make_augment(fraction=0.5, start_epoch=1, seed=9), data, (0, 1, 2))
    parallel = run_loader(
        make_augment(fraction=0.5, start_epoch=1, seed=9), data, (0, 1, 2),
        num_workers=2, persistent_workers=True, multiprocessing_context=context,
    )  # fmt: skip
    for epoch, (serial_epoch, parallel_epoch) in enumerate(zip(serial, parallel, strict=True)):
        assert len(parallel_epoch) == 4
        translated = sum(int(mask.sum()) for _, _, mask in parallel_epoch)
        proposed = int(index_proposals(9, epoch, torch.arange(12), 0.5).sum())
        assert translated == (0 if epoch == 0 else proposed) and proposed > 0, epoch
        for a, b in zip(serial_epoch, parallel_epoch, strict=True):
            assert_same_result(a, b)
    assert not torch.equal(parallel[1][0][0], parallel[2][0][0]), "epochs 1 and 2 agree"


def test_collate_without_indices_translates_with_fresh_draws():
    augment = make_augment(fraction=0.5)
    x, y = batch(4, torch.uint8)
    items = [(x[i], int(y[i])) for i in range(4)]
    first, second = augment.collate(items), augment.collate(items)
    assert torch.equal(first[1], y) and not torch.equal(first[0], second[0])
    assert first[0].dtype == torch.uint8


def test_a_dict_collator_feeds_hugging_face_style_batches():
    augment = make_augment(fraction=0.5, seed=1)
    x, y = batch(4)
    items = [{"pixel_values": x[i], "labels": int(y[i]), "id": i, "weight": 1.0} for i in range(4)]
    collate = augment.collator(as_dict=True, keys=("pixel_values", "labels", "id"))
    out = collate(items)
    assert sorted(out) == ["labels", "pixel_values", "weight"]  # the index is the key
    expected = augment(x, y, torch.arange(4))
    assert torch.equal(out["pixel_values"], expected[0]) and torch.equal(out["labels"], y)
    assert out["weight"].tolist() == [1.0] * 4
    with_mask = augment.collator(True, ("pixel_values", "labels", "id"), return_mask=True)
    assert torch.equal(with_mask(items)["mask"], index_proposals(1, 0, torch.arange(4), 0.5))
    tuples = augment.collator(keys=("pixel_values", "labels", "id"))(items)
    assert_same_result(tuples, expected)
    again = pickle.loads(pickle.dumps(collate))
    assert isinstance(again, AugmentCollator)
    assert torch.equal(again(items)["pixel_values"], out["pixel_values"])
    assert repr(collate) == (
        "AugmentCollator(as_dict=True, keys=('pixel_values', 'labels', 'id'), return_mask=False)"
    )


def test_collate_rejects_items_of_the_wrong_arity():
    augment = make_augment()
    x = images(2, 1, SIZE)
    bad_batches = (
        [x[0], x[1]],  # bare images
        [(x[0],), (x[1],)],  # images only
        [(x[0], 0, 0, 0), (x[1], 1, 1, 1)],  # four columns
        [{"img": x[0], "label": 0}],  # dicts without the image key
        [],
    )
    for items in bad_batches:
        with pytest.raises(ValueError, match=r"items: expected \(image, label\)"):
            augment.collate(items)
    loader = DataLoader(list(x), batch_size=2, collate_fn=augment.collate)
    with pytest.raises(ValueError, match="items: expected"):
        next(iter(loader))
    for keys in ("image", ("image",), ("a", "b", "c", "d"), ("a", "a"), ("a", 1)):
        with pytest.raises(ValueError, match=r"keys: expected 2 or 3 distinct names"):
            augment.collator(keys=keys)
    with pytest.raises(TypeError, match="augment: expected a GenerativeAugment"):
        AugmentCollator(augment.family)


# --- bank mode --------------------------------------------------------------------------


class ImagesOnly(Dataset):
    def __init__(self, x: torch.Tensor) -> None:
        self.x = x

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.x[i]


def test_bank_shape_and_sources_agree():
    data = tiny_dataset(10)
    x, _ = data.tensors
    augment = make_augment(seed=2)
    bank = augment.build_bank(x, k=3)
    assert isinstance(bank, TranslationBank) and augment.bank is bank
    assert bank.images.shape == (10, 3, 1, SIZE, SIZE) and bank.images.dtype == torch.uint8
    assert len(bank) == 10 and bank.k == 3 and bank.nbytes == 10 * 3 * SIZE * SIZE
    for source in (data, ImagesOnly(x), x.float() / 255):
        assert torch.equal(make_augment(seed=2).build_bank(source, k=3).images, bank.images)
    for j in range(3):  # each entry is a translation of its own image, under its own style
        assert not torch.equal(bank.images[:, j], x)
    assert not torch.equal(bank.images[:, 0], bank.images[:, 1])
    other_seed = make_augment(seed=3).build_bank(x, k=3)
    assert not torch.equal(other_seed.images, bank.images)


def test_bank_does_not_depend_on_batch_size_or_float_dtype():
    x = images(7, 1, SIZE, seed=3)
    banks = [make_augment(seed=1).build_bank(x, k=2, batch_size=b).images for b in (1, 3, 256)]
    assert torch.equal(banks[0], banks[1]) and torch.equal(banks[0], banks[2])
    u8 = (x * 255).round().to(torch.uint8)
    assert torch.equal(
        make_augment().build_bank(u8.double() / 255, k=2).images,
        make_augment().build_bank(u8, k=2).images,
    )


@settings(max_examples=10)
@given(
    rows=st.lists(st.integers(min_value=0, max_value=9), min_size=1, max_size=6),
    dtype=dtypes,
    seed=seeds,
)
def test_bank_rows_come_from_their_own_index(rows, dtype, seed):
    data = tiny_dataset(10)
    stored, _ = data.tensors
    augment = make_augment(fraction=0.5, seed=seed)
    bank = augment.build_bank(data, k=3)
    index = torch.tensor(rows)
    x = stored[index] if dtype == torch.uint8 else (stored[index].double() / 255).to(dtype)
    y = torch.zeros(len(rows), dtype=torch.long)
    out, labels, mask = augment(x, y, index, return_mask=True)
    assert out.dtype == dtype and torch.equal(labels, y)
    uniforms = index_uniforms(seed, 0, index)
    assert torch.equal(mask, uniforms[:, 0] < 0.5)
    assert torch.equal(out[~mask], x[~mask])
    entries = bank.images[index, (uniforms[:, 2] * 3).long()]  # entry floor(u * k) of each
    if dtype != torch.uint8:
        entries = (entries.double() / 255).to(dtype)
    assert torch.equal(out[mask], entries[mask])


def test_bank_entries_follow_the_index_and_the_epoch():
    augment = make_augment(fraction=1.0, seed=0)
    bank = augment.build_bank(images(40, 1, SIZE), k=4)
    x, y, index = images(40, 1, SIZE), torch.zeros(40, dtype=torch.long), torch.arange(40)

    def entries(rows):  # which stored translation each image of the batch got
        out = augment(x[rows], y[rows], rows)[0]
        return [next(j for j in range(4) if torch.equal(image, bank.images[i, j] / 255))
                for i, image in zip(rows.tolist(), out, strict=True)]  # fmt: skip

    first = entries(index)
    assert set(first) == {0, 1, 2, 3}
    half = torch.arange(0, 40, 2)  # the same images in another batch: the same entries
    assert entries(half) == first[::2]
    augment.set_epoch(1)
    assert entries(index) != first


def test_bank_mode_needs_an_index_key():
    augment = make_augment(fraction=0.5)
    augment.build_bank(images(4, 1, SIZE), k=2)
    x, y = batch(4)
    for key in (None, 0):
        with pytest.raises(ValueError, match=r"key: in bank mode expected the batch's 4"):
            augment(x, y, key)
    with pytest.raises(ValueError, match=r"key: in bank mode"):
        augment.collate([(x[i], y[i]) for i in range(4)])
    with pytest.raises(ValueError, match=r"key: expected values in \[0, 4\), received .*9"):
        augment(x, y, torch.tensor([0, 1, 9, 2]))
    for index in (torch.arange(3), torch.arange(5)):
        with pytest.raises(ValueError, match="key: expected"):
            augment(x, y, index)


def test_bank_select_checks_its_arguments():
    bank = TranslationBank(torch.zeros(3, 2, 1, 2, 2, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"index: expected values in \[0, 3\)"):
        bank.select(torch.tensor([3]), torch.tensor([0]))
    with pytest.raises(ValueError, match=r"entry: expected values in \[0, 2\)"):
        bank.select(torch.tensor([0]), torch.tensor([2]))
    with pytest.raises(ValueError, match=r"entry: expected one entry per index"):
        bank.select(torch.tensor([0, 1]), torch.tensor([0]))


def test_bank_over_max_bytes_is_refused():
    augment = make_augment()
    x = images(10, 1, SIZE)
    with pytest.raises(ValueError, match=r"k: a bank of 4 translations of 10 images.*max_bytes"):
        augment.build_bank(x, k=4, max_bytes=10 * 4 * SIZE * SIZE - 1)
    assert augment.bank is None
    assert augment.build_bank(x, k=4, max_bytes=10 * 4 * SIZE * SIZE).nbytes == 2560
    with pytest.raises(ValueError, match="k: expected an int >= 1"):
        augment.build_bank(x, k=0)


# --- save and load ----------------------------------------------------------------------


def saved_augment(folder: Path, bank: bool) -> GenerativeAugment:
    augment = make_augment(
        fraction=0.75,
        class_counts=[30, 12, 4],
        size_threshold=20,
        gate="linear",
        start_epoch=1,
        seed=11,
    )
    if bank:
        augment.build_bank(tiny_dataset(6), k=2)
    assert augment.save(folder) == folder
    return augment


@pytest.mark.parametrize("bank", [False, True], ids=["generator", "bank"])
def test_save_and_load_round_trip(tmp_path, bank):
    folder = tmp_path / "augment"
    original = saved_augment(folder, bank)
    loaded = GenerativeAugment.load(folder)
    for name in ("fraction", "size_threshold", "gate", "start_epoch", "seed"):
        assert getattr(loaded, name) == getattr(original, name), name
    assert torch.equal(loaded.class_counts, original.class_counts)
    assert torch.equal(loaded.keep_probability, original.keep_probability)
    assert loaded.config == original.config
    loaded_state, original_state = loaded.generator.state_dict(), original.generator.state_dict()
    assert loaded_state.keys() == original_state.keys()
    for key, value in original_state.items():
        assert torch.equal(loaded_state[key], value), key
    if bank:
        assert torch.equal(loaded.bank.images, original.bank.images)
    else:
        assert loaded.bank is None
    x, _ = batch(6, torch.uint8)
    y, index = torch.tensor([0, 1, 2, 2, 1, 2]), torch.arange(6)
    for epoch in (0, 1, 2):
        original.set_epoch(epoch)
        loaded.set_epoch(epoch)
        expected = original(x, y, index, return_mask=True)
        assert_same_result(loaded(x, y, index, return_mask=True), expected)
    nuisance = loaded.family(x, generator=seeded(0))
    assert torch.equal(nuisance, original.family(x, generator=seeded(0)))


def test_a_tampered_settings_file_is_refused(tmp_path):
    folder = tmp_path / "augment"
    saved_augment(folder, bank=False)
    path = folder / "augment.json"
    settings_ = json.loads(path.read_text())
    path.write_text(json.dumps({**settings_, "temperature": 2.0}))
    with pytest.raises(ValueError, match=r"augment\.json.*temperature"):
        GenerativeAugment.load(folder)
    del settings_["seed"]
    path.write_text(json.dumps(settings_))
    with pytest.raises(ValueError, match=r"augment\.json"):
        GenerativeAugment.load(folder)
    path.write_text('{"fraction": 0.')
    with pytest.raises(ValueError, match=r"augment\.json: not valid JSON"):
        GenerativeAugment.load(folder)


@pytest.mark.parametrize("name", ["generator", "bank"])
def test_a_truncated_tensor_file_is_refused(tmp_path, name):
    folder = tmp_path / "augment"
    saved_augment(folder, bank=True)
    path = folder / f"{name}.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=rf"{name}\.safetensors: not a readable safetensors"):
        GenerativeAugment.load(folder)


def test_a_missing_folder_or_file_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError):
        GenerativeAugment.load(tmp_path / "nowhere")
    folder = tmp_path / "augment"
    saved_augment(folder, bank=False)
    (folder / "augment.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"augment\.json"):
        GenerativeAugment.load(folder)


class _CreatesMarker:
    """Unpickling this creates the file ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("name", ["generator", "bank"])
@pytest.mark.parametrize("protocol", [0, pickle.DEFAULT_PROTOCOL])
def test_a_pickle_is_never_unpickled(tmp_path, name, protocol):
    folder = tmp_path / "augment"
    saved_augment(folder, bank=True)
    marker = tmp_path / "unpickled"
    payload = pickle.dumps(_CreatesMarker(marker), protocol=protocol)
    (folder / f"{name}.safetensors").write_bytes(payload)
    pattern = ".*pickle" if payload.startswith(b"\x80") else "not a readable safetensors"
    with pytest.raises(ValueError, match=rf"{name}\.safetensors: {pattern}"):
        GenerativeAugment.load(folder)
    assert not marker.exists()
    pickle.loads(payload).close()  # the payload does create the marker when unpickled
    assert marker.exists()
