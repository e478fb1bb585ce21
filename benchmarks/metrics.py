"""``invariance_curve`` against the bare forward passes it needs: the cost of the measuring.

An invariance curve runs the model on every clean evaluation image once and on ``K``
transformed copies of each; everything else (choosing the images, drawing ``K`` parameter
sets per image, transforming, the measures, the per-class bootstrap) is overhead. Both
contenders see the same model, the same images and the same batch size, in the same run and
interleaved repeat by repeat:

- **curve**: ``invariance_curve(model, data, Rotation(degrees=180, interpolation="bicubic"),
  class_sizes, samples_per_class=40, transforms_per_sample=K, batch_size=256,
  progress=False)`` with its default measures (eKLD and consistency). ``data`` is a
  ``TensorImages`` of ``uint8`` 1x28x28 images, as the MNIST recipes give: 10 classes x 40
  images, all of them evaluated, so 400 clean images and 400*K copies.
- **bare**: ``model(batch)`` under ``torch.no_grad()`` in eval mode, ``batch_size`` at a time,
  over the 400 clean images and then the 400*K transformed copies, all already converted to
  float32 in [0, 1] (transformed with the same family, with angles from its own generator,
  and moved to the device before timing).
  Nothing else: no transform, no measure, no ``uint8`` conversion.

Models: a CIFAR-style ResNet-20 (3 stages of 3 basic blocks, 16/32/64 channels, batch norm;
the paper used ResNet-20 for K49) for 1x28x28 inputs, the realistic case; and the two-layer
CNN of ``examples/invariance_curve.py``, so cheap that the overhead shows more. The images
are random blobs: the time of either contender does not depend on their content.

Each contender gets one warm-up call, then ``--repeats`` timed calls (``time.perf_counter``,
with ``torch.cuda.synchronize`` on CUDA); the table reports the medians in seconds and the
ratio curve/bare. Target: curve/bare <= 1.15 for ResNet-20 (for the small CNN it is
reported, not targeted), checked on full runs only: ``--quick`` is a smoke run, whose tiny K
leaves fixed costs (parameter draws, bootstrap) a visible share of a short call.
``--profile`` adds a cProfile of one curve call per model (the functions with the largest
own time). The thread count is left at torch's default and printed.

Run from the repository root::

    .venv/bin/python benchmarks/metrics.py            # K = 20, median of 3, ~1 min on 2 CPU cores
    .venv/bin/python benchmarks/metrics.py --quick    # K = 2, smoke run, under 10 s
    .venv/bin/python benchmarks/metrics.py --device cuda --transforms 100 --repeats 10
"""

from __future__ import annotations

import argparse
import cProfile
import io
import platform
import pstats
from collections.abc import Callable

import torch
from timing import checked_device, interleaved_medians
from torch import Tensor, nn

import invtransfer
from invtransfer.data.images import TensorImages
from invtransfer.metrics.curve import invariance_curve
from invtransfer.models import small_cnn
from invtransfer.transforms import Rotation

