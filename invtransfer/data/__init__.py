"""Long-tailed datasets: class-count profiles, long-tailed subsets, fixed-nuisance datasets,
dataset recipes (the paper's benchmarks, your own class folders, the split lists of
ImageNet-LT, iNaturalist-2018 and Places-LT), file readers and the embedded procedural
``Glyphs`` dataset.

Examples:
    >>> from invtransfer.data import longtail_counts, summary
    >>> counts = longtail_counts("zipf", 49, 4800, alpha=2, min_count=5)
    >>> print(summary(counts))
    49 classes, 7822 examples, counts 5..4800 (imbalance 960.0, Gini 0.902); many/medium/few: 6/9/34
"""

from invtransfer.data.folders import ImageFiles, image_folder, tinyimagenet_lt
from invtransfer.data.glyphs import Glyphs
from invtransfer.data.gtsrb import gtsrb_lt
from invtransfer.data.images import TensorImages
from invtransfer.data.indexed import WithIndex
from invtransfer.data.longtail import LongTailSubset, make_longtail
from invtransfer.data.nuisance import NuisanceDataset
from invtransfer.data.profiles import PROFILES, CountSummary, longtail_counts, summary
from invtransfer.data.readers import find_file, read_idx, read_npz
from invtransfer.data.recipes import (
    VARIANTS,
    LongTailSplits,
    cifar_lt,
    glyphs_lt,
    grayscale_lt,
    k49_lt,
    kmnist_lt,
    longtail_with_holdout,
    mnist_lt,
    nuisance_family,
)
from invtransfer.data.split_files import split_file

__all__ = [
    "PROFILES",
    "VARIANTS",
    "CountSummary",
    "Glyphs",
    "ImageFiles",
    "LongTailSplits",
    "LongTailSubset",
    "NuisanceDataset",
    "TensorImages",
    "WithIndex",
    "cifar_lt",
    "glyphs_lt",
    "find_file",
    "grayscale_lt",
    "gtsrb_lt",
    "image_folder",
    "k49_lt",
    "kmnist_lt",
    "longtail_counts",
    "longtail_with_holdout",
    "make_longtail",
    "mnist_lt",
    "nuisance_family",
    "read_idx",
    "read_npz",
    "split_file",
    "summary",
    "tinyimagenet_lt",
]
