"""Glyphs: an embedded, procedural dataset of handwriting-like characters, with no files.

Each class is a prototype glyph of two to four pen strokes, each a quadratic or cubic Bezier
curve; each sample is new handwriting of it: the control points are jittered, the glyph is
slanted, rotated a little, scaled and moved, and drawn with its own pen width. Images are
28x28 ``uint8``, white strokes on an exactly black background, like Kuzushiji-49 or MNIST.

**Handwriting.** A prototype's strokes span the box [-1, 1]^2, drawn 19 pixels wide. Per
sample, every control point moves by N(0, 0.16^2) and every stroke by N(0, 0.1^2) (in those
units), each stroke ends up to 0.15 of its length early or 0.08 late, and the glyph is
slanted (shear up to 0.35), rotated (up to 8 degrees), scaled (0.8 to 1.1, x and y each
another 10%) and shifted (up to 2 pixels); the pen width is 1.0 to 1.8 pixels.

**Determinism.** Class ``c``'s prototype depends on ``(seed, c)`` alone, so every split draws
the same shapes. The samples of class ``c`` depend on ``(seed, split, c, per_class)``, not on
``num_classes``: ``Glyphs(10)`` is the first ten classes of ``Glyphs(49)``, image for image.
The ``"train"``, ``"val"`` and ``"test"`` splits are independent draws: held-out handwriting
of the same classes.

**Rendering.** Each stroke is sampled densely along its curve; every pixel within reach of a
sample point gets intensity ``clamp(width - distance + 0.5, 0, 1)``, the maximum over the
points, so edges are anti-aliased and pixels farther than ``width + 0.5`` from the pen stay
exactly 0. The work is batched over chunks of samples, with no loop over samples or pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor
from torch.utils.data import Dataset

from invtransfer._seeding import generator_for

__all__ = ["Glyphs"]

SPLITS = ("train", "val", "test")
"""The splits, each an independent draw of handwriting of the same classes."""

SIZE = 28
"""Image height and width in pixels."""

_UNIT = 9.5
"""Pixels per unit of glyph coordinates: a prototype fills the box [-1, 1]^2, 19 pixels."""

_MAX_STROKES = 4
_POINTS_PER_STROKE = 32
_CHUNK = 512
_REACH = torch.arange(-3, 5)
"""Offsets from a point's pixel (its floor) to the pixels it may light: 3 pixels each way."""
_MAX_WIDTH = 2.5
"""The widest pen whose reach, ``width + 0.5``, the offsets cover."""

_JITTER = 0.16
"""Standard deviation of each control point's move, in glyph units (a glyph spans 2)."""
_STROKE_SHIFT = 0.1
"""Standard deviation of each stroke's shift, in glyph units."""
_TRIM = (-0.08, 0.15)
"""Range of the curve parameter cut from (or, negative, added to) each end of a stroke."""
_SLANT = 0.35
"""Largest shear (slant), as horizontal shift per unit of height."""
_ROTATION = 8.0
"""Largest rotation, in degrees."""
_SCALE = (0.8, 1.1)
"""Range of the glyph's scale."""
_ASPECT = 0.1
"""Largest relative change of the x or y scale on its own."""
_SHIFT = 2.0
"""Largest shift of the glyph, in pixels."""
_PEN = (1.0, 1.8)
"""Range of the pen width: the distance at which a stroke's edge is half bright, in pixels."""

_ATTEMPTS = 20
_MIN_ASPECT = 0.4
_MIN_SEPARATION = 0.25