CLASSES = 10
TARGET = 1.15
TARGETED = "resnet20"


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--transforms", type=int, help="K, copies per image (default 20)")
    parser.add_argument("--samples-per-class", type=int, help="clean images per class (40)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, help="timed calls per contender (default 3)")
    parser.add_argument("--quick", action="store_true", help="smoke run: K = 2, 10 per class")
    parser.add_argument("--profile", action="store_true", help="cProfile one curve per model")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.device = checked_device(parser, args.device)
    args.transforms = args.transforms or (2 if args.quick else 20)
    args.samples_per_class = args.samples_per_class or (10 if args.quick else 40)
    args.repeats = args.repeats or (1 if args.quick else 3)
    return args


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with a residual connection (1x1 conv-BN when the shape changes)."""

    def __init__(self, inputs: int, outputs: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False),
            nn.BatchNorm2d(outputs),
            nn.ReLU(inplace=True),
            nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False),
            nn.BatchNorm2d(outputs),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or inputs != outputs:
            self.shortcut = nn.Sequential(
                nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs)
            )

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


def resnet20(num_classes: int, channels: int = 1) -> nn.Module:
    """CIFAR-style ResNet-20: a stem, 3 stages x 3 blocks (16/32/64), global pooling, linear."""
    layers: list[nn.Module] = [
        nn.Conv2d(channels, 16, 3, 1, 1, bias=False),
        nn.BatchNorm2d(16),
        nn.ReLU(inplace=True),
    ]
    inputs = 16
    for stage, width in enumerate((16, 32, 64)):
        for block in range(3):
            layers.append(BasicBlock(inputs, width, 2 if stage and not block else 1))
            inputs = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, num_classes)]
    return nn.Sequential(*layers)


def blob_images(per_class: int, generator: torch.Generator) -> TensorImages:
    """``CLASSES x per_class`` uint8 1x28x28 images of random blobs, sorted by class."""
    labels = torch.arange(CLASSES).repeat_interleave(per_class)
    noise = torch.rand(len(labels), 1, 28, 28, generator=generator)
    blobs = nn.functional.avg_pool2d(noise, 5, stride=1, padding=2) > 0.55
    return TensorImages(blobs.to(torch.uint8) * 255, labels)


def bare_inputs(
    data: TensorImages, family: Rotation, args: argparse.Namespace, device: torch.device
) -> tuple[Tensor, Tensor]:
    """The float model inputs of the bare contender: every image of ``data`` (the curve
    evaluates them all) and K transformed copies of each, precomputed on ``device``."""
    clean = data.images
    copies = clean.repeat_interleave(args.transforms, 0)
    generator = torch.Generator().manual_seed(args.seed)
    transformed = family.apply(copies, family.sample(len(copies), generator))
    return clean.to(device).float() / 255, transformed.to(device).float() / 255


def contenders(
    model: nn.Module, data: TensorImages, args: argparse.Namespace, device: torch.device
) -> dict[str, Callable[[], object]]:
    """The curve call and the bare forward passes, for one model."""
    family = Rotation(degrees=180, interpolation="bicubic")
    sizes = torch.tensor([4800 // (c + 1) ** 2 for c in range(CLASSES)]).clamp_min(5)
    clean, transformed = bare_inputs(data, family, args, device)

    def bare() -> None:
        with torch.no_grad():
            for images in (clean, transformed):
                for batch in images.split(args.batch_size):
                    model(batch)

    def curve() -> object:
        return invariance_curve(
            model,
            data,
            family,
            class_sizes=sizes,
            samples_per_class=args.samples_per_class,
            transforms_per_sample=args.transforms,
            seed=args.seed,
            batch_size=args.batch_size,
            device=device,
            progress=False,
        )

    return {"bare": bare, "curve": curve}


def profile(fn: Callable[[], object], lines: int = 15) -> str:
    """The functions with the largest own time in one call of ``fn`` (cProfile)."""
    profiler = cProfile.Profile()
    profiler.runcall(fn)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(lines)
    return out.getvalue()


def device_name(device: torch.device) -> str:
    """A readable name for the device the benchmark runs on."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()})"


def header(args: argparse.Namespace, device: torch.device) -> str:
    """Versions, device, threads and timing settings."""
    images = CLASSES * args.samples_per_class
    return (
        f"python {platform.python_version()} | torch {torch.__version__} | "
        f"invtransfer {invtransfer.__version__}\n"
        f"device: {device_name(device)} | threads: {torch.get_num_threads()} | "
        f"{images} clean images + {images}x{args.transforms} bicubic rotations, "
        f"batch {args.batch_size} | warm-up 1, median of {args.repeats} repeats, seconds"
    )


def table(rows: list[tuple[str, int, dict[str, float]]], quick: bool) -> str:
    """One line per model: forward passes, the two medians and the ratio curve/bare (the
    target is checked on full runs only)."""
    layout = "{:<10}{:>10}{:>10}{:>10}{:>17}"
    lines = [layout.format("model", "images", "bare s", "curve s", "curve/bare")]
    for model, images, seconds in rows:
        ratio = seconds["curve"] / seconds["bare"]
        verdict = "ok" if ratio <= TARGET else "MISS"
        verdict = "(info)" if model != TARGETED else "(smoke)" if quick else verdict
        lines.append(
            layout.format(
                model,
                images,
                f"{seconds['bare']:.2f}",
                f"{seconds['curve']:.2f}",
                f"{ratio:.3f} {verdict}",
            )
        )
    lines.append(f"target: curve/bare <= {TARGET} for {TARGETED}; images = forward passes")
    lines.append("bare  = model(batch) over the clean and the precomputed transformed images")
    lines.append("curve = invariance_curve(...) on the same model, images, K and batch size")
    return "\n".join(lines)


def main() -> None:
    """Time both contenders for each model and print the table."""
    args = parse_args()
    device = args.device
    generator = torch.Generator().manual_seed(args.seed)
    data = blob_images(args.samples_per_class, generator)
    print(header(args, device), flush=True)
    rows = []
    models = {"resnet20": resnet20, "small_cnn": small_cnn}
    for name, build in models.items():
        torch.manual_seed(args.seed)  # weight initialisation only
        model = build(CLASSES).to(device).eval()
        bench = contenders(model, data, args, device)
        seconds = interleaved_medians(bench, 1, args.repeats, device)
        rows.append((name, CLASSES * args.samples_per_class * (args.transforms + 1), seconds))
        if args.profile:
            print(f"cProfile of one curve call, {name}:\n{profile(bench['curve'])}")
    print(table(rows, args.quick))


if __name__ == "__main__":
    main()
