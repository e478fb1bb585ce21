"""`GenerativeAugment`: batch augmentation, gating, family behaviour, collate, bank, files."""

from __future__ import annotations

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

from invtransfer.generative import GenerativeAugment, MUNITGenerator, TranslationBank, preset

SIZE = 8
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
    return math.floor(fraction * n + 0.5)


def assert_same_result(first, second) -> None:
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        assert a.dtype == b.dtype and torch.equal(a, b)


# --- augment(x, y) -> (images, labels, mask) ----------------------------------------------


@settings(max_examples=15)
@given(n=batch_sizes, fraction=fractions, dtype=dtypes, seed=seeds)
def test_batch_contract(n, fraction, dtype, seed):
    augment = make_augment(fraction=fraction, seed=seed)
    x, y = batch(n, dtype, seed=seed % 1000)
    original = x.clone()
    out, labels, mask = augment(x, y)
    assert out.shape == x.shape and out.dtype == dtype
    assert mask.shape == (n,) and mask.dtype == torch.bool
    assert labels.dtype == y.dtype and torch.equal(labels, torch.arange(n))
    assert torch.equal(x, original), "the input batch was modified in place"
    if dtype.is_floating_point:
        assert float(out.min()) >= 0 and float(out.max()) <= 1
    assert int(mask.sum()) == expected_count(fraction, n)
    assert torch.equal(out[~mask], x[~mask])
    for row in mask.nonzero().flatten().tolist():
        assert not torch.equal(out[row], x[row]), f"translated row {row} equals its input"


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 10])
@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 0.5, 0.75, 1.0])
def test_masked_row_count_rounds_half_up(n, fraction):
    augment = make_augment(fraction=fraction)
    x, y = batch(n)
    for _ in range(2):  # two batches: the count does not depend on the draw
        assert int(augment(x, y)[2].sum()) == expected_count(fraction, n)


def test_rgb_batches_work():
    augment = make_augment(channels=3, fraction=0.5)
    x, y = batch(4, channels=3)
    out, _, mask = augment(x, y)
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


def test_labels_come_back_unchanged_with_their_dtype():
    augment = make_augment(fraction=1.0)
    x, _ = batch(3)
    for y in (torch.tensor([2, 0, 1]), torch.tensor([7, 7, 1], dtype=torch.int32)):
        _, labels, mask = augment(x, y.clone())
        assert labels.dtype == y.dtype and torch.equal(labels, y)
        assert mask.all()


def test_nothing_is_translated_before_start_epoch():
    augment = make_augment(fraction=0.5, start_epoch=2)
    x, y = batch(6, torch.uint8)
    for epoch in (0, 1):
        augment.set_epoch(epoch)
        assert not augment.active
        for _ in range(2):
            out, labels, mask = augment(x, y)
            assert not mask.any() and torch.equal(out, x) and torch.equal(labels, y)
    results = []
    for epoch in (2, 3, 10):
        augment.set_epoch(epoch)
        assert augment.active
        out, _, mask = augment(x, y)
        assert int(mask.sum()) == 3 and not torch.equal(out, x)
        results.append(out)
    assert not torch.equal(results[0], results[1]), "epochs 2 and 3 drew the same"


def test_float64_batches_keep_their_dtype_and_range():
    augment = make_augment(fraction=0.5)
    x, y = batch(4, torch.float64)
    out, labels, mask = augment(x, y)
    assert out.dtype == torch.float64 and out.shape == x.shape and torch.equal(labels, y)
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    assert int(mask.sum()) == 2 and torch.equal(out[~mask], x[~mask])
    # the float64 result is the float32 one (the generator works in its own dtype)
    as_float = augment(x.float(), y, generator=seeded(0))[0]
    torch.testing.assert_close(augment(x, y, generator=seeded(0))[0].float(), as_float)


def test_float64_images_translate_as_a_family_and_into_a_bank():
    augment = make_augment()
    x, _ = batch(3, torch.float64)
    out = augment(x, generator=seeded(0))
    assert out.dtype == torch.float64 and out.shape == x.shape
    views = augment.views(x, 2, generator=seeded(0))
    assert views.images.dtype == torch.float64
    u8 = (x * 255).round().to(torch.uint8)
    assert torch.equal(
        augment.build_bank(u8.double() / 255, k=2).images,
        make_augment().build_bank(u8, k=2).images,
    )


# --- determinism and randomness ---------------------------------------------------------


@settings(max_examples=10)
@given(seed=seeds, epoch=st.integers(min_value=0, max_value=50))
def test_same_seed_epoch_and_batch_give_the_same_outputs(seed, epoch):
    x, y = batch(6)
    first, second = make_augment(seed=seed), make_augment(seed=seed)
    first.set_epoch(epoch)
    second.set_epoch(epoch)
    a0, a1 = first(x, y), first(x, y)
    assert_same_result(a0, second(x, y))
    assert_same_result(a1, second(x, y))
    assert not torch.equal(a0[0], a1[0]), "batches 0 and 1 of an epoch drew the same"


