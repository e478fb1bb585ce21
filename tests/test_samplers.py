"""Samplers: target frequencies, sharding, exact resume, schedules, scale, copies, infinite
streams, Lightning and Accelerate sharding, and a real DDP run."""

from __future__ import annotations

import copy
import itertools
import math
import pickle
import warnings
from collections import Counter

import pytest
import torch
from conftest import run_on_two_ranks
from hypothesis import given
from hypothesis import strategies as st
from torch.utils.data import DataLoader, Subset, TensorDataset

from invtransfer._seeding import generator_for
from invtransfer.sampling import (
    BalancedBatchSampler,
    ClassBalancedSampler,
    Deferred,
    RepeatFactorSampler,
)

COUNTS = [2000, 600, 150, 40, 10]
LABELS = torch.arange(len(COUNTS)).repeat_interleave(torch.tensor(COUNTS))


def frequencies(sampler, draws_per_epoch_length: int = 1) -> torch.Tensor:
    drawn = LABELS[list(sampler)]
    return drawn.bincount(minlength=len(COUNTS)).double() / len(drawn)


@pytest.mark.parametrize("power", [1.0, 0.5, 0.0, -1.0])
def test_class_frequencies_match_the_power_law(power):
    sampler = ClassBalancedSampler(LABELS, power=power, epoch_length=200_000, seed=1)
    target = torch.tensor(COUNTS, dtype=torch.float64).pow(power)
    target /= target.sum()
    sigma = (target * (1 - target) / 200_000).sqrt()
    assert ((frequencies(sampler) - target).abs() < 5 * sigma + 1e-9).all()  # 5 sigma
    assert torch.allclose(sampler.class_probabilities, target)


def test_class_frequencies_match_effective_number_weights():
    beta = 0.999
    sampler = ClassBalancedSampler(LABELS, beta=beta, epoch_length=200_000, seed=2)
    counts = torch.tensor(COUNTS, dtype=torch.float64)
    target = counts * (1 - beta) / (1 - beta**counts)
    target /= target.sum()
    sigma = (target * (1 - target) / 200_000).sqrt()
    assert ((frequencies(sampler) - target).abs() < 5 * sigma).all()


def test_members_are_uniform_within_a_class():
    sampler = ClassBalancedSampler(LABELS, power=0.0, epoch_length=100_000, seed=3)
    drawn = torch.tensor(list(sampler))
    smallest = drawn[LABELS[drawn] == 4]  # 10 members, about 2,000 draws each
    hits = smallest.bincount(minlength=len(LABELS))[-10:].double()
    assert hits.min() > 0.8 * hits.mean() and hits.max() < 1.2 * hits.mean()


