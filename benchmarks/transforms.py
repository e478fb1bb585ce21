"""Per-sample ``Rotation`` and ``Morphology`` against kornia and a per-sample torchvision loop.

Each row times one operation on one float batch (256x1x28x28 and 256x3x32x32, values in
[0, 1]) in three ways, in the same run and interleaved repeat by repeat:

- **ours**: the full family call ``family(x, generator=g)``, sampling one parameter set per
  image and applying them all in one batched call. ``Rotation(degrees=180)`` is bilinear;
  ``Morphology()`` keeps its defaults (per image, dilate or erode with a size-1..4 square).
- **kornia**: ``kornia.augmentation.RandomRotation(degrees=180.0, p=1.0)``, which also samples
  a per-image angle; for morphology ``kornia.morphology.dilation(x, torch.ones(3, 3))``, one
  fixed kernel for the whole batch (kornia has no per-image kernel sizes).
- **per-sample loop**: a Python loop over the images with per-image parameters, drawn with
  the family's own sampler. Rotation calls ``torchvision.transforms.v2.functional.rotate``
  (bilinear) per image. torchvision has no morphology op, so morphology pads each image with
  ``-inf`` and calls ``torch.nn.functional.max_pool2d`` with stride 1 and the image's own
  kernel size (erosion negates around it); the script checks that it matches ours exactly.

Each contender gets warm-up calls, then ``--repeats`` timed calls (``time.perf_counter``,
with ``torch.cuda.synchronize`` on CUDA); the table reports the median milliseconds per batch
and the speed-up of ours over each peer. Targets: at least as fast as kornia
(kornia/ours >= 1.0) and at least 10x faster than the per-sample loop (loop/ours >= 10).
The thread count is left at torch's default and printed.

Run from the repository root::

    .venv/bin/python benchmarks/transforms.py                # full run, well under 2 min on CPU
    .venv/bin/python benchmarks/transforms.py --quick        # smoke run, a few seconds
    .venv/bin/python benchmarks/transforms.py --device cuda --repeats 100
"""

from __future__ import annotations

import argparse
import platform
from collections.abc import Callable

import kornia
import torch
import torch.nn.functional as F
import torchvision
import torchvision.transforms.v2.functional as TF
from timing import checked_device, interleaved_medians
from torch import Tensor
from torchvision.transforms import InterpolationMode

import invtransfer
from invtransfer.transforms import Morphology, Params, Rotation

SHAPES = ((256, 1, 28, 28), (256, 3, 32, 32))
KORNIA_TARGET = 1.0
LOOP_TARGET = 10.0
PEERS = {
    "rotation": (
        "kornia.augmentation.RandomRotation(degrees=180.0, p=1.0)",
        "torchvision.transforms.v2.functional.rotate per image, bilinear",
    ),
    "morphology": (
        "kornia.morphology.dilation(x, torch.ones(3, 3)), one fixed kernel",
        "F.max_pool2d per image, own kernel (torchvision has no morphology op)",
    ),
}

Bench = dict[str, Callable[[], Tensor]]


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--repeats", type=int, help="timed calls per contender (default 50)")
    parser.add_argument("--warmup", type=int, help="untimed calls per contender (default 5)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 repeats, 1 warm-up")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.device = checked_device(parser, args.device)
    args.repeats = args.repeats or (3 if args.quick else 50)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 5)
    return args


def rotate_loop(x: Tensor, angles: list[float]) -> Tensor:
    """Rotate each image by its own angle with one torchvision call per image."""
    return torch.stack(
        [
            TF.rotate(image, angle, interpolation=InterpolationMode.BILINEAR)
            for image, angle in zip(x, angles, strict=True)
        ]
    )


