"""The demo: the paper's core study at laptop scale on Glyphs-LT, with nothing to download.

Glyphs-LT-BG: the embedded procedural glyphs, Zipf class sizes (the K49-LT recipe), every
image on a background of one random intensity. ERM and CE+DRS are compared with
CE+DRS+GIT, whose generator is trained on the spot on the same training set.
"""

from __future__ import annotations

from invtransfer.experiments.config import ExperimentConfig

__all__ = ["demo_config"]

_QUICK = [
    'name="Glyphs-LT-BG (quick)"',
    "data.options={ num_classes = 20, per_class = 600, test_per_class = 50, max_count = 400 }",
    'model.name="small_cnn"',
    "train.epochs=12",
    "train.lr=0.02",
    "train.warmup_epochs=1",
    "train.milestones=[8, 10]",
    "train.batch_size=64",
    'git.preset="tiny"',
    "git.iterations=400",
    "evaluation.samples_per_class=20",
    "evaluation.transforms_per_sample=20",
]
_FAITHFUL = [
    'name="Glyphs-LT-BG"',
    "data.options={ num_classes = 49, per_class = 1200, test_per_class = 100, max_count = 4800 }",
    'model.name="resnet20"',
    "train.epochs=50",
    "train.milestones=[30, 40]",
    'git.preset="28x28x1"',
    "git.iterations=2500",
]


def demo_config(quick: bool = False) -> ExperimentConfig:
    """The demo's config: ``quick`` for a few minutes on a CPU; otherwise the paper's
    settings (49 classes of 4800 down to 5 images, ResNet-20, 50 epochs, the 28x28 generator).

    Examples:
        >>> demo_config(quick=True).methods
        ['ce', 'ce_drs', 'ce_drs+git']
        >>> demo_config().train.milestones
        [30, 40]
    """
    return ExperimentConfig(methods=["ce", "ce_drs", "ce_drs+git"]).with_overrides(
        _QUICK if quick else _FAITHFUL
    )