def test_set_epoch_restarts_the_batch_count():
    augment = make_augment(seed=3)
    x, y = batch(6)
    augment.set_epoch(4)
    run = [augment(x, y) for _ in range(3)]
    augment.set_epoch(5)
    other_epoch = augment(x, y)
    augment.set_epoch(4)
    for expected in run:
        assert_same_result(augment(x, y), expected)
    assert not torch.equal(other_epoch[0], run[0][0])


def test_a_different_seed_gives_different_masks_and_styles():
    x, y = batch(6)
    results = [make_augment(seed=seed)(x, y) for seed in range(8)]
    masks = {tuple(mask.tolist()) for _, _, mask in results}
    assert len(masks) > 1, "eight seeds chose the same rows"
    for i in range(len(results)):
        for j in range(i):
            assert not torch.equal(results[i][0], results[j][0]), f"seeds {i}, {j} agree"


@settings(max_examples=10)
@given(seed=seeds)
def test_an_explicit_generator_is_honoured(seed):
    x, y = batch(5)
    first, second = make_augment(seed=0), make_augment(seed=1)
    second.set_epoch(3)
    reference = first(x, y, generator=seeded(seed))
    assert_same_result(second(x, y, generator=seeded(seed)), reference)
    assert_same_result(first(x, y, generator=seeded(seed)), reference)


def test_the_global_rng_is_neither_read_nor_changed(tmp_path):
    x, y = batch(4)
    before = torch.get_rng_state()
    augment = make_augment(fraction=0.5, seed=1)
    augment(x, y)
    augment(x)
    augment(x, generator=seeded(0))
    augment.sample(3)
    augment.views(x, 2)
    augment.collate([(x[i], y[i]) for i in range(4)])
    augment.build_bank(x, k=2)
    augment(x, y, index=torch.arange(4))
    assert torch.equal(torch.get_rng_state(), before)

    def run():
        fresh = make_augment(fraction=0.5, seed=1)
        plain = fresh(x, y)
        fresh.build_bank(x, k=2)
        return [*plain, *fresh(x, y, index=torch.arange(4)), fresh(x, generator=seeded(2))]

    torch.manual_seed(0)
    first = run()
    torch.manual_seed(1)
    assert_same_result(run(), first)


# --- the class-size gate ----------------------------------------------------------------

COUNTS = [200, 100, 50, 10]


@settings(max_examples=15)
@given(
    labels=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=6),
    threshold=st.integers(min_value=1, max_value=250),
    fraction=fractions,
    seed=seeds,
)
def test_below_gate_never_translates_classes_at_or_over_the_threshold(
    labels, threshold, fraction, seed
):
    y = torch.tensor(labels)
    x, _ = batch(len(labels), torch.uint8, seed=seed % 1000)
    gated = make_augment(
        fraction=fraction, class_counts=COUNTS, size_threshold=threshold, gate="below", seed=seed
    )
    ungated = make_augment(fraction=fraction, class_counts=COUNTS, seed=seed)
    out, _, mask = gated(x, y)
    _, _, proposals = ungated(x, y)
    small = torch.tensor(COUNTS)[y] < threshold
    assert not mask[~small].any()
    assert torch.equal(mask, proposals & small), "the gate should keep every small proposal"
    assert torch.equal(out[~mask], x[~mask])


def test_linear_gate_keeps_translations_at_the_stated_rate():
    threshold, smallest = 110, min(COUNTS)
    keep = [min(max((threshold - n) / (threshold - smallest), 0.0), 1.0) for n in COUNTS]
    assert keep == [0.0, 0.1, 0.6, 1.0]
    augment = make_augment(
        fraction=1.0, class_counts=COUNTS, size_threshold=threshold, gate="linear", seed=5
    )
    # bank mode: the gate is what is measured, not the generator, so draws are cheap
    augment.build_bank(images(8, 1, SIZE), k=1)
    n, batches = 128, 30
    x = images(n, 1, SIZE)
    y, index = torch.arange(n) % 4, torch.arange(n) % 8
    kept = torch.zeros(4)
    for _ in range(batches):
        _, _, mask = augment(x, y, index=index)
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
            augment(x, torch.tensor(bad))


# --- transform-family behaviour ---------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_without_labels_every_image_is_translated(dtype):
    augment = make_augment(fraction=0.0)  # the fraction only applies to training batches
    x, _ = batch(4, dtype)
    out = augment(x, generator=seeded(0))
    assert out.shape == x.shape and out.dtype == dtype
    for row in range(4):
        assert not torch.equal(out[row], x[row])
    single = augment(x[0], generator=seeded(0))
    assert single.shape == x[0].shape and single.dtype == dtype


