"""GenerativeAugment in your own training loop, as the DataLoader's ``collate_fn``.

Generative invariance transfer (GIT) without the invtransfer runner: a plain PyTorch loop
trains a small CNN on Glyphs-LT-DIL (the embedded procedural glyphs, each image with one
fixed random stroke width; Zipf class sizes) with a long-tail method (``--method``, by
default CE-DRW: cross-entropy re-weighted by class from ``--defer-epoch`` on), and from that
same epoch on the DataLoader replaces each image of a batch with probability 0.5 (about half)
with MUNIT translations under random style codes, labels kept. The pieces:

- a tiny MUNIT trained here for ``--gan-iterations`` (or one loaded with ``--generator``,
  a trainer's folder or a saved augment, via `load_generator`);
- ``GenerativeAugment(generator, fraction=0.5, start_epoch=..., seed=...)`` on the CPU;
  ``augment.collator(return_mask=True)`` is the loader's ``collate_fn``, so translation runs
  in the ``--workers`` (persistent) worker processes and batches arrive as ``(images,
  labels, mask)``;
- items ``(image, label, index)``: the dataset indices are the augment's key, so each
  image's translation follows from ``(seed, epoch, index)``, whatever the number of workers;
- ``augment.set_epoch(epoch)`` before each epoch: translation starts at ``start_epoch``.
  The epoch lives in shared memory, so persistent workers see it.

It logs the rows translated in each epoch and the balanced accuracy on the (balanced) test
split, and writes ``summary.json`` (and the MUNIT checkpoint, ``munit/``) under ``--out``.
The defaults take a few minutes on a 2-core CPU:

    python examples/augment_in_dataloader.py --out outputs/augment_in_dataloader
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler

from invtransfer.data import WithIndex, glyphs_lt
from invtransfer.experiments import METHODS, method_parts, warmup_step_lr
from invtransfer.generative import GenerativeAugment, MUNITTrainer, load_generator, preset
from invtransfer.metrics import balanced_accuracy
from invtransfer.models import small_cnn
from invtransfer.sampling import ClassBalancedSampler

log = logging.getLogger("augment_in_dataloader")


def train_generator(args: argparse.Namespace, train: Dataset):
    """A tiny MUNIT trained on the long-tailed training set (resumes from ``out/munit``)."""
    config = preset("tiny", image_size=28, channels=1)
    trainer = MUNITTrainer(config, args.out / "munit", seed=args.seed, device="cpu")
    losses = trainer.fit(
        train, args.gan_iterations, args.gan_batch_size,
        checkpoint_every=args.gan_iterations, progress=False,
    )  # fmt: skip
    log.info("MUNIT: %d iterations, last losses %s", trainer.iteration, _rounded(losses))
    return trainer.generator


@torch.no_grad()
def test_balanced_accuracy(model: nn.Module, test: Dataset) -> float:
    """Balanced accuracy of ``model`` on every image of ``test``."""
    model.eval()
    loader = DataLoader(test, batch_size=256)  # (uint8 images, labels)
    logits, labels = zip(*((model(x.float() / 255), y) for x, y in loader), strict=True)
    return balanced_accuracy(torch.cat(logits), torch.cat(labels))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/augment_in_dataloader"))
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--per-class", type=int, default=500, help="glyphs drawn per class")
    parser.add_argument("--test-per-class", type=int, default=50)
    parser.add_argument("--max-count", type=int, default=400, help="largest class size")
    parser.add_argument("--generator", type=Path, help="load this MUNIT instead of training one")
    parser.add_argument("--gan-iterations", type=int, default=300)
    parser.add_argument("--gan-batch-size", type=int, default=8)
    parser.add_argument("--method", choices=sorted(METHODS), default="ce_drw")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--defer-epoch", type=int, default=8, help="GIT, DRW and the lr step")
    parser.add_argument("--warmup-epochs", type=int, default=2)
    parser.add_argument("--fraction", type=float, default=0.5, help="share of a batch translated")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    splits = glyphs_lt(
        "dil", num_classes=args.classes, per_class=args.per_class,
        test_per_class=args.test_per_class, max_count=args.max_count,
        val_per_class=1, seed=args.seed,  # this example uses no validation split
    )  # fmt: skip
    log.info("Glyphs-LT-DIL: class sizes %s", splits.class_counts.tolist())
    if args.generator is not None:
        generator = load_generator(args.generator, device="cpu")
        log.info("MUNIT: loaded from %s", args.generator)
    else:
        generator = train_generator(args, splits.train)

    # The augment stays on the CPU: it runs inside the DataLoader's worker processes.
    augment = GenerativeAugment(
        generator, fraction=args.fraction, start_epoch=args.defer_epoch, seed=args.seed
    )
    parts = method_parts(args.method, splits.class_counts, defer_epoch=args.defer_epoch)
    if parts.sampling_power is None:  # plain shuffling
        sampler = RandomSampler(splits.train, generator=torch.Generator().manual_seed(args.seed))
    else:  # RS / DRS: class-aware draws whose power follows the method's schedule
        sampler = ClassBalancedSampler(splits.train, seed=args.seed, schedule=parts.sampling_power)
    loader = DataLoader(
        WithIndex(splits.train),  # items (uint8 image, label, index)
        batch_size=args.batch_size,
        sampler=sampler,
        collate_fn=augment.collator(return_mask=True),  # (images, labels, mask)
        num_workers=args.workers,
        persistent_workers=args.workers > 0,  # they see set_epoch all the same
        drop_last=True,
    )

    torch.manual_seed(args.seed)  # the model's initial weights
    model = small_cnn(splits.num_classes)
    criterion = parts.loss
    optimizer = torch.optim.SGD(model.parameters(), args.lr, momentum=0.9, weight_decay=2e-4)
    schedule = warmup_step_lr(optimizer, args.warmup_epochs, [args.defer_epoch], gamma=0.1)
    translated_per_epoch = []
    for epoch in range(args.epochs):
        augment.set_epoch(epoch)  # before iterating, so that the first batches see it
        for part in (sampler, criterion):  # the sampler's and DRW's epoch, if they have one
            if hasattr(part, "set_epoch"):
                part.set_epoch(epoch)
        model.train()
        total, rows, translated = 0.0, 0, 0
        for images, labels, mask in loader:
            loss = criterion(model(images.float() / 255), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(labels)
            rows, translated = rows + len(labels), translated + int(mask.sum())
        schedule.step()
        translated_per_epoch.append(translated)
        log.info(
            "epoch %d/%d: loss %.4f, %d of %d rows translated",
            epoch + 1, args.epochs, total / max(rows, 1), translated, rows,
        )  # fmt: skip

    accuracy = test_balanced_accuracy(model, splits.test)
    log.info("test balanced accuracy %.3f (%.0f s in all)", accuracy, time.perf_counter() - start)
    summary = {
        "method": args.method + "+git",
        "class_counts": splits.class_counts.tolist(),
        "translated_per_epoch": translated_per_epoch,
        "test_balanced_accuracy": accuracy,
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    log.info("wrote %s", args.out / "summary.json")
    return summary


def _rounded(losses: dict[str, float]) -> dict[str, float]:
    return {name: round(value, 3) for name, value in losses.items()}


if __name__ == "__main__":
    main()
