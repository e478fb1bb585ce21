"""Are Glyphs learnable? Train a small CNN on the train split, test on held-out handwriting.

Trains a two-layer CNN on a balanced ``Glyphs`` train split and reports its accuracy on the
``"test"`` split (new handwriting of the same classes) next to chance. Classes should be
learnable (well above chance) and within-class variation real (below 100%). Runs on a CPU
in two or three minutes at its defaults:

    python examples/glyphs_learnability.py --classes 49 --per-class 500 --epochs 10
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import torch
from torch import nn

from invtransfer.data.glyphs import Glyphs
from invtransfer.models import small_cnn, train_classifier

log = logging.getLogger("glyphs_learnability")


@torch.no_grad()
def per_class_accuracy(model: nn.Module, data: Glyphs) -> torch.Tensor:
    """``(num_classes,)`` top-1 accuracy of each class of ``data``."""
    model.eval()
    x = data.images.float() / 255
    predicted = torch.cat([model(batch).argmax(1) for batch in x.split(1024)])
    hits = torch.zeros(data.num_classes).index_add_(
        0, data.targets, (predicted == data.targets).float()
    )
    return hits / torch.bincount(data.targets, minlength=data.num_classes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=49)
    parser.add_argument("--per-class", type=int, default=500, help="training glyphs per class")
    parser.add_argument("--test-per-class", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/glyphs/learnability.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    start = time.perf_counter()
    train_set = Glyphs(args.classes, args.per_class, seed=args.seed, split="train")
    test_set = Glyphs(args.classes, args.test_per_class, seed=args.seed, split="test")
    log.info("generated %s and %s in %.2f s", train_set, test_set, time.perf_counter() - start)

    torch.manual_seed(args.seed)  # model initialisation only; the data order has a generator
    model = small_cnn(args.classes)
    generator = torch.Generator().manual_seed(args.seed)
    start = time.perf_counter()
    train_classifier(
        model, train_set.images, train_set.targets, args.epochs, args.batch_size, args.lr, generator
    )
    seconds = time.perf_counter() - start
    test_per_class = per_class_accuracy(model, test_set)
    result = {
        "classes": args.classes,
        "train_per_class": args.per_class,
        "test_per_class": args.test_per_class,
        "epochs": args.epochs,
        "train_accuracy": per_class_accuracy(model, train_set).mean().item(),
        "test_accuracy": test_per_class.mean().item(),  # balanced: also the plain accuracy
        "test_worst_class_accuracy": test_per_class.min().item(),
        "chance": 1 / args.classes,
        "train_seconds": seconds,
    }
    log.info(
        "train accuracy %.4f  held-out test accuracy %.4f (worst class %.4f)  chance %.4f  "
        "(%.0f s training)",
        result["train_accuracy"],
        result["test_accuracy"],
        result["test_worst_class_accuracy"],
        result["chance"],
        seconds,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    log.info("results written to %s", args.out)


if __name__ == "__main__":
    main()
