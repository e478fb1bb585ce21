"""The invariance curve of a torchvision model trained in your own loop.

`invariance_curve` works on any ``nn.Module`` that maps float images in [0, 1] to logits. This
script builds a torchvision classifier from scratch (``--arch``, by default ResNet-18; no
pretrained weights, nothing downloaded), adapts it to 28x28 grayscale input (a ResNet gets
a one-channel 3x3 stride-1 stem; any other model gets the gray channel repeated to RGB),
trains it briefly with plain cross-entropy on Glyphs-LT-DIL (the embedded procedural glyphs,
each image with one fixed random stroke width; Zipf class sizes), then measures, class by
class, how much its prediction on a clean test image moves when the stroke width changes
(eKLD under the variant's `Morphology` family). The paper's finding: invariance is learned
per class, so eKLD falls as the class grows (a negative Spearman correlation).

Saves the curve as PNG (log class-size axis), CSV and JSON under ``--out`` and logs the
Spearman summary. The defaults take a few minutes on a 2-core CPU:

    python examples/torchvision_model_curve.py --arch resnet18 --out outputs/torchvision_curve
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import torch
import torchvision
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from invtransfer.data import glyphs_lt
from invtransfer.metrics import invariance_curve

log = logging.getLogger("torchvision_model_curve")


class GrayToRGB(nn.Module):
    """Repeat a one-channel image to three channels, for models built for RGB input."""

    def forward(self, x: Tensor) -> Tensor:
        return x.expand(-1, 3, -1, -1)


def grayscale_classifier(arch: str, num_classes: int) -> nn.Module:
    """The torchvision model ``arch`` with random weights, for 28x28 one-channel images."""
    model = torchvision.models.get_model(arch, weights=None, num_classes=num_classes)
    if isinstance(model, torchvision.models.ResNet):
        # The ImageNet stem (7x7 stride 2, then a max pool) would leave 7x7 maps at layer1;
        # a 3x3 stride-1 convolution over the gray channel keeps 14x14 after the max pool.
        model.conv1 = nn.Conv2d(1, model.conv1.out_channels, 3, padding=1, bias=False)
        return model
    return nn.Sequential(GrayToRGB(), model)


def in_memory(dataset: Dataset) -> tuple[Tensor, Tensor]:
    """Every image (``uint8``) and label of ``dataset``."""
    items = [dataset[i] for i in range(len(dataset))]  # type: ignore[arg-type]
    return torch.stack([image for image, _ in items]), torch.as_tensor([int(y) for _, y in items])


def train(model: nn.Module, train_set: Dataset, args: argparse.Namespace) -> None:
    """Plain cross-entropy with Adam on shuffled batches: the user's own loop."""
    images, labels = in_memory(train_set)
    loader = DataLoader(
        TensorDataset(images, labels), batch_size=args.batch_size, shuffle=True,
        drop_last=True,  # batch norm cannot train on a batch of one image
        generator=torch.Generator().manual_seed(args.seed),
    )  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    model.train()
    for epoch in range(args.epochs):
        total, seen = 0.0, 0
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x.float() / 255), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, seen = total + loss.item() * len(y), seen + len(y)
        log.info("epoch %d/%d: train loss %.4f", epoch + 1, args.epochs, total / max(seen, 1))


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet18", help="a torchvision classification model")
    parser.add_argument("--out", type=Path, default=Path("outputs/torchvision_curve"))
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--per-class", type=int, default=500, help="glyphs drawn per class")
    parser.add_argument("--test-per-class", type=int, default=50)
    parser.add_argument("--max-count", type=int, default=400, help="largest class size")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--samples-per-class", type=int, default=20, help="clean test images")
    parser.add_argument("--transforms", type=int, default=20, help="stroke widths per image (K)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    splits = glyphs_lt(
        "dil", num_classes=args.classes, per_class=args.per_class,
        test_per_class=args.test_per_class, max_count=args.max_count,
        val_per_class=1, seed=args.seed,  # this example uses no validation split
    )  # fmt: skip
    log.info("Glyphs-LT-DIL: class sizes %s", splits.class_counts.tolist())
    torch.manual_seed(args.seed)  # the model's initial weights
    model = grayscale_classifier(args.arch, splits.num_classes)
    start = time.perf_counter()
    train(model, splits.train, args)
    log.info("%s trained in %.0f s", args.arch, time.perf_counter() - start)

    start = time.perf_counter()
    curve = invariance_curve(
        model,
        splits.test.dataset,  # the clean test images: the test split without its nuisance
        splits.family,  # Morphology(): erosion and dilation of the strokes
        class_sizes=splits.class_counts,
        samples_per_class=args.samples_per_class,
        transforms_per_sample=args.transforms,
        seed=args.seed,
        progress=False,
    )
    log.info("measured in %.0f s", time.perf_counter() - start)
    ekld = curve.measures["ekld"]["mean"]
    for c in range(curve.num_classes):
        log.info(
            "class %2d: %4d training images, eKLD %.4f, clean accuracy %.2f",
            c, int(curve.class_sizes[c]), float(ekld[c]), float(curve.accuracy[c]),
        )  # fmt: skip
    summary = curve.summary("ekld")
    log.info(
        "summary: Spearman(class size, eKLD) %.3f | tail/head eKLD %.2f | "
        "balanced accuracy (clean) %.3f",
        summary["spearman"], summary["tail_over_head"], summary["balanced_accuracy"],
    )  # fmt: skip
    for path in curve.save(args.out / "curve", f"{args.arch} on Glyphs-LT-DIL: eKLD per class"):
        log.info("wrote %s", path)
    return summary


if __name__ == "__main__":
    main()
