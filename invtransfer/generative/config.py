"""`MUNITConfig`: the sizes of the generator and discriminator, checked against the image size.

The reference MUNIT defaults (a 3-scale, 4-layer discriminator) crash on 28x28 and 32x32
images because a padded feature map gets smaller than a kernel; here every configuration is
checked when it is made, with an error that says which part does not fit and what would.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["PRESETS", "LossWeights", "MUNITConfig", "preset"]

_GAN_LOSSES = ("lsgan", "hinge")


@dataclass(frozen=True)
class MUNITConfig:
    """Architecture of a single-domain MUNIT-style generator and its discriminator.

    Args:
        image_size: the side of the square images, divisible by ``2 ** n_downsample``.
        channels: image channels (1 for grayscale, 3 for RGB).
        dim: channels of the first convolution; each downsampling doubles them.
        style_dim: length of the style code, drawn from N(0, I) to translate.
        mlp_dim: width of the MLP that turns a style code into AdaIN scales and biases.
        n_downsample: stride-2 convolutions of the content encoder (and upsampling stages of
            the decoder).
        n_res: residual blocks in the content encoder and AdaIN residual blocks in the
            decoder.
        style_downsample: stride-2 convolutions of the style encoder (channels capped at
            ``4 * dim``).
        disc_dim: channels of the discriminator's first layer; later layers double them.
        disc_layers: stride-2 convolutions of each discriminator scale.
        disc_scales: independent discriminators, each on a 2x smaller copy of the input.
        gan_loss: ``"lsgan"`` (least squares, the reference) or ``"hinge"``.

    Examples:
        >>> MUNITConfig(image_size=28, channels=1, disc_layers=3, disc_scales=2).image_size
        28
        >>> MUNITConfig(image_size=28, channels=1, disc_layers=4, disc_scales=3)
        Traceback (most recent call last):
        ...
        ValueError: disc_layers=4, disc_scales=3: scale 2 sees 14x14 images and its layer 4 ...
    """

    image_size: int
    channels: int
    dim: int = 64
    style_dim: int = 8
    mlp_dim: int = 256
    n_downsample: int = 2
    n_res: int = 4
    style_downsample: int = 4
    disc_dim: int = 64
    disc_layers: int = 4
    disc_scales: int = 1
    gan_loss: str = "lsgan"

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name == "gan_loss":
                continue
            least = 0 if field.name in ("n_downsample", "n_res") else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{field.name}: expected an int >= {least}, received {value!r}")
        if self.gan_loss not in _GAN_LOSSES:
            raise ValueError(f"gan_loss: expected one of {_GAN_LOSSES}, received {self.gan_loss!r}")
        self._check_generator()
        self._check_discriminator()

    @property
    def content_channels(self) -> int:
        """Channels of the content code."""
        return self.dim * 2**self.n_downsample

    @property
    def content_size(self) -> int:
        """Side of the content code."""
        return self.image_size // 2**self.n_downsample

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> MUNITConfig:
        """The config `to_dict` wrote; unknown or missing keys are an error."""
        if not isinstance(values, dict):
            raise TypeError(f"config: expected a dict, received {type(values).__name__}")
        known = {field.name for field in fields(cls)}
        if unknown := sorted(set(values) - known):
            raise ValueError(f"config: unknown keys {unknown}; expected keys from {sorted(known)}")
        return cls(**values)

    def _check_generator(self) -> None:
        step = 2**self.n_downsample
        if self.image_size % step or self.image_size // step < 2:
            raise ValueError(
                f"n_downsample={self.n_downsample}: image_size {self.image_size} must be a "
                f"multiple of 2**n_downsample = {step} that leaves a content code of at least "
                f"2x2; for {self.image_size}x{self.image_size} images use n_downsample in "
                f"{[n for n in range(6) if _fits_content(self.image_size, n)]}"
            )
        sizes = _halvings(self.image_size, self.style_downsample, lambda side: side // 2)
        if min(sizes[:-1]) < 2:
            raise ValueError(
                f"style_downsample={self.style_downsample}: the style encoder would halve "
                f"{self.image_size}x{self.image_size} images below 2x2 before its last "
                f"convolution; use at most {_max_layers(self.image_size)}"
            )

    def _check_discriminator(self) -> None:
        side = self.image_size
        for scale in range(1, self.disc_scales + 1):
            sizes = _halvings(side, self.disc_layers, lambda s: s // 2)
            if min(sizes[:-1]) < 2:
                layer = next(i for i, s in enumerate(sizes) if s < 2) + 1
                fits = ", ".join(
                    f"{_max_scales(self.image_size, layers)} with {layers}"
                    for layers in range(_max_layers(self.image_size), 1, -1)
                )
                raise ValueError(
                    f"disc_layers={self.disc_layers}, disc_scales={self.disc_scales}: scale "
                    f"{scale} sees {side}x{side} images and its layer {layer} would get a "
                    f"{sizes[layer - 1]}x{sizes[layer - 1]} input (at least 2x2 needed); for "
                    f"{self.image_size}x{self.image_size} images use at most {fits} layers"
                )
            side = -(-side // 2)  # 3x3 average pooling, stride 2, padding 1


@dataclass(frozen=True)
class LossWeights:
    """Weights of the generator's losses (MUNIT's, with its cycle term off, as in GIT).

    Args:
        image: L1 reconstruction of a real image from its own content and style (10).
        style: L1 between a random N(0, I) style and the style re-encoded from the image it
            made (1); this is what makes translations depend on the style.
        content: L1 between the content of a real image and that re-encoded from its
            translation (1).
        adversarial: the discriminator's verdict on translations (1).
        cycle: L1 between a real image and the decoding of its translation's content with
            its own style (0; MUNIT uses 10 when pixel alignment matters).

    Examples:
        >>> LossWeights(cycle=10).to_dict()["cycle"]
        10.0
    """

    image: float = 10.0
    style: float = 1.0
    content: float = 1.0
    adversarial: float = 1.0
    cycle: float = 0.0

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"{field.name}: expected a loss weight >= 0, received {value!r}")
            object.__setattr__(self, field.name, float(value))

    def to_dict(self) -> dict[str, float]:
        """A JSON-ready copy of every weight."""
        return asdict(self)


_PAPER = dict(
    dim=64, style_dim=8, mlp_dim=256, n_downsample=2, n_res=4, style_downsample=4,
    disc_dim=64, disc_layers=4, disc_scales=1,
)  # fmt: skip
"""The paper's generator (MUNIT's reference sizes) with the one discriminator scale GIT used
on small images."""

PRESETS: dict[str, dict[str, Any]] = {
    "paper-28x28x1": dict(_PAPER, image_size=28, channels=1),
    "paper-32x32x3": dict(_PAPER, image_size=32, channels=3),
    "small-28x28x1": dict(
        image_size=28, channels=1, dim=32, mlp_dim=128, n_res=3, style_downsample=4,
        disc_dim=32, disc_layers=3, disc_scales=2,
    ),
    "tiny": dict(
        dim=8, style_dim=4, mlp_dim=32, n_downsample=1, n_res=1, style_downsample=2,
        disc_dim=8, disc_layers=2, disc_scales=1,
    ),
}  # fmt: skip
"""Named architectures:

