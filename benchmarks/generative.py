"""``MUNITTrainer.step`` against a two-domain MUNIT step, and what ``GenerativeAugment`` costs.

Three measurements, every contender on the same device and in the same run, interleaved
repeat by repeat, for the presets ``small-28x28x1`` and ``paper-32x32x3`` (untrained networks
with seeded weights: their speed does not depend on what they learned; the images are uniform
noise):

1. **Training iterations per second.**

   - **ours**: ``MUNITTrainer(config, out_dir, seed=0).step(images)`` on a batch of B float
     images in [0, 1] (``--train-batch``, default 4): one discriminator step, then one
     generator step, with one ``MUNITGenerator`` and one ``MUNITDiscriminator`` (the dataset
     is both domains). Its own overheads are included: input checks, the finiteness checks
     of every loss, the learning-rate schedulers and the ``.tolist()`` of the losses.
   - **two-domain**: ``TwoDomainStep`` below, written for this benchmark from the structure of
     the reference MUNIT recipe, with the library's networks and losses: domains a and b,
     each with its own generator and discriminator of the same config, fed B images from
     each domain (here the same batch twice), so one iteration sees 2B images where ours
     sees B. Discriminator step: translate a->b and b->a under N(0, I) styles with
     ``no_grad``, then the loss of each discriminator on its real images and the
     translations into its domain, summed. Generator step: encode both domains, reconstruct
     each image from its own content and style (L1, weight 10), translate a->b and b->a
     under N(0, I) styles, re-encode the translations (L1 to the random style and to the
     source content, weight 1 each), and the adversarial loss of each translation under its
     target domain's discriminator (weight 1). One Adam (lr 1e-4, betas (0.5, 0.999),
     weight decay 1e-4) over both generators' parameters and one over both
     discriminators'. As in ours, the discriminators are frozen during the generator step
     (no gradients for their weights) and the GAN loss is the config's (LSGAN).

   The table reports iterations per second (1 / median seconds per step) and
   ours/two-domain. Target: >= 1.8 (halving the networks should give about 2), checked on
   full runs only: ``--quick`` times one call of each, too few to judge.
2. **Augmentation throughput.** ``GenerativeAugment(generator, fraction=1.0)(x, y)`` on 256
   float images in [0, 1] (``--augment-batch``; every image translated), in images per
   second, against the bare translation it wraps: ``generator(x * 2 - 1, styles)`` under
   ``no_grad`` with styles drawn from N(0, I). augment/bare is reported for information (no
   target).
3. **Cost in a classifier's training step.** ``small_cnn(10)`` on 1x28x28 images, batch 128
   (``--classifier-batch``), SGD (lr 0.01, momentum 0.9), cross-entropy; the ``small-28x28x1``
   generator, fraction 0.5:

   - **plain**: forward, backward and ``optimizer.step()`` on the batch;
   - **on the fly**: ``augment(x, y, key)`` (half the batch translated by the generator), then
     the same step on its images;
   - **bank**: the same with ``augment.build_bank(images, k=8)`` built beforehand over a
     pool of 2 x batch images from which the batch is drawn, keyed by the batch's rows in
     the pool (half the batch replaced by stored translations). The build
     is timed once, before the timed steps, and reported on its own.

   Each is reported in milliseconds per step and as a ratio to the plain step (no target).

Each contender gets one untimed warm-up call, then ``--repeats`` timed calls
(``time.perf_counter``, with ``torch.cuda.synchronize`` on CUDA); the tables report medians.
The thread count is torch's default unless ``--threads`` sets it, and is printed. On a busy
machine absolute timings are noisy (interleaving keeps the ratios comparable), and more
threads than free cores can slow every call several-fold: ``--threads 1`` is steadier there.

Run from the repository root::

    .venv/bin/python benchmarks/generative.py              # B = 4, median of 5, 2-7 min on 2 CPUs
    .venv/bin/python benchmarks/generative.py --threads 1  # steadier on a busy machine
    .venv/bin/python benchmarks/generative.py --quick      # B = 1, 16-image batches, 10-50 s
    .venv/bin/python benchmarks/generative.py --device cuda --train-batch 16 --repeats 20
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from timing import checked_device, interleaved_medians
from torch import Tensor, nn

import invtransfer
from invtransfer.generative import (
    GenerativeAugment,
    LossWeights,
    MUNITConfig,
    MUNITDiscriminator,
    MUNITGenerator,
    MUNITTrainer,
    preset,
)
from invtransfer.generative.networks import random_styles
from invtransfer.generative.objectives import discriminator_loss, generator_adversarial_loss, l1
from invtransfer.models import small_cnn

PRESETS = ("small-28x28x1", "paper-32x32x3")
TARGET = 1.8
CLASSES = 10
BANK_K = 8
PAIRS = (("a", "b"), ("b", "a"))
"""(source, target) domains of the two translations of a two-domain step."""

Bench = dict[str, Callable[[], object]]


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--train-batch", type=int, help="B, images per step (default 4; quick 1)")
    parser.add_argument("--augment-batch", type=int, help="images per call (256; quick 16)")
    parser.add_argument("--classifier-batch", type=int, help="batch size (128; quick 16)")
    parser.add_argument("--repeats", type=int, help="timed calls per contender (5; quick 1)")
    parser.add_argument("--quick", action="store_true", help="smoke run: small batches")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.device = checked_device(parser, args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.train_batch = args.train_batch or (1 if args.quick else 4)
    args.augment_batch = args.augment_batch or (16 if args.quick else 256)
    args.classifier_batch = args.classifier_batch or (16 if args.quick else 128)
    args.repeats = args.repeats or (1 if args.quick else 5)
    return args


class TwoDomainStep:
    """One iteration of two-domain MUNIT training (see the module docstring): a generator
    and a discriminator per domain, a discriminator step, then a generator step."""

    def __init__(self, config: MUNITConfig, device: torch.device, seed: int) -> None:
        self.config, self.weights = config, LossWeights()
        self.gen = {d: MUNITGenerator(config, seed + i).to(device) for i, d in enumerate("ab")}
        self.dis = {d: MUNITDiscriminator(config, seed + i).to(device) for i, d in enumerate("ab")}
        self.gen_opt = adam([p for net in self.gen.values() for p in net.parameters()])
        self.dis_opt = adam([p for net in self.dis.values() for p in net.parameters()])
        self.styles = torch.Generator(device).manual_seed(seed)

    def __call__(self, images_a: Tensor, images_b: Tensor) -> None:
        real = {"a": images_a * 2 - 1, "b": images_b * 2 - 1}
        update(self.dis_opt, self.discriminator_loss(real))
        update(self.gen_opt, self.generator_loss(real))

    def discriminator_loss(self, real: dict[str, Tensor]) -> Tensor:
        """Both discriminators' losses on real images and translations into their domain."""
        losses = []
        for source, target in PAIRS:
            with torch.no_grad():
                content = self.gen[source].content_encoder(real[source])
                fake = self.gen[target].decode(content, self.random_styles(len(content)))
            dis = self.dis[target]
            losses.append(discriminator_loss(dis(real[target]), dis(fake), self.config.gan_loss))
        return sum(losses[1:], losses[0])

    def generator_loss(self, real: dict[str, Tensor]) -> Tensor:
        """Reconstruction, style, content and adversarial losses of both translations."""
        codes = {d: self.gen[d].encode(real[d]) for d in real}
        self.set_discriminators_trainable(False)
        losses = []
        for source, target in PAIRS:
            content, own_style = codes[source]
            styles = self.random_styles(len(content))
            translated = self.gen[target].decode(content, styles)
            content_again, style_again = self.gen[target].encode(translated)
            adversarial = self.dis[target](translated)
            losses += [
                self.weights.image * l1(self.gen[source].decode(content, own_style), real[source]),
                self.weights.style * l1(style_again, styles),
                self.weights.content * l1(content_again, content),
                self.weights.adversarial
                * generator_adversarial_loss(adversarial, self.config.gan_loss),
            ]
        self.set_discriminators_trainable(True)
        return sum(losses[1:], losses[0])

    def random_styles(self, n: int) -> Tensor:
        """``n`` style codes from N(0, I)."""
        return random_styles(n, self.config, self.styles)

    def set_discriminators_trainable(self, trainable: bool) -> None:
        """Switch the discriminators' weight gradients on or off."""
        for net in self.dis.values():
            net.requires_grad_(trainable)


