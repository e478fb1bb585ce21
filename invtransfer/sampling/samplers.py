"""Samplers for long-tailed data that are reproducible, resumable and distributed by design.

Every sampler derives its random stream from ``(seed, epoch)`` alone, never from global
RNGs; every rank builds the same global stream and takes its own strided slice
(`invtransfer.sampling.distributed.Shard`); ``set_epoch`` moves to a new epoch (and
applies a schedule); ``state_dict`` and ``load_state_dict`` resume mid-epoch exactly.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset, Sampler

from invtransfer._seeding import generator_for
from invtransfer.labels import check_class_counts, class_counts, resolve_labels
from invtransfer.sampling.distributed import Shard, resolve_replicas
from invtransfer.sampling.schedules import Schedule, as_schedule

__all__ = ["BalancedBatchSampler", "ClassBalancedSampler", "RepeatFactorSampler"]

_CHUNK = 1 << 20
"""Global stream positions generated at a time: memory stays bounded for any epoch length."""

LabelSource = Dataset | Sequence[int] | Tensor


class _ShardedSampler(Sampler):
    """The shared machinery: epochs, seeds, sharding, resumable positions.

    Subclasses give the epoch's global stream length (``_stream_length``) and the stream
    itself, chunk by chunk (``_stream_chunk(k)``: positions ``k * _CHUNK`` onwards).
    """

    def __init__(
        self, seed: int, num_replicas: int | None, rank: int | None, drop_last: bool
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed: expected an int >= 0, received {seed!r}")
        self.seed = seed
        self.num_replicas, self.rank = resolve_replicas(num_replicas, rank)
        self.drop_last = drop_last
        self.epoch = 0
        self._resume_at = 0  # where the next iteration starts (set by load_state_dict)
        self._progress: tuple[int, Iterator[Any]] = (0, iter(()))  # block start, its rest

    def set_epoch(self, epoch: int) -> None:
        """Move to ``epoch``: a new stream, started from its beginning."""
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch: expected an int >= 0, received {epoch!r}")
        self.epoch, self._resume_at, self._progress = epoch, 0, (0, iter(()))
        self._on_epoch()

    def state_dict(self) -> dict[str, int]:
        """``{"epoch", "position"}``: the epoch and how many indices this rank has yielded.

        A ``DataLoader`` fetches ahead of training; to resume exactly, store the number of
        samples training has actually consumed as ``position``.
        """
        start, rest = self._progress
        return {"epoch": self.epoch, "position": start - operator.length_hint(rest)}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Resume: the next iteration yields the rest of that epoch's indices (later ones
        yield whole epochs again)."""
        position = state["position"]
        self.set_epoch(state["epoch"])
        if not 0 <= position <= len(self):
            raise ValueError(
                f"state['position']: expected an int in [0, {len(self)}], received {position!r}"
            )
        self._resume_at, self._progress = position, (position, iter(()))

    def __len__(self) -> int:
        return self._shard().num_samples

    def __iter__(self) -> Iterator[int]:
        start, self._resume_at = self._resume_at, 0
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
        length = self._stream_length()
        return Shard(length, self.num_replicas, self.rank, self.drop_last)

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

    Args:
        dataset_or_labels: a labelled dataset (labels read without decoding images) or labels.
        power: the exponent ``q``; ignored when ``beta`` is given.
        beta: effective-number parameter in [0, 1), instead of ``power``.
        epoch_length: indices per epoch over all ranks: ``"dataset"`` (the dataset size),
            ``"max_class"`` / ``"min_class"`` (number of classes times the largest / smallest
            class), or an int.
        seed: the stream of epoch ``e`` depends on ``(seed, e)`` only.
        num_replicas: the number of ranks; by default the process group's size.
        rank: this process's rank; by default the process group's.
        schedule: a ``Schedule`` (epoch -> power) applied in ``set_epoch``, e.g. deferred
            re-sampling ``Deferred(160, before=1.0, after=0.0)``.
        drop_last: cut the stream to a multiple of ``num_replicas`` instead of padding it.

    Examples:
        >>> labels = [0] * 90 + [1] * 9 + [2] * 1
        >>> sampler = ClassBalancedSampler(labels, power=0.0, seed=0)
        >>> drawn = torch.tensor(labels)[list(sampler)]
        >>> len(drawn), drawn.bincount().tolist()  # about a third each
        (100, [36, 30, 34])
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
    ) -> None:
        super().__init__(seed, num_replicas, rank, drop_last)
        self.class_counts, self._order = _group_by_class(dataset_or_labels)
        self._starts = self.class_counts.cumsum(0) - self.class_counts
        self.beta = beta
        if beta is not None and not 0 <= beta < 1:
            raise ValueError(f"beta: expected a number in [0, 1), received {beta!r}")
        self.schedule = as_schedule(schedule, "schedule")
        self.power = float(power)
        self._epoch_length = _epoch_length(epoch_length, self.class_counts)
        self._on_epoch()

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
        generator = generator_for(self.seed, self.epoch, chunk)
        size = min(_CHUNK, self._epoch_length - chunk * _CHUNK)
        uniforms = torch.rand(2, size, generator=generator, dtype=torch.float64)
        scaled = uniforms[0] * len(self.class_counts)
        column = scaled.long().clamp_max_(len(self.class_counts) - 1)
        keep = (scaled - column) < self._alias_probability[column]  # Walker's alias method
        classes = torch.where(keep, column, self._alias[column])
        sizes = self.class_counts[classes]
        members = (uniforms[1] * sizes).long().minimum(sizes - 1)
        return self._order[self._starts[classes] + members]


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
    ) -> None:
        super().__init__(seed, num_replicas, rank, drop_last)
        if not 0 < threshold <= 1:
            raise ValueError(f"threshold: expected a frequency in (0, 1], received {threshold!r}")
        if rounding not in ("stochastic", "ceil"):
            raise ValueError(f"rounding: expected 'stochastic' or 'ceil', received {rounding!r}")
        self.rounding = rounding
        images, labels, num_images = _image_label_pairs(dataset_or_labels)
        frequency = torch.bincount(labels).to(torch.float64) / num_images
        ratio = (threshold / frequency).clamp_min(1)  # empty classes: infinite, never used
        per_class = ratio.sqrt() if sqrt else ratio
        factors = torch.ones(num_images, dtype=torch.float64)
        factors.scatter_reduce_(0, images, per_class[labels], "amax")
        self.repeat_factors = factors
        self._on_epoch()

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
    ) -> None:
        super().__init__(seed, num_replicas, rank, drop_last)
        self.class_counts, order = _group_by_class(dataset_or_labels)
        for name, value, limit in (
            ("classes_per_batch", classes_per_batch, len(self.class_counts)),
            ("samples_per_class", samples_per_class, None),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected an int >= 1, received {value!r}")
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

    def __iter__(self) -> Iterator[list[int]]:  # type: ignore[override]
        start, self._resume_at = self._resume_at, 0
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