class Glyphs(Dataset):
    """Procedural handwriting-like glyphs: ``num_classes`` shapes, ``per_class`` samples each.

    Samples are stored class by class: ``targets`` is ``0, ..., 0, 1, ..., 1, ...`` with
    ``per_class`` of each (shuffle with a sampler or ``DataLoader(shuffle=True)``). All of
    them are drawn at construction (49 classes of 100 take about half a second on a CPU).
    See the module notes for the handwriting model and what depends on which argument.

    Args:
        num_classes: number of glyph classes, at least 1.
        per_class: samples drawn for each class, at least 1.
        seed: picks the class shapes and, with ``split``, the handwriting.
        split: ``"train"``, ``"val"`` or ``"test"``: independent draws of the same classes.
        transform: applied to the ``uint8`` ``(1, 28, 28)`` image in ``__getitem__``.

    Attributes:
        images: ``uint8`` tensor ``(N, 1, 28, 28)``, with ``N = num_classes * per_class``.
        targets: ``int64`` tensor ``(N,)`` of class ids, class-major.
        classes: class names ``"glyph_00"``, ``"glyph_01"``, ...
        num_classes: the number of classes.

    Examples:
        >>> train = Glyphs(num_classes=5, per_class=20, seed=0)
        >>> len(train), train.images.shape, train.images.dtype
        (100, torch.Size([100, 1, 28, 28]), torch.uint8)
        >>> image, label = train[25]
        >>> image.shape, label, train.classes[label]
        (torch.Size([1, 28, 28]), 1, 'glyph_01')
        >>> test = Glyphs(num_classes=5, per_class=20, seed=0, split="test")
        >>> torch.equal(train.images, test.images)
        False
    """

    def __init__(
        self,
        num_classes: int = 10,
        per_class: int = 100,
        seed: int = 0,
        split: str = "train",
        transform: Callable[[Tensor], object] | None = None,
    ) -> None:
        self.num_classes = _positive_int("num_classes", num_classes)
        self.per_class = _positive_int("per_class", per_class)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed: expected a non-negative int, received {seed!r}")
        if split not in SPLITS:
            raise ValueError(f"split: expected one of {SPLITS}, received {split!r}")
        if transform is not None and not callable(transform):
            raise TypeError(f"transform: expected a callable or None, received {transform!r}")
        self.seed, self.split, self.transform = seed, split, transform
        self.classes = [f"glyph_{c:02d}" for c in range(self.num_classes)]
        self.targets = torch.arange(self.num_classes).repeat_interleave(self.per_class)
        self.images = generate(self.num_classes, self.per_class, seed, split)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[object, int]:
        image = self.images[index]
        return (self.transform(image) if self.transform else image), int(self.targets[index])

    def __repr__(self) -> str:
        return (
            f"Glyphs(num_classes={self.num_classes}, per_class={self.per_class}, "
            f"seed={self.seed}, split={self.split!r})"
        )


def generate(num_classes: int, per_class: int, seed: int, split: str) -> Tensor:
    """``uint8`` images ``(num_classes * per_class, 1, 28, 28)``, class-major (see `Glyphs`)."""
    points, widths = [], []
    for c in range(num_classes):
        generator = generator_for(seed, 1 + SPLITS.index(split), c)
        points.append(handwrite(*prototype_strokes(seed, c), per_class, generator))
        widths.append(_uniform(generator)(*_PEN, per_class))
    point, width = torch.cat(points), torch.cat(widths)
    chunks = zip(point.split(_CHUNK), width.split(_CHUNK), strict=True)
    return torch.cat([render(*chunk) for chunk in chunks])


def prototype_strokes(seed: int, c: int) -> tuple[Tensor, Tensor]:
    """Class ``c``'s shape: cubic control points ``(4, 4, 2)``, and which of the four stroke
    slots ``(4,)`` it uses (two to four; a quadratic is stored as a cubic).

    The strokes are centred in the box [-1, 1]^2 and their longer side spans it. Strokes
    that would mostly retrace earlier ones are redrawn, and so are glyphs much flatter than
    they are long, so that every stroke shows.

    Examples:
        >>> control, present = prototype_strokes(seed=0, c=3)
        >>> control.shape, present.shape
        (torch.Size([4, 4, 2]), torch.Size([4]))
        >>> bezier(control[present]).abs().max()
        tensor(1.)
    """
    generator = generator_for(seed, 0, c)
    count = int(torch.randint(2, _MAX_STROKES + 1, (), generator=generator))
    for _ in range(_ATTEMPTS):
        strokes: list[Tensor] = []
        for _ in range(count):
            strokes.append(_new_stroke(strokes, generator))
        control = torch.stack(strokes)
        points = bezier(control).flatten(0, 1)
        low, high = points.amin(0), points.amax(0)
        if (high - low).min() >= _MIN_ASPECT * (high - low).max():
            break
    control = (control - (low + high) / 2) * (2 / (high - low).max())
    padding = control[:1].expand(_MAX_STROKES - count, -1, -1)
    present = torch.arange(_MAX_STROKES) < count
    return torch.cat([control, padding]), present


