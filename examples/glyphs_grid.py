"""A grid of Glyphs: a strip of handwritten samples per class, strips in a few columns.

Generates the embedded procedural glyph dataset (no files, no network) and saves a PNG:
one strip of samples per class, class 0 at the top left and the strips filling the columns
row by row, to look at the classes and at the variation within each:

    python examples/glyphs_grid.py --classes 49 --samples 8 --out outputs/glyphs/glyphs_grid.png
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import torch
from torchvision.utils import make_grid, save_image

from invtransfer.data.glyphs import Glyphs

log = logging.getLogger("glyphs_grid")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=49, help="glyph classes (rows)")
    parser.add_argument("--samples", type=int, default=8, help="samples per class (a strip)")
    parser.add_argument("--columns", type=int, default=3, help="class strips per grid row")
    parser.add_argument("--zoom", type=int, default=2, help="pixels per glyph pixel")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", default="train", choices=["train", "val", "test"])
    parser.add_argument("--out", type=Path, default=Path("outputs/glyphs/glyphs_grid.png"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    start = time.perf_counter()
    glyphs = Glyphs(args.classes, args.samples, seed=args.seed, split=args.split)
    log.info("generated %s in %.3f s", glyphs, time.perf_counter() - start)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    images = glyphs.images.float().div(255).repeat_interleave(args.zoom, -1)
    images = images.repeat_interleave(args.zoom, -2)
    strips = [
        make_grid(group, nrow=args.samples, pad_value=0.5) for group in images.split(args.samples)
    ]
    save_image(torch.stack(strips), args.out, nrow=args.columns, padding=8, pad_value=1.0)
    log.info("grid of %d x %d glyphs written to %s", args.classes, args.samples, args.out)


if __name__ == "__main__":
    main()
