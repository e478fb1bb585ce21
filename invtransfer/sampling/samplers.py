"""Samplers for long-tailed data that are reproducible, resumable and distributed by design.

Every sampler derives its random stream from ``(seed, epoch)`` alone, never from global
RNGs; every rank builds the same global stream and takes its own strided slice
(`invtransfer.sampling.distributed.Shard`); ``set_epoch`` moves to a new epoch (and
applies a schedule); ``state_dict`` and ``load_state_dict`` resume mid-epoch exactly; with
``infinite=True`` the stream never ends, epochs rolling over as ``set_epoch(epoch + 1)``
would; copies and pickles continue from where the sampler stood.

Shard once. With ``num_replicas=None`` (the default) a sampler shards itself from the process
group, which is right for plain DDP and for Lightning with
``Trainer(use_distributed_sampler=False)``. Accelerate's ``prepare()`` shards the batches
itself: pass ``num_replicas=1, rank=0`` there. A sampler that shards and finds a wrapper that
shards again (Lightning's default ``DistributedSamplerWrapper``, Accelerate's
``BatchSamplerShard``) calling its ``set_epoch`` warns.
"""

from __future__ import annotations

import operator
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset, Sampler

from invtransfer import _validation as validate
from invtransfer._seeding import generator_for
from invtransfer.labels import check_class_counts, class_counts, resolve_labels
from invtransfer.sampling.distributed import Shard, resharding_wrapper, resolve_replicas
from invtransfer.sampling.schedules import Schedule, as_schedule

__all__ = ["BalancedBatchSampler", "ClassBalancedSampler", "RepeatFactorSampler"]

_SHUFFLE = 1 << 62
"""Keys instance-balanced passes, ``(seed, epoch, _SHUFFLE, pass)``, apart from the class draws
of chunk ``k``, ``(seed, epoch, k)``."""

_CHUNK = 1 << 20
"""Global stream positions generated at a time: memory stays bounded for any epoch length."""

LabelSource = Dataset | Sequence[int] | Tensor


