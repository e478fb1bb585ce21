"""Build MNIST-ROT/BG/DIL-LT from the MNIST files and look at clean vs nuisance images.

For each variant, builds the paper's K49-style long-tailed recipe on MNIST, logs its class
counts and summary, and saves a grid: odd rows are clean training images (one column per
class, largest class first), even rows the same images with their fixed nuisance.

    python examples/longtail_datasets.py --data-root ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import torch
from torchvision.utils import save_image

from invtransfer.data import VARIANTS, LongTailSplits, mnist_lt

log = logging.getLogger("longtail_datasets")

DEFAULT_ROOT = Path(os.environ.get("INVTRANSFER_DATA", "../shared/data")) / "mnist"


def clean_and_nuisance_grid(splits: LongTailSplits, rows: int, path: Path) -> None:
    """Save ``rows`` pairs of rows: clean images, then the same images with their nuisance."""
    train = splits.train
    per_class = [(train.targets == c).nonzero().flatten() for c in range(splits.num_classes)]
    tiles = []
    for row in range(rows):
        picks = [int(members[row % len(members)]) for members in per_class]
        tiles += [train.clean(i)[0] for i in picks] + [train[i][0] for i in picks]
    save_image(torch.stack(tiles).float() / 255, path, nrow=splits.num_classes, pad_value=0.5)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, default=DEFAULT_ROOT, help="the MNIST files")
    parser.add_argument("--out", type=Path, default=Path("outputs/longtail_datasets"))
    parser.add_argument("--rows", type=int, default=3, help="clean/nuisance row pairs")
    parser.add_argument("--max-count", type=int, default=4800, help="largest class size")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    args.out.mkdir(parents=True, exist_ok=True)
    for variant in VARIANTS:
        splits = mnist_lt(args.data_root, variant, max_count=args.max_count)
        log.info("MNIST-%s-LT: %s", variant.upper(), splits.summary())
        log.info("  train class counts %s", splits.class_counts.tolist())
        path = args.out / f"mnist_{variant}_lt.png"
        clean_and_nuisance_grid(splits, args.rows, path)
        log.info("  clean vs nuisance grid: %s", path)


if __name__ == "__main__":
    main()
