"""invtransfer: long-tail invariance tools for PyTorch.

Deep networks learn invariance to class-agnostic nuisances from their large classes but do
not transfer it to the small ones. invtransfer gives the pieces to measure and fix that:
nuisance transform families (`invtransfer.transforms`), and, as the library grows,
long-tailed datasets, samplers and losses, invariance metrics and generative invariance
transfer.

Example:
    >>> import invtransfer
    >>> family = invtransfer.transforms.Rotation(degrees=30)
    >>> isinstance(invtransfer.__version__, str)
    True
"""

from invtransfer import transforms

__version__ = "0.1.0"

__all__ = ["__version__", "transforms"]
