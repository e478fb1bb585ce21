"""Seeds derived from keys, so that every random stream is a pure function of its inputs."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "derive_seed",
    "generator_for",
    "global_rng_kept",
    "keyed_uniforms",
    "os_seeded",
    "seed_global_rngs",
]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def derive_seed(*keys: int) -> int:
    """A 63-bit seed that depends only on ``keys`` (e.g. ``(seed, epoch)`` or ``(seed, block)``).

    Uses NumPy's ``SeedSequence`` hashing, so nearby keys give unrelated streams.

    Examples:
        >>> derive_seed(0, 1) == derive_seed(0, 1) != derive_seed(0, 2)
        True
    """
    for key in keys:
        if isinstance(key, bool) or not isinstance(key, int) or key < 0:
            within = f" (in the keys {keys!r})" if len(keys) > 1 else ""
            raise ValueError(f"seed: expected a non-negative int, received {key!r}{within}")
    state = np.random.SeedSequence(list(keys)).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def generator_for(*keys: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A fresh ``torch.Generator`` on ``device`` seeded with ``derive_seed(*keys)``.

    Examples:
        >>> a = torch.rand(2, generator=generator_for(7, 0))
        >>> torch.equal(a, torch.rand(2, generator=generator_for(7, 0)))
        True
    """
    return torch.Generator(device).manual_seed(derive_seed(*keys))


def os_seeded(device: torch.device | str = "cpu") -> torch.Generator:
    """A fresh ``torch.Generator`` on ``device`` seeded from the operating system: what the
    library draws from where a caller passes no generator (never the global RNG).

    Examples:
        >>> state = torch.get_rng_state()
        >>> _ = torch.rand(2, generator=os_seeded())
        >>> torch.equal(torch.get_rng_state(), state)
        True
    """
    return torch.Generator(device).manual_seed(secrets.randbits(63))


@contextmanager
def global_rng_kept() -> Iterator[None]:
    """Restore the global RNGs on exit: the CPU's and those of the CUDA devices in use (none
    before CUDA is initialised), so code inside may seed or draw from them unseen by the caller.

    Examples:
        >>> state = torch.get_rng_state()
        >>> with global_rng_kept():
        ...     _ = torch.manual_seed(1), torch.rand(3)
        >>> torch.equal(torch.get_rng_state(), state)
        True
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        yield


def seed_global_rngs(seed: int) -> None:
    """Seed the CPU's global generator and those of the CUDA devices in use: for code that
    draws only from them (dropout, torchvision's random transforms), inside
    `global_rng_kept`. Unlike ``torch.manual_seed`` it leaves no seeding queued for CUDA's
    initialisation, which the fork could not undo.

    Examples:
        >>> with global_rng_kept():
        ...     seed_global_rngs(3)
        ...     a = torch.rand(2)
        ...     seed_global_rngs(3)
        ...     torch.equal(a, torch.rand(2))
        True
    """
    torch.random.default_generator.manual_seed(seed)
    if torch.cuda.is_initialized():
        torch.cuda.manual_seed_all(seed)


def keyed_uniforms(seed: int, keys: Tensor, count: int) -> Tensor:
    """``(N, count)`` float64 uniforms in (0, 1): row ``i`` depends on ``seed`` and
    ``keys[i]`` alone (a counter-based stream per key), for a whole batch of keys at once.

    Where `generator_for` gives one stream per call, this gives one per row without building
    ``N`` generators: e.g. draws per dataset index that do not depend on the batch an example
    lands in.

    Examples:
        >>> a = keyed_uniforms(0, torch.tensor([5, 9]), count=3)
        >>> b = keyed_uniforms(0, torch.tensor([9]), count=3)
        >>> a.shape, torch.equal(a[1], b[0])
        (torch.Size([2, 3]), True)
    """
    streams = _mix64(_mix64(keys.cpu().numpy().astype(np.uint64)) ^ np.uint64(seed))
    counters = streams[:, None] + np.arange(1, count + 1, dtype=np.uint64) * _GOLDEN
    bits = _mix64(counters) >> np.uint64(11)  # 53 bits: exact in float64
    return (torch.from_numpy(bits.astype(np.float64)) + 0.5) / 2**53


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function (Steele, Lea and Flood, OOPSLA 2014): a bijection of
    uint64 after which nearby inputs give unrelated outputs. uint64 arithmetic wraps."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))