@settings(max_examples=10)
@given(n=batch_sizes, seed=seeds)
def test_sample_and_apply_replay_exactly(n, seed):
    augment = make_augment()
    x, _ = batch(n, seed=seed % 1000)
    drawn, params = augment.apply_random(x, generator=seeded(seed))
    assert torch.equal(augment(x, generator=seeded(seed)), drawn)
    assert torch.equal(augment.apply(x, params), drawn)
    assert torch.equal(augment.apply(x, augment.sample(n, generator=seeded(seed))), drawn)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64])
def test_identity_leaves_images_unchanged(dtype):
    augment = make_augment()
    x, _ = batch(5, dtype)
    out = augment.apply(x, augment.identity(5))
    assert out.dtype == dtype and torch.equal(out, x)


def test_views_pair_each_copy_with_its_source():
    augment = make_augment()
    x, _ = batch(3)
    views = augment.views(x, 2, generator=seeded(1))
    assert views.images.shape == (6, 1, SIZE, SIZE)
    assert views.source.tolist() == [0, 0, 1, 1, 2, 2]
    assert torch.equal(views.images, augment.apply(x[views.source], views.params))
    assert not torch.equal(views.images[0], views.images[1]), "two views share a style"


def test_channels_check_rejects_a_wrong_channel_count():
    augment = make_augment(channels=1)
    assert augment.channels == (1,)
    augment.check_channels(1)
    with pytest.raises(ValueError, match="1 channels, received 3"):
        augment.check_channels(3)


# --- bad input --------------------------------------------------------------------------


def test_wrong_image_size_names_the_expected_shape():
    augment = make_augment()
    wrong = images(2, 1, 12)
    y = torch.arange(2)
    for call in (
        lambda: augment(wrong, y),
        lambda: augment(wrong),
        lambda: augment.apply(wrong, augment.identity(2)),
        lambda: augment.views(wrong, 2),
    ):
        with pytest.raises(ValueError, match=r"\(1, 8, 8\).*\(1, 12, 12\)"):
            call()


def test_wrong_channel_count_is_a_clear_error():
    augment = make_augment(channels=1)
    wrong = images(2, 3, SIZE)
    for call in (lambda: augment(wrong, torch.arange(2)), lambda: augment(wrong)):
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
        augment(nan, y)
    as_255 = images(2, 1, SIZE) * 255  # uint8 values in a float tensor
    with pytest.raises(ValueError, match=r"x: expected float values in \[0, 1\].*uint8"):
        augment(as_255, y)
    with pytest.raises(TypeError, match="x: "):
        augment(torch.ones(2, 1, SIZE, SIZE, dtype=torch.int64), y)


def test_constructor_arguments_are_checked():
    generator = make_generator()
    for bad in (torch.nn.Conv2d(1, 1, 3), object(), None):
        with pytest.raises(TypeError, match="generator: expected a MUNITGenerator"):
            GenerativeAugment(bad)
    for fraction in (-0.1, 1.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="fraction"):
            GenerativeAugment(generator, fraction=fraction)
    for fraction in ("0.5", True, None):
        with pytest.raises(TypeError, match="fraction"):
            GenerativeAugment(generator, fraction=fraction)
    for name in ("start_epoch", "seed"):
        with pytest.raises(ValueError, match=name):
            GenerativeAugment(generator, **{name: -1})
    with pytest.raises(ValueError, match="epoch"):
        GenerativeAugment(generator).set_epoch(-1)


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
            augment(x, bad)


# --- collate ----------------------------------------------------------------------------


def tiny_dataset(n: int = 12, index: bool = False) -> TensorDataset:
    x = (images(n, 1, SIZE, seed=7) * 255).round().to(torch.uint8)
    y = torch.arange(n) % 3
    return TensorDataset(x, y, torch.arange(n)) if index else TensorDataset(x, y)


def run_loader(augment: GenerativeAugment, data: Dataset, workers: int, epochs=(0, 1)):
    loader = DataLoader(
        data, batch_size=3, shuffle=False, num_workers=workers, collate_fn=augment.collate
    )
    results = []
    for epoch in epochs:
        augment.set_epoch(epoch)
        results.append(list(loader))
    return results


def test_collate_in_a_dataloader_matches_direct_calls():
    data = tiny_dataset()
    augment = make_augment(fraction=0.5, seed=4)
    epochs = run_loader(augment, data, workers=0)
    x, y = data.tensors
    for epoch, batches in enumerate(epochs):
        assert len(batches) == 4
        augment.set_epoch(epoch)
        for b, (out, labels, mask) in enumerate(batches):
            rows = slice(3 * b, 3 * b + 3)
            assert out.dtype == torch.uint8 and out.shape == (3, 1, SIZE, SIZE)
            assert torch.equal(labels, y[rows]) and int(mask.sum()) == 2
            assert torch.equal(out[~mask], x[rows][~mask])
            assert_same_result((out, labels, mask), augment(x[rows], y[rows]))
    assert not torch.equal(epochs[0][0][0], epochs[1][0][0]), "epochs 0 and 1 agree"