@given(
    replicas=st.integers(1, 5),
    length=st.integers(1, 60),
    drop_last=st.booleans(),
    seed=st.integers(0, 100),
)
def test_shards_are_disjoint_slices_of_the_single_process_stream(replicas, length, drop_last, seed):
    def sampler(num_replicas, rank):
        return ClassBalancedSampler(
            LABELS,
            epoch_length=length,
            seed=seed,
            num_replicas=num_replicas,
            rank=rank,
            drop_last=drop_last,
        )

    stream = list(sampler(1, 0))
    shards = [list(sampler(replicas, rank)) for rank in range(replicas)]
    assert len({len(shard) for shard in shards}) == 1
    interleaved = [shard[i] for i in range(len(shards[0])) for shard in shards]
    total = len(interleaved)
    assert total == (
        length // replicas * replicas if drop_last else math.ceil(length / replicas) * replicas
    )
    padded = (stream * (total // length + 1))[:total]
    assert interleaved == padded  # position g of the stream goes to rank g % replicas


def test_resume_mid_epoch_yields_exactly_the_remaining_indices():
    sampler = ClassBalancedSampler(LABELS, seed=4, num_replicas=3, rank=1)
    sampler.set_epoch(2)
    full = list(sampler)
    partial = ClassBalancedSampler(LABELS, seed=4, num_replicas=3, rank=1)
    partial.set_epoch(2)
    iterator = iter(partial)
    head = [next(iterator) for _ in range(317)]
    state = partial.state_dict()
    assert state == {"epoch": 2, "position": 317}
    restored = ClassBalancedSampler(LABELS, seed=4, num_replicas=3, rank=1)
    restored.load_state_dict(state)
    restored.set_epoch(2)  # as frameworks do at each epoch start: the position stays
    assert head + list(restored) == full
    with pytest.raises(ValueError, match=r"state\['position'\]: expected an int in \[0, 934\]"):
        restored.load_state_dict({"epoch": 2, "position": 935})


def test_epochs_differ_and_repeat():
    sampler = ClassBalancedSampler(LABELS, seed=5)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first
    sampler.set_epoch(0)
    assert list(sampler) == first


def test_schedule_is_applied_in_set_epoch_only():
    sampler = ClassBalancedSampler(LABELS, schedule=Deferred(3, before=1.0, after=0.0))
    assert sampler.power == 1.0
    list(sampler)
    list(sampler)
    assert sampler.power == 1.0  # iterating never advances the schedule
    sampler.set_epoch(3)
    assert sampler.power == 0.0
    assert torch.allclose(sampler.class_probabilities, torch.full((5,), 0.2, dtype=torch.float64))


@pytest.mark.parametrize(
    ("epoch_length", "expected"),
    [("dataset", 2800), ("max_class", 10_000), ("min_class", 50), (123, 123)],
)
def test_epoch_lengths(epoch_length, expected):
    assert len(ClassBalancedSampler(LABELS, epoch_length=epoch_length)) == expected


def test_labels_come_from_the_dataset_without_decoding():
    data = TensorDataset(torch.zeros(len(LABELS)))
    data.targets = LABELS
    subset = Subset(data, list(range(0, len(LABELS), 2)))
    sampler = ClassBalancedSampler(subset, seed=0)
    assert max(sampler) < len(subset)
    loader = DataLoader(subset, batch_size=64, sampler=sampler)
    assert sum(len(batch[0]) for batch in loader) == len(subset)


def test_many_labels_use_chunks_not_a_weight_vector():
    labels = torch.randint(0, 1000, (3_000_000,), generator=torch.Generator().manual_seed(0))
    sampler = ClassBalancedSampler(labels, power=0.0, seed=0, num_replicas=4, rank=3)
    assert len(sampler) == 750_000
    iterator = iter(sampler)
    first = [next(iterator) for _ in range(5)]
    assert all(0 <= index < 3_000_000 for index in first)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"dataset_or_labels": [0, 1.5]}, TypeError, "integer class labels"),
        ({"dataset_or_labels": [0, -1]}, ValueError, "labels >= 0"),
        (
            {"dataset_or_labels": [0, 2]},
            ValueError,
            r"at least 1 example, received \[0\] for classes \[1\]",
        ),
        ({"epoch_length": 0}, ValueError, "epoch_length: expected"),
        ({"epoch_length": "all"}, ValueError, "epoch_length: expected"),
        (
            {"num_replicas": 2, "rank": 2},
            ValueError,
            r"rank: expected an int in \[0, num_replicas=2\)",
        ),
        ({"beta": 1.0}, ValueError, "beta: expected a number in"),
        ({"seed": -1}, ValueError, "seed: expected an int >= 0"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, error, message):
    arguments = {"dataset_or_labels": LABELS, **kwargs}
    with pytest.raises(error, match=message):
        ClassBalancedSampler(**arguments)


def test_repeat_factor_sampler_single_and_multi_label():
    sampler = RepeatFactorSampler([0] * 96 + [1] * 4, threshold=0.25, rounding="ceil", seed=0)
    assert sampler.repeat_factors[-1] == pytest.approx(2.5)
    assert len(sampler) == 96 + 4 * 3
    drawn = torch.tensor(list(sampler))
    assert drawn.bincount(minlength=100)[96:].tolist() == [3, 3, 3, 3]
    multi = RepeatFactorSampler([[0], [0, 1], [0], [0]], threshold=0.5, sqrt=False)
    assert multi.repeat_factors.tolist() == [1.0, 2.0, 1.0, 1.0]
    matrix = torch.tensor([[True, False], [True, True], [True, False], [True, False]])
    assert torch.equal(
        RepeatFactorSampler(matrix, threshold=0.5, sqrt=False).repeat_factors, multi.repeat_factors
    )


