"""Class-agnostic nuisance transform families: sample per-image parameters, apply in batches.

A family is a distribution over nuisance transformations (rotation, background intensity,
stroke width, lighting, ...). ``family.sample(n, generator)`` draws replayable
`Params`, ``family.apply(x, params)`` applies them to a batch in one call, and
``family(x)`` does both, as an ``nn.Module``. Under every family is a public batched kernel
in `invtransfer.transforms.functional` (``from invtransfer.transforms import functional as
F``) that applies given per-image parameters to a float batch.

Examples:
    >>> import torch
    >>> from invtransfer.transforms import Compose, Morphology, Rotation
    >>> family = Compose([Rotation(degrees=180), Morphology()])
    >>> views = family.views(torch.rand(8, 1, 28, 28), k=4, generator=torch.Generator())
    >>> views.images.shape, views.source.shape
    (torch.Size([32, 1, 28, 28]), torch.Size([32]))
"""

from invtransfer._images import skip_range_checks
from invtransfer.transforms import functional
from invtransfer.transforms.adapters import (
    FamilyTransform,
    TorchvisionFamily,
    from_torchvision,
    to_torchvision,
)
from invtransfer.transforms.base import TransformFamily, Views
from invtransfer.transforms.compose import Compose, RandomApply, RandomChoice
from invtransfer.transforms.functional import dilate_or_erode
from invtransfer.transforms.geometric import Affine, HorizontalFlip, RandomCrop, Rotation
from invtransfer.transforms.morphology import Morphology
from invtransfer.transforms.params import Params
from invtransfer.transforms.photometric import (
    BackgroundIntensity,
    Brightness,
    Contrast,
    Gamma,
    GaussianBlur,
    Saturation,
)
from invtransfer.transforms.registry import FAMILIES, family_by_name

__all__ = [
    "FAMILIES",
    "Affine",
    "BackgroundIntensity",
    "Brightness",
    "Compose",
    "Contrast",
    "FamilyTransform",
    "Gamma",
    "GaussianBlur",
    "HorizontalFlip",
    "Morphology",
    "Params",
    "RandomApply",
    "RandomChoice",
    "RandomCrop",
    "Rotation",
    "Saturation",
    "TorchvisionFamily",
    "TransformFamily",
    "Views",
    "dilate_or_erode",
    "family_by_name",
    "from_torchvision",
    "functional",
    "skip_range_checks",
    "to_torchvision",
]