def _new_stroke(previous: list[Tensor], generator: torch.Generator) -> Tensor:
    """A stroke that does not mostly retrace the ``previous`` ones (else the last try)."""
    for _ in range(_ATTEMPTS):
        stroke = _stroke(previous, generator)
        if not previous:
            return stroke
        drawn = bezier(torch.stack(previous)).flatten(0, 1)
        near = torch.cdist(bezier(stroke), drawn).amin(1) < _MIN_SEPARATION
        if near.float().mean() < 0.4:
            return stroke
    return stroke


def _stroke(previous: list[Tensor], generator: torch.Generator) -> Tensor:
    """One pen stroke, cubic control points ``(4, 2)``: an arc, an S-bend or a near-line.

    More often than not a later stroke starts on an earlier one (at an end or part-way
    along), as the strokes of a character touch and cross.
    """
    uniform = _uniform(generator)
    if previous and uniform(0, 1) < 0.6:
        on = previous[int(torch.randint(len(previous), (), generator=generator))]
        start = bezier(on, uniform(0, 1, 1) if uniform(0, 1) < 0.5 else uniform(0, 1, 1).round())
        start = start[0]
    else:
        start = uniform(-0.8, 0.8, 2)
    angle = uniform(0, 2 * math.pi)
    end = start + uniform(0.9, 1.8) * torch.stack([angle.cos(), angle.sin()])
    end = end.clamp(-1, 1)
    chord = end - start
    normal = torch.stack([-chord[1], chord[0]])
    bend = uniform(-0.9, 0.9, 2)
    if uniform(0, 1) < 0.4:  # quadratic: one bend, elevated to a cubic
        middle = (start + end) / 2 + bend[0] * normal
        return torch.stack(
            [start, start + 2 / 3 * (middle - start), end + 2 / 3 * (middle - end), end]
        )
    along = uniform(-0.2, 0.2, 2)
    first = start + (1 / 3 + along[0]) * chord + bend[0] * normal
    second = start + (2 / 3 + along[1]) * chord + bend[1] * normal
    return torch.stack([start, first, second, end])


def handwrite(prototype: Tensor, present: Tensor, n: int, generator: torch.Generator) -> Tensor:
    """``n`` handwritten copies of a prototype: points ``(n, 4 * T, 2)`` along the strokes,
    in pixels (x, y); the points of unused stroke slots (``present`` false) are infinite.

    Every control point moves a little and each stroke shifts a little; each stroke starts
    and ends a little early or late; then each glyph gets a slant (shear), a small rotation,
    a scale (slightly different in x and y) and a shift.

    Examples:
        >>> prototype, present = prototype_strokes(seed=0, c=0)
        >>> points = handwrite(prototype, present, 3, torch.Generator().manual_seed(0))
        >>> points.shape
        torch.Size([3, 128, 2])
    """
    noise = torch.randn(n, _MAX_STROKES, 5, 2, generator=generator)
    control = prototype + _JITTER * noise[:, :, :4] + _STROKE_SHIFT * noise[:, :, 4:]
    ends = _uniform(generator)(*_TRIM, n, _MAX_STROKES, 2, 1)
    t = torch.linspace(0, 1, _POINTS_PER_STROKE)
    points = bezier(control, ends[:, :, 0] + (1 - ends[:, :, 0] - ends[:, :, 1]) * t)
    uniform = _uniform(generator)
    slant = uniform(-_SLANT, _SLANT, n)
    angle = uniform(-_ROTATION, _ROTATION, n).deg2rad_()
    scale = uniform(*_SCALE, n, 1) * uniform(1 - _ASPECT, 1 + _ASPECT, n, 2)
    cos, sin = angle.cos(), angle.sin()
    rotation = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    shear = torch.eye(2).repeat(n, 1, 1)
    shear[:, 0, 1] = -slant  # x moves right as y goes up (y points down the image)
    linear = _UNIT * rotation @ shear @ torch.diag_embed(scale)
    shift = (SIZE - 1) / 2 + uniform(-_SHIFT, _SHIFT, n, 2)
    points = torch.einsum("nij,nstj->nsti", linear, points) + shift[:, None, None]
    return points.masked_fill(~present[:, None, None], math.inf).flatten(1, 2)