def adam(params: list[nn.Parameter]) -> torch.optim.Adam:
    """MUNIT's optimizer: Adam, lr 1e-4, betas (0.5, 0.999), weight decay 1e-4."""
    return torch.optim.Adam(params, lr=1e-4, betas=(0.5, 0.999), weight_decay=1e-4)


def update(optimizer: torch.optim.Optimizer, loss: Tensor) -> None:
    """One gradient step of ``optimizer`` on ``loss``."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def images(n: int, config: MUNITConfig, device: torch.device, seed: int) -> Tensor:
    """``n`` float images in [0, 1] of the config's shape (uniform noise)."""
    shape = (n, config.channels, config.image_size, config.image_size)
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)).to(device)


def training_bench(config: MUNITConfig, out_dir: str, args: argparse.Namespace) -> Bench:
    """Our single-domain step and the two-domain step, B images per domain."""
    x = images(args.train_batch, config, args.device, args.seed)
    ours = MUNITTrainer(config, out_dir, seed=args.seed, device=args.device)
    two_domain = TwoDomainStep(config, args.device, args.seed)
    return {"ours": lambda: ours.step(x), "two-domain": lambda: two_domain(x, x)}


def augment_bench(generator: MUNITGenerator, args: argparse.Namespace) -> Bench:
    """``GenerativeAugment(fraction=1.0)`` on a batch, and the bare translation it wraps."""
    config, n = generator.config, args.augment_batch
    x = images(n, config, args.device, args.seed)
    y = torch.zeros(n, dtype=torch.long, device=args.device)
    augment = GenerativeAugment(generator, fraction=1.0, seed=args.seed)
    styles = torch.Generator(args.device).manual_seed(args.seed)

    def bare() -> Tensor:
        with torch.no_grad():
            return generator(x * 2 - 1, random_styles(n, config, styles))

    return {"augment": lambda: augment(x, y, 0), "bare": bare}


