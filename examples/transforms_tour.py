"""A tour of the nuisance transform families: sample, replay, compose, and look at them.

Draws a few stroke images, shows what every family does to them (one PNG grid per family:
the clean image in the first column, then transformed views), replays one draw exactly from
its saved parameters, and prints what was drawn. Runs on the CPU in a few seconds and needs
no data:

    python examples/transforms_tour.py --out outputs/transforms_tour
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path

import torch
from torchvision.utils import save_image

from invtransfer import transforms as T

log = logging.getLogger("transforms_tour")

FAMILIES: dict[str, T.TransformFamily] = {
    "rotation": T.Rotation(degrees=180, interpolation="bicubic"),
    "background": T.BackgroundIntensity(),
    "morphology": T.Morphology(),
    "affine": T.Affine(degrees=15, translate=0.1, scale=(0.8, 1.1), shear=15),
    "brightness_contrast": T.Compose([T.Brightness(), T.Contrast()]),
    "blur": T.GaussianBlur(sigma=(0.1, 1.5)),
    "one_of": T.RandomChoice([T.Rotation(degrees=180), T.BackgroundIntensity(), T.Morphology()]),
}
"""The families on show: the paper's three K49 nuisances first, then lighting and geometry."""


def stroke_images(n: int, size: int = 28, seed: int = 0) -> torch.Tensor:
    """``n`` uint8 ``(1, size, size)`` images of white arcs on black, like handwriting."""
    generator = torch.Generator().manual_seed(seed)
    coords = torch.linspace(-1, 1, size)
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    radius = 0.35 + 0.3 * torch.rand(n, 1, 1, generator=generator)
    start = 2 * math.pi * torch.rand(n, 1, 1, generator=generator)
    angle = torch.atan2(y, x) - start
    on_arc = torch.remainder(angle, 2 * math.pi) < 4.0
    ring = ((x**2 + y**2).sqrt() - radius).abs() < 0.09
    bar = (x.abs() < 0.07) & (y.abs() < radius)
    return ((ring & on_arc) | bar).to(torch.uint8).mul(255).unsqueeze(1)


def show_family(name: str, family: T.TransformFamily, clean: torch.Tensor, out: Path) -> None:
    """Save a grid: one row per image, the clean image then ``views`` transformed copies."""
    views = family.views(clean, k=7, generator=torch.Generator().manual_seed(1))
    rows = torch.cat([clean.unsqueeze(1), views.images.view(len(clean), 7, *clean.shape[1:])], 1)
    save_image(rows.flatten(0, 1).float() / 255, out / f"{name}.png", nrow=8, pad_value=0.5)
    fields = ", ".join(
        f"{key} {tuple(value.shape)}" for key, value in views.params.to_dict().items()
    )
    log.info("%-20s %3d views  params: %s", name, len(views.images), fields)


def replay_exactly(clean: torch.Tensor) -> None:
    """Draw parameters once, store them as a dict of tensors, and replay them bit for bit."""
    family = FAMILIES["rotation"]
    first, params = family.apply_random(clean, generator=torch.Generator().manual_seed(2))
    stored = params.to_dict()  # plain tensors: safetensors.torch.save_file(stored, path) works
    again = family.apply(clean, T.Params.from_dict(stored))
    log.info(
        "replayed %d rotations from stored params: identical = %s",
        len(clean),
        bool(torch.equal(first, again)),
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("outputs/transforms_tour"))
    parser.add_argument("--images", type=int, default=4, help="images per grid")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    args.out.mkdir(parents=True, exist_ok=True)
    clean = stroke_images(args.images)
    for name, family in FAMILIES.items():
        show_family(name, family, clean, args.out)
    replay_exactly(clean)
    log.info("grids written to %s", args.out)


if __name__ == "__main__":
    main()
