"""invtransfer: long-tail invariance tools for PyTorch.

Deep networks learn invariance to class-agnostic nuisances from their large classes but do
not transfer it to the small ones. invtransfer gives the pieces to measure and fix that:
nuisance transform families (``invtransfer.transforms``), long-tailed datasets
(``invtransfer.data``), samplers and schedules (``invtransfer.sampling``) and long-tail
losses (``invtransfer.losses``), invariance metrics (``invtransfer.metrics``) and generative
invariance transfer (``invtransfer.generative``).

Examples:
    >>> import invtransfer
    >>> family = invtransfer.transforms.Rotation(degrees=30)
    >>> isinstance(invtransfer.__version__, str)
    True
"""

from invtransfer import data, generative, labels, losses, metrics, sampling, transforms

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "data",
    "generative",
    "labels",
    "losses",
    "metrics",
    "sampling",
    "transforms",
]