def bezier(control: Tensor, t: Tensor | None = None) -> Tensor:
    """Points on cubic Bezier curves: control ``(..., 4, 2)`` -> ``(..., T, 2)``.

    ``t`` (``(T,)``, or batched like ``control`` to ``(..., T)``) defaults to 32 evenly spaced
    parameters in [0, 1].

    Examples:
        >>> line = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
        >>> bezier(line, torch.tensor([0.0, 0.5, 1.0]))
        tensor([[0.0000, 0.0000],
                [1.5000, 0.0000],
                [3.0000, 0.0000]])
    """
    t = torch.linspace(0, 1, _POINTS_PER_STROKE) if t is None else t
    s = 1 - t
    basis = torch.stack([s**3, 3 * s**2 * t, 3 * s * t**2, t**3], -1).to(control.dtype)
    return basis @ control


def render(points: Tensor, width: Tensor) -> Tensor:
    """Draw glyphs: ``points`` ``(n, P, 2)`` densely along the strokes, in pixels (x, y), with
    a pen of ``width`` ``(n,)`` -> ``uint8`` ``(n, 1, 28, 28)``. Infinite points are skipped.

    A pixel's intensity is ``clamp(width - d + 0.5, 0, 1)`` for its distance ``d`` to the
    nearest point; pixels at ``width + 0.5`` or farther are exactly 0. ``width`` is at most
    2.5, the reach of the 8x8 block of pixels drawn around each point.

    Examples:
        >>> dot = render(torch.tensor([[[13.0, 13.0]]]), torch.tensor([1.5]))
        >>> dot[0, 0, 11:16, 11:16]
        tensor([[  0,   0,   0,   0,   0],
                [  0, 149, 255, 149,   0],
                [  0, 255, 255, 255,   0],
                [  0, 149, 255, 149,   0],
                [  0,   0,   0,   0,   0]], dtype=torch.uint8)
    """
    if not ((width >= 0) & (width <= _MAX_WIDTH)).all():
        raise ValueError(
            f"width: expected pen widths in [0, {_MAX_WIDTH}] pixels, received "
            f"{width.min().item()} to {width.max().item()}"
        )
    # Around each point, an 8x8 block of pixels; x and y are separable until the distance.
    pixel = points.floor().nan_to_num(posinf=-SIZE)[..., None] + _REACH  # (n, P, 2, 8)
    gap = (pixel - points[..., None]).masked_fill_((pixel < 0) | (pixel >= SIZE), math.inf)
    gap = gap.square_()
    distance = (gap[:, :, 1, :, None] + gap[:, :, 0, None, :]).sqrt_()  # (n, P, 8, 8)
    value = distance.neg_().add_(width[:, None, None, None] + 0.5).clamp_(0, 1)
    pixel = pixel.clamp_(0, SIZE - 1).long()
    index = pixel[:, :, 1, :, None] * SIZE + pixel[:, :, 0, None, :]
    canvas = torch.zeros(len(points), SIZE * SIZE)
    canvas.scatter_reduce_(1, index.flatten(1), value.flatten(1), "amax")
    return canvas.mul_(255).round_().to(torch.uint8).view(-1, 1, SIZE, SIZE)


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int >= 1, received {value!r}")
    if value < 1:
        raise ValueError(f"{name}: expected an int >= 1, received {value!r}")
    return value


def _uniform(generator: torch.Generator) -> Callable[..., Tensor]:
    """``uniform(low, high, *shape)``: a tensor of draws in [low, high) from ``generator``."""
    return lambda low, high, *shape: torch.empty(shape).uniform_(low, high, generator=generator)