def test_repeat_factor_stochastic_rounding_is_unbiased():
    sampler = RepeatFactorSampler([0] * 900 + [1] * 100, threshold=0.25, seed=0)  # r = 1.58
    lengths = []
    for epoch in range(200):
        sampler.set_epoch(epoch)
        lengths.append(len(sampler))
    expected = 900 + 100 * math.sqrt(2.5)
    assert abs(sum(lengths) / len(lengths) - expected) < 2


def test_balanced_batch_sampler_batches():
    labels = [0] * 50 + [1] * 5 + [2] * 2 + [3] * 30
    sampler = BalancedBatchSampler(labels, classes_per_batch=3, samples_per_class=4, seed=0)
    for batch in sampler:
        classes = torch.tensor(labels)[batch]
        assert len(batch) == 12 and len(classes.unique()) == 3
        assert all(int((classes == c).sum()) == 4 for c in classes.unique())
    ranks = [
        list(BalancedBatchSampler(labels, 3, 4, seed=0, num_replicas=2, rank=r)) for r in (0, 1)
    ]
    assert ranks[0] != ranks[1] and len(ranks[0]) == len(ranks[1])
    with pytest.raises(ValueError, match="classes_per_batch: expected at most 4"):
        BalancedBatchSampler(labels, 5, 2)


_MADE_BEFORE_THE_GROUP = ClassBalancedSampler(LABELS, power=0.5, epoch_length=1001, seed=7)
"""Built when a process imports this module: in a spawned rank, before it joins the group."""


def _sampler_shard(rank: int) -> list[list[int]]:
    sampler = ClassBalancedSampler(LABELS, power=0.5, epoch_length=1001, seed=7)
    shards = []
    for each in (sampler, _MADE_BEFORE_THE_GROUP):
        each.set_epoch(3)
        shards.append(list(each))
    return shards


def test_a_real_two_process_gloo_run_agrees_with_the_single_process_stream(tmp_path):
    shards = run_on_two_ranks(_sampler_shard, tmp_path)
    single = ClassBalancedSampler(
        LABELS, power=0.5, epoch_length=1001, seed=7, num_replicas=1, rank=0
    )
    single.set_epoch(3)
    stream = list(single)
    for made_inside, made_before in shards:  # rank 0, rank 1
        assert made_inside == made_before  # the group is read when needed, not at construction
    assert shards[0][0] == stream[0::2] and shards[1][0] == (stream + stream[:1])[1::2]


def test_every_iteration_of_an_epoch_yields_the_whole_epoch():
    sampler = ClassBalancedSampler(LABELS, seed=8)
    assert list(sampler) == list(sampler) and len(list(sampler)) == len(sampler)
    batches = BalancedBatchSampler(LABELS, 2, 2, seed=0)
    assert list(batches) == list(batches)


SAMPLERS = {
    "class_balanced": lambda **kwargs: ClassBalancedSampler(
        LABELS, epoch_length=257, seed=9, schedule=Deferred(1, before=1.0, after=0.0), **kwargs
    ),
    "repeat_factor": lambda **kwargs: RepeatFactorSampler(LABELS, threshold=0.1, seed=9, **kwargs),
    "balanced_batch": lambda **kwargs: BalancedBatchSampler(
        LABELS, 3, 4, batches_per_epoch=23, seed=9, **kwargs
    ),
}
"""Each sampler, small; the class-balanced one changes its power after epoch 0."""
every_sampler = pytest.mark.parametrize("name", sorted(SAMPLERS))

ROUND_TRIPS = {
    "copy": copy.copy,
    "deepcopy": copy.deepcopy,
    "pickle": lambda value: pickle.loads(pickle.dumps(value)),
}


def take(iterator, count: int) -> list:
    return list(itertools.islice(iterator, count))


def finite_epochs(sampler, epochs: int) -> list:
    """Epochs ``0 .. epochs - 1`` of a finite sampler, end to end."""
    stream = []
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        stream += list(sampler)
    return stream


