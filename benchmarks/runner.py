"""One training epoch of the experiment runner against a plain hand-written PyTorch loop.

Contenders, timed in the same run in interleaved rounds (see ``timing.interleaved_medians``):

- **runner**: `invtransfer.experiments.training.train_run` for one epoch of plain CE
  (``train.epochs=1``, no warm-up, no milestones) into a fresh run folder: the model built
  from its seed, the DataLoader over the recipe's dataset (images decoded in the loader),
  the sampler, the SGD steps, then the epoch's checkpoint, the validation pass (when the
  recipe has a validation split) and the training-log row;
- **plain**: the same model, data, batch size and DataLoader settings (workers, pinned
  memory) in the loop a user would write: ``DataLoader(train, batch_size, shuffle=True)``,
  cross-entropy, SGD with momentum, nothing else.

Both train without crop/flip augmentation, so the comparison is of the loops. Data:
CIFAR-10-LT (``cifar_lt``, imbalance 100: 12,406 32x32 RGB images) from the CIFAR-10 JPEG
folders (``--cifar DIR``, or unpacked from ``../shared/data/cifar10/cifar10-jpeg.tar.xz``
into a temporary folder), else Glyphs-LT (``--data glyphs``). Printed: seconds per epoch,
images per second, the runner's throughput as a share of the plain loop's (target >= 0.95)
and the peak resident memory of the process.

    python benchmarks/runner.py                    # CIFAR-10-LT, small_cnn, 3 rounds
    python benchmarks/runner.py --quick            # Glyphs-LT, 1 round: a smoke run
    python benchmarks/runner.py --model resnet32 --device cuda --workers 8
"""

from __future__ import annotations

import argparse
import resource
import tarfile
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from timing import checked_device, interleaved_medians
from torch.utils.data import DataLoader

from invtransfer.experiments import ExperimentConfig, load_data
from invtransfer.experiments.training import train_run
from invtransfer.models import build_model

ROOT = Path(__file__).resolve().parents[1]
CIFAR_ARCHIVE = ROOT.parent / "shared" / "data" / "cifar10" / "cifar10-jpeg.tar.xz"


def experiment(args: argparse.Namespace, scratch: Path) -> ExperimentConfig:
    """One epoch of plain CE on the chosen data, model and loader settings."""
    if args.data == "glyphs":
        data = [
            'data.recipe="glyphs_lt"', 'data.variant="none"',
            "data.options={ num_classes = 10, per_class = 400, max_count = 400 }",
        ]  # fmt: skip
    else:
        data = ['data.recipe="cifar_lt"', 'data.variant="none"',
                f"data.root={str(cifar_root(args, scratch))!r}",
                "data.options={ imbalance_ratio = 100.0 }"]  # fmt: skip
    return ExperimentConfig().with_overrides([
        *data, 'methods=["ce"]', f"model.name={args.model!r}", "train.epochs=1",
        "train.warmup_epochs=0", "train.milestones=[]", f"train.batch_size={args.batch_size}",
        f"train.workers={args.workers}", f"device={args.device!r}",
    ])  # fmt: skip


def cifar_root(args: argparse.Namespace, scratch: Path) -> Path:
    if args.cifar is not None:
        return Path(args.cifar)
    if not CIFAR_ARCHIVE.is_file():
        raise SystemExit(f"{CIFAR_ARCHIVE}: not found; pass --cifar DIR or --data glyphs")
    with tarfile.open(CIFAR_ARCHIVE) as archive:
        archive.extractall(scratch / "cifar10", filter="data")
    folders = [path.parent for path in (scratch / "cifar10").rglob("train")]
    return folders[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=["cifar", "glyphs"], default="cifar")
    parser.add_argument("--cifar", default=None, help="unpacked CIFAR-10 JPEG folders")
    parser.add_argument("--model", default="small_cnn")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="Glyphs-LT, one round")
    args = parser.parse_args()
    if args.quick:
        args.data, args.repeats = "glyphs", 1
    device = checked_device(parser, args.device)
    with tempfile.TemporaryDirectory() as scratch:
        config = experiment(args, Path(scratch))
        data = load_data(config.data)
        images = len(data.train)

        def runner() -> None:
            train_run(config, data, "ce", 0, tempfile.mkdtemp(dir=scratch), device=device,
                      progress=False)  # fmt: skip

        def plain() -> None:
            plain_epoch(config, data, device)

        medians = interleaved_medians({"runner": runner, "plain": plain}, 0, args.repeats, device)
    print(f"{args.data}: {images} training images, {args.model}, batch {args.batch_size}, "
          f"{args.workers} workers, {device}")  # fmt: skip
    print(f"{'loop':8} {'s/epoch':>8} {'images/s':>9}")
    for name, seconds in medians.items():
        print(f"{name:8} {seconds:8.2f} {images / seconds:9.0f}")
    print(f"runner throughput / plain: {medians['plain'] / medians['runner']:.3f} (target >= 0.95)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak:.0f} MiB")


def plain_epoch(config: ExperimentConfig, data, device: torch.device) -> None:
    """The hand-written loop: shuffled batches, cross-entropy, SGD with momentum."""
    train = config.train
    model = build_model(config.model.name, data.num_classes, data.image_shape, seed=0)
    model = model.to(device).train()
    optimizer = torch.optim.SGD(
        model.parameters(), train.lr, momentum=train.momentum, weight_decay=train.weight_decay
    )
    loader = DataLoader(
        data.train, train.batch_size, shuffle=True, num_workers=train.workers or 0,
        pin_memory=device.type == "cuda", generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    for images, labels in loader:
        x = images.to(device, non_blocking=True).float().div_(255)
        loss = F.cross_entropy(model(x), labels.to(device, non_blocking=True))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


if __name__ == "__main__":
    main()
