"""Generative invariance transfer: a MUNIT-style augmenter, its trainer, `GenerativeAugment`.

Train a single-domain MUNIT on the whole long-tailed training set with `MUNITTrainer`, then
drop `GenerativeAugment` into the classifier's training step or DataLoader: it replaces part
of each batch with translations under random style codes, keeping the labels.

Examples:
    >>> import torch
    >>> from invtransfer.generative import GenerativeAugment, MUNITGenerator, preset
    >>> generator = MUNITGenerator(preset("tiny", image_size=28, channels=1), seed=0)
    >>> augment = GenerativeAugment(generator, fraction=0.5)
    >>> x, y = torch.rand(8, 1, 28, 28), torch.arange(8)
    >>> images, labels, mask = augment(x, y, key=0, return_mask=True)  # key: a step
    >>> int(mask.sum())
    4
"""

from invtransfer.generative.augment import (
    GATES,
    AugmentCollator,
    GenerativeAugment,
    LearnedNuisance,
)
from invtransfer.generative.bank import TranslationBank
from invtransfer.generative.config import PRESETS, LossWeights, MUNITConfig, preset
from invtransfer.generative.grid import grid_images, translation_grid
from invtransfer.generative.networks import MUNITDiscriminator, MUNITGenerator
from invtransfer.generative.objectives import MUNITObjectives
from invtransfer.generative.quality import (
    ClassKeeping,
    NuisanceCoverage,
    class_keeping,
    nuisance_coverage,
)
from invtransfer.generative.trainer import (
    CheckpointEvery,
    LogEvery,
    MUNITCallback,
    MUNITTrainer,
    SamplesEvery,
    latest_checkpoint,
    load_generator,
)
from invtransfer.losses import NonFiniteLossError  # also raised by the classifiers' loops

__all__ = [
    "GATES",
    "PRESETS",
    "AugmentCollator",
    "CheckpointEvery",
    "ClassKeeping",
    "GenerativeAugment",
    "LogEvery",
    "LearnedNuisance",
    "LossWeights",
    "MUNITConfig",
    "MUNITCallback",
    "MUNITDiscriminator",
    "MUNITGenerator",
    "MUNITObjectives",
    "MUNITTrainer",
    "NonFiniteLossError",
    "NuisanceCoverage",
    "SamplesEvery",
    "TranslationBank",
    "class_keeping",
    "grid_images",
    "latest_checkpoint",
    "load_generator",
    "nuisance_coverage",
    "preset",
    "translation_grid",
]