class _ShardedSampler(Sampler):
    """The shared machinery: epochs, seeds, sharding, resumable positions, endless streams.

    Subclasses give the epoch's global stream length (``_stream_length``) and this rank's
    items of the current epoch from a step on (``_epoch_items``), keeping ``_progress``
    (the end of the items made so far, and an iterator over those not yet yielded) current.
    They call ``_ready()`` at the end of ``__init__``.
    """

    def __init__(
        self, seed: int, num_replicas: int | None, rank: int | None, drop_last: bool, infinite: bool
    ) -> None:
        validate.seed("seed", seed)
        validate.boolean("drop_last", drop_last)
        validate.boolean("infinite", infinite)
        resolve_replicas(num_replicas, rank)  # given values are checked now, the group's later
        self.seed = seed
        self._replicas = (num_replicas, rank)
        self.drop_last = drop_last
        self.infinite = infinite
        self.epoch = 0  # the epoch being drawn
        self._start_epoch = 0  # the epoch set last: state_dict's "epoch"
        self._skipped = 0  # indices yielded in the epochs _start_epoch .. epoch - 1 (infinite)
        self._resume_at: int | None = None  # where in `epoch` the next iteration continues
        self._progress: tuple[int, Iterator[Any]] = (0, iter(()))

    def _ready(self) -> None:
        """End of construction: derive epoch 0; refuse an endless stream of empty epochs."""
        self._on_epoch()
        self._shard()

    @property
    def num_replicas(self) -> int:
        """The number of ranks: as given, else the process group's size when asked (so a
        sampler made before ``init_process_group``, or pickled into a rank, shards right)."""
        return resolve_replicas(*self._replicas)[0]

    @property
    def rank(self) -> int:
        """This process's rank: as given, else the process group's when asked."""
        return resolve_replicas(*self._replicas)[1]

    @property
    def num_samples(self) -> int:
        """How many indices (batches for a batch sampler) this rank draws in the current
        epoch: ``len(sampler)``, which an infinite sampler does not have."""
        return self._shard().num_samples

    def set_epoch(self, epoch: int) -> None:
        """Start the stream at ``epoch`` (a new stream; applies the schedule); the next
        iteration yields it from its beginning.

        Setting the epoch already set changes nothing: frameworks that call ``set_epoch`` at
        every epoch start (Lightning, Accelerate) leave a position restored by
        ``load_state_dict`` in place, and an infinite stream where it is.
        """
        validate.non_negative_int("epoch", epoch)
        self._warn_if_sharded_again(sys._getframe(1).f_locals.get("self"))
        if epoch != self._start_epoch:
            self._start_epoch, self._resume_at = epoch, None
            self._enter(epoch, skipped=0)

    def state_dict(self) -> dict[str, int]:
        """``{"epoch", "position"}``: the epoch set last and how many indices (batches for a
        batch sampler) this rank has yielded since; an infinite stream counts on across epochs.

        A ``DataLoader`` fetches ahead of training; to resume exactly, store the number of
        samples (batches) training has actually consumed as ``position``.
        """
        return {"epoch": self._start_epoch, "position": self._skipped + self._position_in_epoch()}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Resume: the next iteration continues the stream of epoch ``state["epoch"]`` after
        ``state["position"]`` indices, rolling over into later epochs if infinite (later
        iterations start again from the beginning of that epoch)."""
        if not isinstance(state, Mapping) or not {"epoch", "position"} <= state.keys():
            raise TypeError(
                f"state: expected a state_dict with 'epoch' and 'position', received {state!r}"
            )
        epoch = validate.non_negative_int("state['epoch']", state["epoch"])
        position = validate.non_negative_int("state['position']", state["position"])
        self._start_epoch = epoch
        self._enter(epoch, skipped=0)
        while self.infinite and position - self._skipped > self.num_samples:
            self._enter(self.epoch + 1, skipped=self._skipped + self.num_samples)
        within = position - self._skipped
        if within > self.num_samples:
            raise ValueError(
                f"state['position']: expected an int in [0, {self.num_samples}], "
                f"received {position!r}"
            )
        self._resume_at, self._progress = within, (within, iter(()))

    def __getstate__(self) -> dict[str, Any]:
        """What ``copy``, ``deepcopy`` and ``pickle`` keep: everything but a live iteration,
        which becomes the position the copy's next iteration continues from."""
        state = self.__dict__.copy()
        within = self._position_in_epoch()
        state["_resume_at"], state["_progress"] = within, (within, iter(()))
        return state

    def __len__(self) -> int:
        if self.infinite:
            raise TypeError(
                f"len(sampler): expected a finite sampler, received {type(self).__name__}"
                f"(infinite=True), which never ends ({self.num_samples} per rank and epoch): "
                "count steps, not epochs (under Lightning, Trainer(use_distributed_sampler="
                "False) lets the sampler shard itself without asking for a length)"
            )
        return self.num_samples

    def __iter__(self) -> Iterator[Any]:
        start, self._resume_at = self._resume_at, None
        if start is None:
            self._enter(self._start_epoch, skipped=0)
            start = 0
        while True:
            yield from self._epoch_items(start)
            if not self.infinite:
                return
            self._enter(self.epoch + 1, skipped=self._skipped + self.num_samples)
            start = 0

    def _enter(self, epoch: int, skipped: int) -> None:
        """Draw ``epoch`` next, from its beginning, ``skipped`` indices after the epoch set."""
        if epoch != self.epoch:
            self.epoch = epoch
            self._on_epoch()
        self._skipped, self._progress = skipped, (0, iter(()))

    def _position_in_epoch(self) -> int:
        stop, rest = self._progress
        return stop - operator.length_hint(rest)

    def _warn_if_sharded_again(self, caller: object) -> None:
        num_replicas = self.num_replicas
        wrapper = resharding_wrapper(caller)
        if wrapper is None or num_replicas == 1:
            return
        warnings.warn(
            f"{type(self).__name__} gives this rank 1/{num_replicas} of the stream and {wrapper} "
            "shards it again, so each rank sees a fraction of its share. Shard once: pass "
            "num_replicas=1, rank=0 to the sampler (Accelerate), or keep the default and use "
            "Trainer(use_distributed_sampler=False) (Lightning)",
            stacklevel=3,
        )

    def _epoch_items(self, start: int) -> Iterator[Any]:
        """This rank's indices of the current epoch from step ``start`` on."""
        shard, cached = self._shard(), (-1, torch.empty(0, dtype=torch.long))
        for block_start, block_stop in shard.blocks(start, _CHUNK):
            indices, cached = self._indices_at(shard.positions(block_start, block_stop), cached)
            rest = iter(indices.tolist())
            self._progress = (block_stop, rest)  # position = block_stop - what rest holds
            yield from rest

    def _indices_at(
        self, positions: Tensor, cached: tuple[int, Tensor]
    ) -> tuple[Tensor, tuple[int, Tensor]]:
        """The stream at ``positions``, keeping the last chunk made for the next call."""
        chunks = positions // _CHUNK
        first, last = int(chunks.min()), int(chunks.max())
        if first == last:  # the usual case: one chunk
            if cached[0] != first:
                cached = (first, self._stream_chunk(first))
            return cached[1][positions - first * _CHUNK], cached
        out = torch.empty_like(positions)
        for chunk in chunks.unique().tolist():
            if cached[0] != chunk:
                cached = (chunk, self._stream_chunk(chunk))
            selected = chunks == chunk
            out[selected] = cached[1][positions[selected] - chunk * _CHUNK]
        return out, cached

    def _shard(self) -> Shard:
        num_replicas, rank = resolve_replicas(*self._replicas)
        shard = Shard(self._stream_length(), num_replicas, rank, self.drop_last)
        if self.infinite and shard.num_samples == 0:
            raise ValueError(
                "infinite: expected epochs that give every rank at least one index, received "
                f"an epoch of {shard.length} for {num_replicas} ranks with drop_last=True"
            )
        return shard

    def _on_epoch(self) -> None:
        """Hook for subclasses: the epoch changed."""

    def _stream_length(self) -> int:
        raise NotImplementedError

    def _stream_chunk(self, chunk: int) -> Tensor:
        raise NotImplementedError


