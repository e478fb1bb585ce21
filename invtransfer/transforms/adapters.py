"""Bridges to ``torchvision.transforms.v2``, in both directions."""

from __future__ import annotations

from typing import Any

import PIL.Image
import torch
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from invtransfer._seeding import global_rng_kept, seed_global_rngs
from invtransfer.transforms.base import TransformFamily
from invtransfer.transforms.params import Params

__all__ = ["FamilyTransform", "TorchvisionFamily", "from_torchvision", "to_torchvision"]

_IDENTITY_SEED = -1
_SPATIAL_ANNOTATIONS = (tv_tensors.BoundingBoxes, tv_tensors.Mask, tv_tensors.KeyPoints)


class TorchvisionFamily(TransformFamily):
    """A torchvision v2 transform turned into a family with per-image parameters.

    torchvision draws one set of parameters per call from the global RNG. This family draws
    one seed per image from your generator instead; applying replays the torchvision
    transform on each image under its seed, inside a forked RNG, so the global RNG is left
    as it was. Seed ``-1`` leaves an image unchanged (the identity). The replay is a Python
    loop over images: prefer the native families on hot paths.

    Examples:
        >>> from torchvision.transforms import v2
        >>> family = from_torchvision(v2.RandomRotation(30))
        >>> x = torch.rand(4, 1, 16, 16)
        >>> params = family.sample(4, generator=torch.Generator().manual_seed(0))
        >>> torch.equal(family.apply(x, params), family.apply(x, params))
        True
    """

    geometric = True  # unknown, so assume the worst for spatial annotations

    def __init__(self, transform: v2.Transform) -> None:
        super().__init__()
        if not isinstance(transform, v2.Transform):
            raise TypeError(
                "transform: expected a torchvision.transforms.v2 transform, received "
                f"{type(transform).__module__}.{type(transform).__name__}"
            )
        self.transform = transform

    def _sample(self, n: int, generator: torch.Generator, device: torch.device) -> Params:
        return Params(seed=torch.randint(2**62, (n,), generator=generator, device=device))

    def identity(self, n: int, device: torch.device | str | None = None) -> Params:
        return Params(seed=torch.full((n,), _IDENTITY_SEED, dtype=torch.long, device=device))

    def _transform(self, x: Tensor, params: Params) -> Tensor:
        outputs = []
        with global_rng_kept():
            for image, seed in zip(x, params.seed.tolist(), strict=True):
                if seed == _IDENTITY_SEED:
                    outputs.append(image)
                    continue
                seed_global_rngs(seed)
                outputs.append(self.transform(image))
        shapes = {tuple(out.shape) for out in outputs}
        if len(shapes) != 1:
            raise ValueError(
                f"transform: expected outputs of one shape to stack, received shapes {shapes}"
            )
        return torch.stack(outputs)


class FamilyTransform(v2.Transform):
    """A family as a ``torchvision.transforms.v2`` transform, for Dataset pipelines.

    One parameter draw per call, shared by every image in the sample (as v2 does); images
    (``tv_tensors.Image``, ``Video``, PIL images or the first plain tensor) are transformed,
    labels and other values pass through. Bounding boxes, masks and key points pass through
    a photometric family; a geometric family refuses them. Each call seeds a fresh generator
    from the operating system, so DataLoader workers never repeat each other's draws.

    Examples:
        >>> from torchvision.transforms import v2
        >>> from invtransfer.transforms import Rotation
        >>> pipeline = v2.Compose([v2.ToImage(), to_torchvision(Rotation(degrees=15))])
        >>> image, label = pipeline(torch.zeros(1, 28, 28, dtype=torch.uint8), 7)
        >>> image.dtype, label
        (torch.uint8, 7)
    """

    _transformed_types = (
        tv_tensors.Image,
        tv_tensors.Video,
        PIL.Image.Image,
        lambda value: type(value) is Tensor,
    )

    def __init__(self, family: TransformFamily) -> None:
        super().__init__()
        if not isinstance(family, TransformFamily):
            raise TypeError(f"family: expected a TransformFamily, received {type(family).__name__}")
        self.family = family

    def check_inputs(self, flat_inputs: list[Any]) -> None:
        """Refuse bounding boxes, masks and key points when the family moves pixels."""
        annotations = [type(v).__name__ for v in flat_inputs if isinstance(v, _SPATIAL_ANNOTATIONS)]
        if annotations and self.family.geometric:
            raise TypeError(
                f"{type(self.family).__name__} moves pixels, and to_torchvision transforms "
                f"images only: expected no spatial annotations, received {annotations}"
            )

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        return {"params": self.family.sample(1)}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, PIL.Image.Image):
            return TF.to_pil_image(self._apply_to_frames(TF.pil_to_tensor(inpt), params))
        out = self._apply_to_frames(inpt.as_subclass(Tensor), params)
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out

    def _apply_to_frames(self, images: Tensor, params: dict[str, Any]) -> Tensor:
        """Apply the one parameter draw to every ``(C, H, W)`` frame of ``images``."""
        frames = images.reshape(-1, *images.shape[-3:])
        replicated = params["params"][torch.zeros(len(frames), dtype=torch.long)]
        return self.family.apply(frames, replicated).reshape(images.shape)


def from_torchvision(transform: v2.Transform) -> TorchvisionFamily:
    """Wrap a ``torchvision.transforms.v2`` transform as a family with per-image parameters.

    See `TorchvisionFamily`.
    """
    return TorchvisionFamily(transform)


def to_torchvision(family: TransformFamily) -> FamilyTransform:
    """Wrap a family as a ``torchvision.transforms.v2`` transform. See `FamilyTransform`."""
    return FamilyTransform(family)