@every_sampler
@pytest.mark.parametrize("round_trip", sorted(ROUND_TRIPS))
@pytest.mark.parametrize("infinite", [False, True])
def test_copies_continue_from_where_the_sampler_stood(name, round_trip, infinite):
    sampler = SAMPLERS[name](num_replicas=2, rank=1, infinite=infinite)
    before = ROUND_TRIPS[round_trip](sampler)
    length = sampler.num_samples
    stream = iter(sampler)
    head = take(stream, length // 2 + (length if infinite else 0))  # mid epoch 0, or epoch 1
    middle = ROUND_TRIPS[round_trip](sampler)
    assert middle.state_dict() == sampler.state_dict() == {"epoch": 0, "position": len(head)}
    rest = take(iter(middle), length - length // 2)
    assert len(rest) == length - length // 2
    assert take(stream, len(rest)) == rest  # the copy continues; the original, untouched
    assert take(iter(before), len(head) + len(rest)) == head + rest  # copied before: all of it


@every_sampler
def test_an_infinite_stream_is_the_finite_epochs_end_to_end(name):
    expected = finite_epochs(SAMPLERS[name](num_replicas=3, rank=2), 4)
    sampler = SAMPLERS[name](num_replicas=3, rank=2, infinite=True)
    drawn = take(iter(sampler), len(expected))
    assert drawn == expected
    assert sampler.epoch == 3 and sampler.state_dict() == {"epoch": 0, "position": len(drawn)}
    assert take(iter(sampler), 5) == expected[:5]  # a new iteration starts the epoch set again


@every_sampler
def test_an_infinite_stream_resumes_exactly_across_a_roll_over(name):
    expected = finite_epochs(SAMPLERS[name](), 3)
    sampler = SAMPLERS[name](infinite=True)
    consumed = len(expected) * 2 // 3  # two thirds in: past a roll-over
    stream = iter(sampler)
    take(stream, consumed)
    state = sampler.state_dict()
    assert state == {"epoch": 0, "position": consumed}
    resumed = SAMPLERS[name](infinite=True)
    resumed.load_state_dict(state)
    resumed.set_epoch(0)  # as Lightning and Accelerate do: the epoch already set changes nothing
    continued = take(iter(resumed), len(expected) - consumed)
    assert continued == take(stream, len(expected) - consumed) == expected[consumed:]
    resumed.set_epoch(1)  # another epoch: its stream from the start
    epoch_1 = finite_epochs(SAMPLERS[name](), 2)[-resumed.num_samples :]
    assert take(iter(resumed), 7) == epoch_1[:7]


def test_an_infinite_sampler_has_no_length_but_a_data_loader_runs_it():
    sampler = ClassBalancedSampler(LABELS, epoch_length=10, seed=0, infinite=True)
    with pytest.raises(TypeError, match=r"len\(sampler\): expected a finite sampler.*10 per rank"):
        len(sampler)
    loader = DataLoader(TensorDataset(torch.arange(len(LABELS))), batch_size=4, sampler=sampler)
    with pytest.raises(TypeError, match="expected a finite sampler"):
        len(loader)
    drawn = torch.cat([batch for (batch,) in itertools.islice(loader, 5)])  # 2 epochs of 10
    assert drawn.tolist() == finite_epochs(ClassBalancedSampler(LABELS, epoch_length=10), 2)
    with pytest.raises(ValueError, match="infinite: expected epochs that give every rank"):
        ClassBalancedSampler(LABELS, epoch_length=1, num_replicas=2, rank=1, drop_last=True,
                             infinite=True)  # fmt: skip


@pytest.mark.slow
def test_spawned_workers_give_the_batches_of_a_single_process_loader():
    data = TensorDataset(torch.arange(len(LABELS)))

    def batches(**kwargs) -> list[list[int]]:
        sampler = SAMPLERS["class_balanced"](infinite=True)
        loader = DataLoader(data, batch_size=32, sampler=sampler, **kwargs)
        return [batch.tolist() for (batch,) in itertools.islice(loader, 12)]  # 1.5 epochs

    serial = batches()
    assert batches(num_workers=2, multiprocessing_context="spawn") == serial
    drawn = list(itertools.chain.from_iterable(serial))
    assert drawn == finite_epochs(SAMPLERS["class_balanced"](), 2)[: 12 * 32]


@pytest.mark.parametrize("shuffle", [False, True])  # Lightning shuffles training loaders
def test_lightning_wrapper_splits_a_single_process_sampler_into_disjoint_halves(shuffle):
    distributed = pytest.importorskip("lightning.fabric.utilities.distributed")
    single = ClassBalancedSampler(LABELS, epoch_length=1000, seed=3, num_replicas=1, rank=0)
    wrapped = [
        distributed.DistributedSamplerWrapper(single, num_replicas=2, rank=rank, shuffle=shuffle)
        for rank in (0, 1)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sharded once: no warning
        for wrapper in wrapped:
            wrapper.set_epoch(2)  # forwarded to our sampler
    halves = [list(wrapper) for wrapper in wrapped]
    stream = finite_epochs(single, 3)[-1000:]  # epoch 2
    assert single.epoch == 2 and [len(half) for half in halves] == [500, 500]
    if shuffle:  # positions shuffled, then dealt out: together they are the stream
        assert Counter(halves[0]) + Counter(halves[1]) == Counter(stream)
        assert halves[0] != stream[0::2]
    else:
        assert halves == [stream[0::2], stream[1::2]]
    sharding = ClassBalancedSampler(LABELS, seed=3, num_replicas=2, rank=0)
    wrapper = distributed.DistributedSamplerWrapper(sharding, num_replicas=2, rank=0)
    with pytest.warns(UserWarning, match="DistributedSamplerWrapper over 2 replicas shards it"):
        wrapper.set_epoch(1)


@pytest.fixture
def accelerate_data_loader():
    """Accelerate's ``prepare_data_loader``; its process state is cleared after the test."""
    data_loader = pytest.importorskip("accelerate.data_loader")
    from accelerate.state import PartialState

    fresh = not PartialState._shared_state
    yield data_loader.prepare_data_loader
    if fresh:
        PartialState._reset_state()


def test_accelerate_prepare_deals_a_single_process_stream_out_in_batches(accelerate_data_loader):
    data = TensorDataset(torch.arange(len(LABELS)))
    loaders = {
        "sampler": lambda **kw: DataLoader(
            data, batch_size=4, sampler=ClassBalancedSampler(LABELS, epoch_length=64, **kw)
        ),
        "batch_sampler": lambda **kw: DataLoader(
            data, batch_sampler=BalancedBatchSampler(LABELS, 2, 2, batches_per_epoch=16, **kw)
        ),
    }
    for make in loaders.values():
        single = [batch.tolist() for (batch,) in make(num_replicas=1, rank=0)]
        for rank in (0, 1):
            prepared = accelerate_data_loader(
                make(num_replicas=1, rank=0), num_processes=2, process_index=rank
            )
            assert [batch.tolist() for (batch,) in prepared] == single[rank::2]
    sharding = loaders["sampler"](num_replicas=2, rank=0)  # Accelerate reaches its set_epoch
    twice = accelerate_data_loader(sharding, num_processes=2, process_index=0)
    with pytest.warns(UserWarning, match=r"Accelerate's prepare\(\) over 2 processes shards it"):
        next(iter(twice))


def test_instance_balanced_epochs_are_shuffles_of_the_dataset():
    labels = torch.tensor([0] * 12 + [1] * 3 + [2])
    sampler = ClassBalancedSampler(labels, schedule=Deferred(2, before=1.0, after=0.0), seed=3)
    for epoch in range(2):  # DRS's instance-balanced phase: each example once, reshuffled
        sampler.set_epoch(epoch)
        drawn = torch.tensor(list(sampler))
        assert sorted(drawn.tolist()) == list(range(16))
        assert torch.equal(drawn, torch.randperm(16, generator=generator_for(3, epoch, 1 << 62, 0)))
    sampler.set_epoch(2)  # class-balanced from the defer epoch: draws with replacement
    assert torch.tensor(list(sampler)).bincount(minlength=16).max() > 1


def test_an_instance_balanced_epoch_longer_than_the_data_is_back_to_back_shuffles():
    labels = torch.tensor([0] * 4 + [1] * 2)
    sampler = ClassBalancedSampler(labels, power=1.0, epoch_length=15, seed=0)
    drawn = list(sampler)
    assert [sorted(drawn[i : i + 6]) for i in (0, 6)] == [list(range(6))] * 2
    third_pass = torch.randperm(6, generator=generator_for(0, 0, 1 << 62, 2))
    assert drawn[12:] == third_pass[:3].tolist()