def classifier_bench(generator: MUNITGenerator, args: argparse.Namespace) -> tuple[Bench, float]:
    """The plain, on-the-fly and bank classifier steps, and the seconds the bank took."""
    device, n = args.device, args.classifier_batch
    pool = images(2 * n, generator.config, device, args.seed)
    index = torch.randperm(2 * n, generator=torch.Generator().manual_seed(args.seed))[:n]
    x, y = pool[index], torch.randint(CLASSES, (n,), device=device)
    model = small_cnn(CLASSES).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    on_the_fly = GenerativeAugment(generator, fraction=0.5, seed=args.seed)
    banked = GenerativeAugment(generator, fraction=0.5, seed=args.seed)
    start = time.perf_counter()
    banked.build_bank(pool, k=BANK_K)
    build = time.perf_counter() - start

    def train(batch: Tensor) -> None:
        update(optimizer, F.cross_entropy(model(batch), y))

    bench: Bench = {
        "plain": lambda: train(x),
        "on the fly": lambda: train(on_the_fly(x, y, 0)[0]),
        "bank": lambda: train(banked(x, y, index)[0]),
    }
    return bench, build


def median(bench: Bench, args: argparse.Namespace) -> dict[str, float]:
    """Median seconds per call of each contender: one warm-up call, ``--repeats`` interleaved."""
    return interleaved_medians(bench, 1, args.repeats, args.device)