def morphology_loop(x: Tensor, params: Params) -> Tensor:
    """Dilate or erode each image with its own square kernel, one ``max_pool2d`` per image."""
    images = []
    for image, dilate, size in zip(x, params.dilate.tolist(), params.size.tolist(), strict=True):
        sign = 1.0 if dilate else -1.0
        padded = F.pad(sign * image, (size // 2, (size - 1) // 2) * 2, value=float("-inf"))
        images.append(sign * F.max_pool2d(padded, size, stride=1))
    return torch.stack(images)


def rotation_bench(x: Tensor, generator: torch.Generator) -> Bench:
    """The three rotation contenders on ``x``, each sampling its own per-image angles."""
    ours = Rotation(degrees=180)
    theirs = kornia.augmentation.RandomRotation(degrees=180.0, p=1.0)
    return {
        "ours": lambda: ours(x, generator=generator),
        "kornia": lambda: theirs(x),
        "loop": lambda: rotate_loop(x, ours.sample(len(x), generator).angle.tolist()),
    }


def morphology_bench(x: Tensor, generator: torch.Generator) -> Bench:
    """The three morphology contenders on ``x``; only kornia uses one kernel for all."""
    ours = Morphology()
    kernel = torch.ones(3, 3, device=x.device)
    params = ours.sample(len(x), generator)
    if not torch.equal(morphology_loop(x, params), ours.apply(x, params)):
        raise AssertionError("the max_pool2d loop does not compute what Morphology computes")
    return {
        "ours": lambda: ours(x, generator=generator),
        "kornia": lambda: kornia.morphology.dilation(x, kernel),
        "loop": lambda: morphology_loop(x, ours.sample(len(x), generator)),
    }


def device_name(device: torch.device) -> str:
    """A readable name for the device the benchmark runs on."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()})"


def header(args: argparse.Namespace, device: torch.device) -> str:
    """Versions, device, threads and timing settings."""
    return (
        f"torch {torch.__version__} | torchvision {torchvision.__version__} | "
        f"kornia {kornia.__version__} | invtransfer {invtransfer.__version__}\n"
        f"device: {device_name(device)} | threads: {torch.get_num_threads()} | "
        f"warm-up {args.warmup}, median of {args.repeats} repeats, ms per batch"
    )


def ratio_cell(ratio: float, target: float) -> str:
    """A speed-up with its target check, e.g. ``'12.3x ok'`` or ``'0.8x MISS'``."""
    return f"{ratio:.2f}x {'ok' if ratio >= target else 'MISS'}"


def table(rows: list[tuple[str, str, dict[str, float]]]) -> str:
    """One line per (op, shape): the three medians and the two speed-ups of ours."""
    layout = "{:<11}{:>13}{:>10}{:>11}{:>9}{:>15}{:>15}"
    lines = [
        layout.format("op", "shape", "ours ms", "kornia ms", "loop ms", "kornia/ours", "loop/ours")
    ]
    for op, shape, ms in rows:
        lines.append(
            layout.format(
                op,
                shape,
                f"{ms['ours']:.2f}",
                f"{ms['kornia']:.2f}",
                f"{ms['loop']:.2f}",
                ratio_cell(ms["kornia"] / ms["ours"], KORNIA_TARGET),
                ratio_cell(ms["loop"] / ms["ours"], LOOP_TARGET),
            )
        )
    lines.append(f"targets: kornia/ours >= {KORNIA_TARGET}, loop/ours >= {LOOP_TARGET:g}")
    for op, (kornia_peer, loop_peer) in PEERS.items():
        lines.append(f"{op + ' peers:':<18}kornia = {kornia_peer}")
        lines.append(f"{'':<18}loop   = {loop_peer}")
    return "\n".join(lines)


def main() -> None:
    """Time every (op, shape) pair and print the table."""
    args = parse_args()
    device = args.device
    torch.manual_seed(args.seed)
    generator = torch.Generator(device).manual_seed(args.seed)
    print(header(args, device), flush=True)
    rows = []
    for op, make_bench in (("rotation", rotation_bench), ("morphology", morphology_bench)):
        for shape in SHAPES:
            x = torch.rand(shape, device=device)
            seconds = interleaved_medians(
                make_bench(x, generator), args.warmup, args.repeats, device
            )
            ms = {name: value * 1e3 for name, value in seconds.items()}
            rows.append((op, "x".join(map(str, shape)), ms))
    print(table(rows))


if __name__ == "__main__":
    main()