class ClassBalancedSampler(_ShardedSampler):
    """Draw a class, then a member of it: class probabilities set by the class sizes.

    Class ``c`` is drawn with probability proportional to ``n_c ** power`` (``power=1``
    instance-balanced, ``0.5`` square-root, ``0`` class-balanced, negative reversed), or, with
    ``beta``, to ``n_c * w_c`` for effective-number weights ``w_c = (1 - beta) / (1 -
    beta ** n_c)`` (each example weighted by its class's ``w_c``). Members are drawn uniformly,
    with replacement. Labels are grouped once; there is no per-sample weight vector, so there
    is no 2**24 limit, and each epoch is generated in fixed-size chunks.

    Instance-balanced epochs (``power`` exactly 1, no ``beta``) are plain shuffles instead, as
    in standard training and in the instance-balanced phase of deferred re-sampling (DRS):
    every example once per pass over the dataset, passes shuffled independently from
    ``(seed, epoch, pass)``, so an epoch of ``"dataset"`` length is one permutation.

    Args:
        dataset_or_labels: a labelled dataset (labels read without decoding images) or labels.
        power: the exponent ``q``; ignored when ``beta`` is given.
        beta: effective-number parameter in [0, 1), instead of ``power``.
        epoch_length: indices per epoch over all ranks: ``"dataset"`` (the dataset size),
            ``"max_class"`` / ``"min_class"`` (number of classes times the largest / smallest
            class), or an int.
        seed: the stream of epoch ``e`` depends on ``(seed, e)`` only.
        num_replicas: the number of ranks; by default the process group's size, read when
            needed. Shard once: keep the default under plain DDP and under Lightning with
            ``Trainer(use_distributed_sampler=False)``; pass ``num_replicas=1, rank=0`` where
            the framework shards (Accelerate's ``prepare()``, Lightning's default).
        rank: this process's rank; by default the process group's.
        schedule: a ``Schedule`` (epoch -> power) applied in ``set_epoch``, e.g. deferred
            re-sampling ``Deferred(160, before=1.0, after=0.0)``.
        drop_last: cut the stream to a multiple of ``num_replicas`` instead of padding it.
        infinite: never stop: after each epoch the next one follows, as ``set_epoch(epoch +
            1)`` would start it (for loops that count steps); ``len()`` raises ``TypeError``.

    Examples:
        >>> labels = [0] * 90 + [1] * 9 + [2] * 1
        >>> sampler = ClassBalancedSampler(labels, power=0.0, seed=0)
        >>> drawn = torch.tensor(labels)[list(sampler)]
        >>> len(drawn), drawn.bincount().tolist()  # about a third each
        (100, [36, 30, 34])

        Infinite: the stream is epochs 0, 1, 2, ... end to end.

        >>> endless = ClassBalancedSampler(labels, power=0.0, seed=0, infinite=True)
        >>> stream = iter(endless)
        >>> head = [next(stream) for _ in range(250)]  # two and a half epochs
        >>> epochs = []
        >>> for epoch in range(3):
        ...     sampler.set_epoch(epoch)
        ...     epochs += list(sampler)
        >>> head == epochs[:250], endless.epoch, endless.state_dict()
        (True, 2, {'epoch': 0, 'position': 250})
    """

    def __init__(
        self,
        dataset_or_labels: LabelSource,
        power: float = 0.0,
        beta: float | None = None,
        epoch_length: int | str = "dataset",
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
        schedule: Schedule | None = None,
        drop_last: bool = False,
        infinite: bool = False,
    ) -> None:
        super().__init__(seed, num_replicas, rank, drop_last, infinite)
        self.class_counts, self._order = _group_by_class(dataset_or_labels)
        self._starts = self.class_counts.cumsum(0) - self.class_counts
        self.beta = (
            None if beta is None else validate.finite_float("beta", beta, 0, 1, open_high=True)
        )
        self.schedule = as_schedule(schedule, "schedule")
        self.power = validate.finite_float("power", power)
        self._epoch_length = _epoch_length(epoch_length, self.class_counts)
        self._ready()

    @property
    def class_probabilities(self) -> Tensor:
        """The probability of drawing each class (float64) in the current epoch."""
        counts = self.class_counts.to(torch.float64)
        if self.beta is not None:
            mass = counts * (1 - self.beta) / (1 - torch.pow(self.beta, counts))
        else:
            mass = counts.pow(self.power)
        return mass / mass.sum()

    def _on_epoch(self) -> None:
        if self.schedule is not None:
            self.power = self.schedule(self.epoch)
        self._alias_probability, self._alias = _alias_table(self.class_probabilities)

    def _stream_length(self) -> int:
        return self._epoch_length

    def _stream_chunk(self, chunk: int) -> Tensor:
        size = min(_CHUNK, self._epoch_length - chunk * _CHUNK)
        if self.power == 1.0 and self.beta is None:
            return self._shuffled(chunk * _CHUNK, size)
        generator = generator_for(self.seed, self.epoch, chunk)
        uniforms = torch.rand(2, size, generator=generator, dtype=torch.float64)
        scaled = uniforms[0] * len(self.class_counts)
        column = scaled.long().clamp_max_(len(self.class_counts) - 1)
        keep = (scaled - column) < self._alias_probability[column]  # Walker's alias method
        classes = torch.where(keep, column, self._alias[column])
        sizes = self.class_counts[classes]
        members = (uniforms[1] * sizes).long().minimum(sizes - 1)
        return self._order[self._starts[classes] + members]

    def _shuffled(self, start: int, size: int) -> Tensor:
        """Positions ``start .. start + size`` of back-to-back shuffled passes over the data."""
        n = len(self._order)
        passes = range(start // n, (start + size - 1) // n + 1)
        stream = torch.cat(
            [
                torch.randperm(n, generator=generator_for(self.seed, self.epoch, _SHUFFLE, p))
                for p in passes
            ]
        )
        offset = start - passes[0] * n
        return stream[offset : offset + size]


class RepeatFactorSampler(_ShardedSampler):
    """Repeat-factor sampling (LVIS): images of rare classes appear more often per epoch.

    Class ``c`` with frequency ``f_c`` (the share of images that contain it) gets
    ``r_c = max(1, (threshold / f_c) ** 0.5)`` (``sqrt=False``: the linear ratio); an image
    takes the largest ``r_c`` among its labels. Each epoch an image appears ``floor(r)`` times
    plus one more with probability ``r - floor(r)`` (``rounding="stochastic"``), or
    ``ceil(r)`` times (``"ceil"``), in a shuffled order.

    Args:
        dataset_or_labels: single-label data (a dataset or 1-D labels), or multi-label data
            as a list of label lists or an ``(N, C)`` boolean matrix.
        threshold: the frequency below which classes are repeated.
        sqrt: ``r_c = max(1, sqrt(threshold / f_c))``; ``False``: without the square root.
        rounding: ``"stochastic"`` or ``"ceil"``.
        seed: the stream of epoch ``e`` depends on ``(seed, e)`` only.
        num_replicas: the number of ranks; by default the process group's size (shard once:
            see `ClassBalancedSampler`).
        rank: this process's rank; by default the process group's.
        drop_last: cut the stream to a multiple of ``num_replicas`` instead of padding it.
        infinite: never stop: epochs follow one another (see `ClassBalancedSampler`).

    Examples:
        >>> sampler = RepeatFactorSampler([0] * 98 + [1] * 2, threshold=0.5, seed=0)
        >>> sampler.repeat_factors[[0, 98]].tolist()  # sqrt(0.5 / 0.98), sqrt(0.5 / 0.02)
        [1.0, 5.0]
        >>> len(sampler)  # 98 images once, 2 images five times
        108
    """

    def __init__(
        self,
        dataset_or_labels: LabelSource | Sequence[Sequence[int]],
        threshold: float = 0.001,
        sqrt: bool = True,
        rounding: str = "stochastic",
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
        drop_last: bool = False,
        infinite: bool = False,
    ) -> None:
        super().__init__(seed, num_replicas, rank, drop_last, infinite)
        validate.finite_float("threshold", threshold, 0, 1, open_low=True)
        self.rounding = validate.one_of("rounding", rounding, ("stochastic", "ceil"))
        validate.boolean("sqrt", sqrt)
        images, labels, num_images = _image_label_pairs(dataset_or_labels)
        frequency = torch.bincount(labels).to(torch.float64) / num_images
        ratio = (threshold / frequency).clamp_min(1)  # empty classes: infinite, never used
        per_class = ratio.sqrt() if sqrt else ratio
        factors = torch.ones(num_images, dtype=torch.float64)
        factors.scatter_reduce_(0, images, per_class[labels], "amax")
        self.repeat_factors = factors
        self._ready()

    def _on_epoch(self) -> None:
        factors = self.repeat_factors
        generator = generator_for(self.seed, self.epoch)
        whole = factors.floor()
        if self.rounding == "ceil":
            repeats = factors.ceil()
        else:
            repeats = whole + (
                torch.rand(len(factors), generator=generator, dtype=torch.float64) < factors - whole
            )
        stream = torch.arange(len(factors)).repeat_interleave(repeats.long())
        self._stream = stream[torch.randperm(len(stream), generator=generator)]

    def _stream_length(self) -> int:
        return len(self._stream)

    def _stream_chunk(self, chunk: int) -> Tensor:
        return self._stream[chunk * _CHUNK : (chunk + 1) * _CHUNK]


class BalancedBatchSampler(_ShardedSampler):
    """Batches of ``classes_per_batch`` distinct classes times ``samples_per_class`` members.

    A batch sampler (pass it as ``DataLoader(batch_sampler=...)``): every batch draws P
    classes uniformly without replacement, then K members of each, without replacement when
    the class has at least K (else cycling through a shuffled class). Ranks take distinct
    batches of the same global batch stream.

    Args:
        dataset_or_labels: a labelled dataset (labels read without decoding images) or labels.
        classes_per_batch: P, at most the number of classes.
        samples_per_class: K.
        batches_per_epoch: batches per epoch over all ranks; by default as many as the dataset
            fills (at least one).
        seed: the batches of epoch ``e`` depend on ``(seed, e)`` only. Frameworks call
            ``set_epoch`` of ``loader.sampler`` and ``loader.batch_sampler.sampler``, which
            this is not: call its ``set_epoch`` yourself, under Lightning and Accelerate too.
        num_replicas: the number of ranks; by default the process group's size (shard once:
            see `ClassBalancedSampler`; Lightning cannot shard a batch sampler of this kind).
        rank: this process's rank; by default the process group's.
        drop_last: cut the batch stream to a multiple of ``num_replicas`` instead of padding.
        infinite: never stop: epochs follow one another (see `ClassBalancedSampler`).

    Examples:
        >>> sampler = BalancedBatchSampler([0] * 50 + [1] * 5 + [2] * 2, 2, 3, seed=0)
        >>> batch = next(iter(sampler))
        >>> len(batch), len(sampler)
        (6, 9)
    """

    def __init__(
        self,
        dataset_or_labels: LabelSource,
        classes_per_batch: int,
        samples_per_class: int,
        batches_per_epoch: int | None = None,
        seed: int = 0,
        num_replicas: int | None = None,
        rank: int | None = None,
        drop_last: bool = False,
        infinite: bool = False,
    ) -> None:
        super().__init__(seed, num_replicas, rank, drop_last, infinite)
        self.class_counts, order = _group_by_class(dataset_or_labels)
        for name, value, limit in (
            ("classes_per_batch", classes_per_batch, len(self.class_counts)),
            ("samples_per_class", samples_per_class, None),
        ):
            validate.positive_int(name, value)
            if limit is not None and value > limit:
                raise ValueError(
                    f"{name}: expected at most {limit} (the classes), received {value}"
                )
        self.classes_per_batch, self.samples_per_class = classes_per_batch, samples_per_class
        batch = classes_per_batch * samples_per_class
        self.batches_per_epoch = _epoch_length(
            max(int(self.class_counts.sum()) // batch, 1)
            if batches_per_epoch is None
            else batches_per_epoch,
            self.class_counts,
            "batches_per_epoch",
        )
        self._members = order.split(self.class_counts.tolist())
        self._ready()

    def _epoch_items(self, start: int) -> Iterator[list[int]]:
        shard = self._shard()
        batches = iter(shard.positions(start, shard.num_samples).tolist())
        self._progress = (shard.num_samples, batches)
        for batch in batches:
            yield self._batch(batch).tolist()

    def _batch(self, index: int) -> Tensor:
        generator = generator_for(self.seed, self.epoch, index)
        classes = torch.randperm(len(self.class_counts), generator=generator)
        picks = []
        for c in classes[: self.classes_per_batch].tolist():
            members = self._members[c]
            order = torch.randperm(len(members), generator=generator)
            picks.append(members[order[torch.arange(self.samples_per_class) % len(members)]])
        return torch.cat(picks)

    def _stream_length(self) -> int:
        return self.batches_per_epoch


def _alias_table(probabilities: Tensor) -> tuple[Tensor, Tensor]:
    """Walker's alias table (Vose's construction): draw column ``i`` uniformly, keep it with
    probability ``keep[i]``, else take ``alias[i]``; class ``c`` comes out with probability
    ``probabilities[c]``, in O(1) per draw.

    Examples:
        >>> keep, alias = _alias_table(torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64))
        >>> keep.tolist(), alias.tolist()
        ([1.0, 0.75, 0.75], [0, 0, 0])
    """
    scaled = (probabilities * len(probabilities)).tolist()
    keep, alias = [1.0] * len(scaled), list(range(len(scaled)))
    small = [c for c, mass in enumerate(scaled) if mass < 1]
    large = [c for c, mass in enumerate(scaled) if mass >= 1]
    while small and large:
        short, tall = small.pop(), large[-1]
        keep[short], alias[short] = scaled[short], tall
        scaled[tall] += scaled[short] - 1
        if scaled[tall] < 1:
            small.append(large.pop())
    return torch.tensor(keep, dtype=torch.float64), torch.tensor(alias)


def _group_by_class(source: Any) -> tuple[Tensor, Tensor]:
    """``(class_counts, order)``: examples per class, and example indices sorted by class."""
    labels = _labels(source)
    counts = check_class_counts(class_counts(labels), "class counts")
    return counts, torch.argsort(labels, stable=True)


def _labels(source: Any) -> Tensor:
    if isinstance(source, Dataset):
        return resolve_labels(source)
    return resolve_labels(labels=source)


def _image_label_pairs(source: Any) -> tuple[Tensor, Tensor, int]:
    """``(image, label)`` index pairs, each pair once, and the number of images."""
    if isinstance(source, Tensor) and source.ndim == 2:
        if source.dtype != torch.bool:
            raise TypeError(
                f"dataset_or_labels: expected an (N, C) bool matrix, received {source.dtype}"
            )
        images, labels = source.nonzero(as_tuple=True)
        return images, labels, len(source)
    if isinstance(source, Sequence) and source and isinstance(source[0], Sequence):
        pairs = {(image, label) for image, labels in enumerate(source) for label in labels}
        images, labels = torch.tensor(sorted(pairs), dtype=torch.long).reshape(-1, 2).T
        return images, resolve_labels(labels=labels), len(source)
    labels = _labels(source)
    return torch.arange(len(labels)), labels, len(labels)


def _epoch_length(value: int | str, counts: Tensor, name: str = "epoch_length") -> int:
    named = {
        "dataset": int(counts.sum()),
        "max_class": len(counts) * int(counts.max()),
        "min_class": len(counts) * int(counts.min()),
    }
    if isinstance(value, str) and value in named and name == "epoch_length":
        return named[value]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        choices = f"{sorted(named)} or " if name == "epoch_length" else ""
        raise ValueError(f"{name}: expected {choices}an int >= 1, received {value!r}")
    return value