def device_name(device: torch.device) -> str:
    """A readable name for the device the benchmark runs on."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()})"


def header(args: argparse.Namespace) -> str:
    """Versions, device, threads and timing settings."""
    return (
        f"python {platform.python_version()} | torch {torch.__version__} | "
        f"invtransfer {invtransfer.__version__}\n"
        f"device: {device_name(args.device)} | threads: {torch.get_num_threads()} | "
        f"warm-up 1, median of {args.repeats} repeats"
    )


def training_table(rows: dict[str, dict[str, float]], batch: int, quick: bool) -> str:
    """Iterations per second of both steps and ours/two-domain, per preset (the target is
    checked on full runs only)."""
    layout = "{:<14}{:>6}{:>12}{:>18}{:>20}"
    lines = [
        "1. training: iterations per second, batch = B images per domain",
        layout.format("preset", "batch", "ours it/s", "two-domain it/s", "ours/two-domain"),
    ]
    for name, seconds in rows.items():
        ratio = seconds["two-domain"] / seconds["ours"]
        verdict = "(smoke)" if quick else "ok" if ratio >= TARGET else "MISS"
        lines.append(
            layout.format(
                name,
                batch,
                f"{1 / seconds['ours']:.3f}",
                f"{1 / seconds['two-domain']:.3f}",
                f"{ratio:.2f}x {verdict}",
            )
        )
    lines.append(f"target: ours/two-domain >= {TARGET} (full runs)")
    lines.append("ours       = MUNITTrainer.step(B images): 1 generator, 1 discriminator")
    lines.append("two-domain = TwoDomainStep(B of a, B of b): 2 generators, 2 discriminators")
    return "\n".join(lines)


def augment_table(rows: dict[str, dict[str, float]], batch: int) -> str:
    """Images per second of the augment and of the bare translation, per preset."""
    layout = "{:<14}{:>6}{:>14}{:>12}{:>15}"
    lines = [
        "2. augmentation throughput, fraction=1.0",
        layout.format("preset", "batch", "augment im/s", "bare im/s", "augment/bare"),
    ]
    for name, seconds in rows.items():
        lines.append(
            layout.format(
                name,
                batch,
                f"{batch / seconds['augment']:.0f}",
                f"{batch / seconds['bare']:.0f}",
                f"{seconds['augment'] / seconds['bare']:.2f} (info)",
            )
        )
    lines.append("augment = GenerativeAugment(generator, fraction=1.0)(x, y)")
    lines.append("bare    = generator(x * 2 - 1, styles) under no_grad")
    return "\n".join(lines)


def classifier_table(seconds: dict[str, float], build: float, batch: int) -> str:
    """Milliseconds per classifier step of each variant and its ratio to the plain step."""
    layout = "{:<12}{:>12}{:>16}"
    lines = [
        f"3. small_cnn training step, small-28x28x1 generator, batch {batch}, SGD, fraction 0.5",
        layout.format("variant", "ms/step", "step/plain"),
    ]
    for name, value in seconds.items():
        ratio = value / seconds["plain"]
        lines.append(layout.format(name, f"{value * 1e3:.1f}", f"{ratio:.2f} (info)"))
    translations = 2 * batch * BANK_K
    lines.append(
        f"bank build (once, untimed above): {2 * batch} images x {BANK_K} translations in "
        f"{build:.2f} s, {translations / build:.0f} translations/s"
    )
    return "\n".join(lines)


def main() -> None:
    """Time the three measurements and print a table for each."""
    args = parse_args()
    torch.manual_seed(args.seed)  # the classifier's weights and labels
    print(header(args), flush=True)
    with tempfile.TemporaryDirectory() as out_dir:
        training = {p: median(training_bench(preset(p), out_dir, args), args) for p in PRESETS}
    print(training_table(training, args.train_batch, args.quick), flush=True)
    generators = {p: MUNITGenerator(preset(p), seed=args.seed).to(args.device) for p in PRESETS}
    augment = {p: median(augment_bench(generators[p], args), args) for p in PRESETS}
    print(augment_table(augment, args.augment_batch), flush=True)
    bench, build = classifier_bench(generators["small-28x28x1"], args)
    print(classifier_table(median(bench, args), build, args.classifier_batch))


if __name__ == "__main__":
    main()