- ``paper-28x28x1`` (MNIST, K49) and ``paper-32x32x3`` (CIFAR, GTSRB): the paper's generator,
  MUNIT's reference sizes (dim 64, mlp 256, style 8, 2 downsamplings, 4 residual blocks), and
  a discriminator of 4 layers x 1 scale;
- ``small-28x28x1``: a smaller 28x28 generator for CPUs (dim 32, mlp 128, 3 residual blocks;
  discriminator 3 layers x 2 scales), about 4x cheaper to train;
- ``tiny``: any size, for tests and quick demos."""


def preset(name: str, **overrides: Any) -> MUNITConfig:
    """The named configuration, with any field overridden.

    ``tiny`` has no image size of its own: pass ``image_size`` and ``channels``.

    Examples:
        >>> preset("paper-28x28x1").dim, preset("small-28x28x1").dim
        (64, 32)
        >>> preset("tiny", image_size=16, channels=3).content_size
        8
    """
    if name not in PRESETS:
        raise ValueError(f"name: expected one of {sorted(PRESETS)}, received {name!r}")
    values = {**PRESETS[name], **overrides}
    if "image_size" not in values or "channels" not in values:
        raise ValueError(f"preset {name!r}: pass image_size= and channels=")
    return MUNITConfig(**values)


def _halvings(side: int, times: int, halve: Any) -> list[int]:
    sizes = [side]
    for _ in range(times):
        sizes.append(halve(sizes[-1]))
    return sizes


def _fits_content(side: int, n_downsample: int) -> bool:
    return side % 2**n_downsample == 0 and side // 2**n_downsample >= 2


def _max_layers(side: int) -> int:
    """The most stride-2 convolutions whose inputs all stay at least 2x2."""
    layers = 0
    while side >= 2:
        side, layers = side // 2, layers + 1
    return layers


def _max_scales(side: int, layers: int) -> int:
    scales = 0
    while _max_layers(side) >= layers:
        side, scales = -(-side // 2), scales + 1
        if side == 1:
            break
    return scales