def test_collate_does_not_depend_on_the_number_of_workers():
    data = tiny_dataset()
    serial = run_loader(make_augment(fraction=0.5, seed=9), data, workers=0)
    parallel = run_loader(make_augment(fraction=0.5, seed=9), data, workers=2)
    for serial_epoch, parallel_epoch in zip(serial, parallel, strict=True):
        assert len(serial_epoch) == len(parallel_epoch) == 4
        for a, b in zip(serial_epoch, parallel_epoch, strict=True):
            assert_same_result(a, b)


def test_collate_rejects_items_of_the_wrong_arity():
    augment = make_augment()
    x = images(2, 1, SIZE)
    bad_batches = (
        [x[0], x[1]],  # bare images
        [(x[0],), (x[1],)],  # images only
        [(x[0], 0, 0, 0), (x[1], 1, 1, 1)],  # four columns
    )
    for items in bad_batches:
        with pytest.raises(ValueError, match=r"items: expected \(image, label\)"):
            augment.collate(items)
    loader = DataLoader(list(x), batch_size=2, collate_fn=augment.collate)
    with pytest.raises(ValueError, match="items: expected"):
        next(iter(loader))


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


def test_bank_does_not_depend_on_batch_size():
    x = images(7, 1, SIZE, seed=3)
    banks = [make_augment(seed=1).build_bank(x, k=2, batch_size=b).images for b in (1, 3, 256)]
    assert torch.equal(banks[0], banks[1]) and torch.equal(banks[0], banks[2])


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
    out, labels, mask = augment(x, y, index=index)
    assert out.dtype == dtype and torch.equal(labels, y)
    assert int(mask.sum()) == expected_count(0.5, len(rows))
    assert torch.equal(out[~mask], x[~mask])
    for row in mask.nonzero().flatten().tolist():
        entries = bank.images[index[row]]
        if dtype != torch.uint8:
            entries = (entries.double() / 255).to(dtype)
        assert any(torch.equal(out[row], entry) for entry in entries), row


def test_bank_draws_use_several_entries_and_replay():
    augment = make_augment(fraction=1.0, seed=0)
    bank = augment.build_bank(images(2, 1, SIZE), k=4)
    x, index = images(32, 1, SIZE), torch.zeros(32, dtype=torch.long)
    y = torch.zeros(32, dtype=torch.long)
    first = augment(x, y, index=index)
    used = {j for j in range(4) for row in first[0] if torch.equal(row, bank.images[0, j] / 255)}
    assert used == {0, 1, 2, 3}
    augment.set_epoch(0)
    assert_same_result(augment(x, y, index=index), first)


def test_bank_collate_with_indices_across_workers():
    data = tiny_dataset(12, index=True)
    results = []
    for workers in (0, 2):
        augment = make_augment(fraction=0.5, seed=6)
        bank = augment.build_bank(data, k=2)
        results.append(run_loader(augment, data, workers, epochs=(0,)))
    for a, b in zip(results[0][0], results[1][0], strict=True):
        assert_same_result(a, b)
    for b, (out, _, mask) in enumerate(results[0][0]):
        for row in mask.nonzero().flatten().tolist():
            entries = bank.images[3 * b + row]
            assert any(torch.equal(out[row], entry) for entry in entries)


def test_bank_mode_needs_indices():
    augment = make_augment(fraction=0.5)
    augment.build_bank(images(4, 1, SIZE), k=2)
    x, y = batch(4)
    with pytest.raises(ValueError, match="index"):
        augment(x, y)
    with pytest.raises(ValueError, match="index"):
        augment.collate([(x[i], y[i]) for i in range(4)])
    with pytest.raises(ValueError, match=r"index: .*\[0, 4\)"):
        augment(x, y, index=torch.tensor([9, 9, 9, 9]))


def test_bank_mode_index_of_the_wrong_length_is_a_clear_error():
    augment = make_augment(fraction=1.0)
    augment.build_bank(images(6, 1, SIZE), k=2)
    x, y = batch(4)
    for index in (torch.arange(3), torch.arange(5)):
        with pytest.raises(ValueError, match="index"):
            augment(x, y, index=index)


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
        for _ in range(2):
            expected = original(x, y, index=index)
            assert_same_result(loaded(x, y, index=index), expected)
    assert torch.equal(loaded(x, generator=seeded(0)), original(x, generator=seeded(0)))


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
