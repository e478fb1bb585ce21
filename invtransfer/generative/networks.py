"""The MUNIT-style networks, written from the paper (Huang et al., ECCV 2018).

A content encoder keeps what a class is made of; a style encoder summarises the nuisance in
a short code; a decoder rebuilds an image from a content code and a style code through
AdaIN; a multi-scale PatchGAN discriminator judges realism. Images are in [-1, 1] inside
these networks; `invtransfer.generative.GenerativeAugment` converts at the boundary.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invtransfer._seeding import generator_for, global_rng_kept
from invtransfer.generative.config import MUNITConfig

__all__ = ["MUNITDiscriminator", "MUNITGenerator", "check_images", "random_styles"]


def _conv(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    """A convolution with reflect padding that keeps the size (stride 1) or halves it."""
    return nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, padding_mode="reflect")


class _ResidualBlock(nn.Module):
    """conv-norm-ReLU, conv-norm, add; no activation after the add (instance norm)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = _conv(channels, channels, 3), _conv(channels, channels, 3)

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(F.instance_norm(self.conv1(x)))
        return x + F.instance_norm(self.conv2(h))


class _AdaINResidualBlock(_ResidualBlock):
    """A residual block whose two norms take a per-sample scale and bias from the style."""

    def forward(self, x: Tensor, scales: Tensor, biases: Tensor) -> Tensor:  # type: ignore[override]
        h = F.relu(_adain(self.conv1(x), scales[:, 0], biases[:, 0]))
        return x + _adain(self.conv2(h), scales[:, 1], biases[:, 1])


def _adain(x: Tensor, scale: Tensor, bias: Tensor) -> Tensor:
    """Instance-normalise, then scale by ``1 + scale`` and shift by ``bias`` (per channel).

    ``1 + scale`` rather than MUNIT's raw scale keeps the decoder well-behaved at
    initialisation, when the MLP's outputs are near 0.
    """
    return F.instance_norm(x) * (1 + scale[..., None, None]) + bias[..., None, None]


class _ContentEncoder(nn.Sequential):
    def __init__(self, config: MUNITConfig) -> None:
        layers: list[nn.Module] = [_conv(config.channels, config.dim, 7)]
        layers += [nn.InstanceNorm2d(config.dim), nn.ReLU()]
        channels = config.dim
        for _ in range(config.n_downsample):
            layers += [_conv(channels, 2 * channels, 4, 2)]
            layers += [nn.InstanceNorm2d(2 * channels), nn.ReLU()]
            channels *= 2
        layers += [_ResidualBlock(channels) for _ in range(config.n_res)]
        super().__init__(*layers)


class _StyleEncoder(nn.Sequential):
    """Stride-2 convolutions without normalisation (it would erase the style statistics),
    global average pooling, then a 1x1 convolution to the style code."""

    def __init__(self, config: MUNITConfig) -> None:
        layers: list[nn.Module] = [_conv(config.channels, config.dim, 7), nn.ReLU()]
        channels = config.dim
        for _ in range(config.style_downsample):
            wider = min(2 * channels, 4 * config.dim)
            layers += [_conv(channels, wider, 4, 2), nn.ReLU()]
            channels = wider
        layers += [nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, config.style_dim, 1)]
        layers += [nn.Flatten()]
        super().__init__(*layers)


class _Decoder(nn.Module):
    """AdaIN residual blocks, then (upsample, 5x5 conv, layer norm, ReLU) stages, then a
    7x7 conv and tanh. An MLP turns the style code into every AdaIN scale and bias."""

    def __init__(self, config: MUNITConfig) -> None:
        super().__init__()
        channels = config.content_channels
        self.blocks = nn.ModuleList(_AdaINResidualBlock(channels) for _ in range(config.n_res))
        self.mlp = nn.Sequential(
            nn.Linear(config.style_dim, config.mlp_dim),
            nn.ReLU(),
            nn.Linear(config.mlp_dim, config.mlp_dim),
            nn.ReLU(),
            nn.Linear(config.mlp_dim, config.n_res * 2 * 2 * channels),
        )
        stages: list[nn.Module] = []
        for _ in range(config.n_downsample):
            stages += [nn.Upsample(scale_factor=2), _conv(channels, channels // 2, 5)]
            stages += [nn.GroupNorm(1, channels // 2), nn.ReLU()]  # layer norm over (C, H, W)
            channels //= 2
        stages += [_conv(channels, config.channels, 7), nn.Tanh()]
        self.upsample = nn.Sequential(*stages)

    def forward(self, content: Tensor, style: Tensor) -> Tensor:
        # per block: (sample, norm 1 or 2, scale or bias, channel)
        adain = self.mlp(style).unflatten(1, (len(self.blocks), 2, 2, content.shape[1]))
        x = content
        for block, params in zip(self.blocks, adain.unbind(1), strict=True):
            x = block(x, params[:, :, 0], params[:, :, 1])
        return self.upsample(x)


class MUNITGenerator(nn.Module):
    """Content and style encoders and the decoder of a single-domain MUNIT.

    Images are float ``(N, C, H, W)`` in [-1, 1]; style codes are ``(N, style_dim)``.
    ``seed`` makes the initial weights a function of the seed alone (Kaiming normal), without
    touching the global RNG; ``None`` initialises from the global RNG, like any module.

    Examples:
        >>> from invtransfer.generative import preset
        >>> generator = MUNITGenerator(preset("tiny", image_size=8, channels=1))
        >>> x = torch.rand(2, 1, 8, 8) * 2 - 1
        >>> content, style = generator.encode(x)
        >>> content.shape, style.shape
        (torch.Size([2, 16, 4, 4]), torch.Size([2, 4]))
        >>> generator(x, torch.randn(2, 4)).shape  # translate under new styles
        torch.Size([2, 1, 8, 8])
    """

    def __init__(self, config: MUNITConfig, seed: int | None = None) -> None:
        super().__init__()
        self.config = _checked(config)
        with global_rng_kept():  # the initialisation below replaces this one
            self.content_encoder = _ContentEncoder(config)
            self.style_encoder = _StyleEncoder(config)
            self.decoder = _Decoder(config)
        _initialise(
            self, seed, lambda w, g: nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g)
        )

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The content code and the style code of ``x``."""
        self._check_images(x)
        return self.content_encoder(x), self.style_encoder(x)

    def decode(self, content: Tensor, style: Tensor) -> Tensor:
        """The image with this content and this style."""
        self._check_styles(style, len(content))
        return self.decoder(content, style)

    def forward(self, x: Tensor, style: Tensor) -> Tensor:
        """Translate: keep the content of ``x``, take the style ``style``."""
        self._check_images(x)
        return self.decode(self.content_encoder(x), style)

    def _check_images(self, x: Tensor) -> None:
        channels = self.config.channels
        if not isinstance(x, Tensor) or x.ndim != 4 or x.shape[1] != channels:
            received = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x: expected images (N, {channels}, H, W), received {received}")

    def _check_styles(self, style: Tensor, n: int) -> None:
        if not isinstance(style, Tensor) or tuple(style.shape) != (n, self.config.style_dim):
            received = tuple(style.shape) if isinstance(style, Tensor) else type(style).__name__
            raise ValueError(
                f"style: expected style codes ({n}, {self.config.style_dim}), one per image, "
                f"received {received}"
            )


class MUNITDiscriminator(nn.Module):
    """A multi-scale PatchGAN: independent nets on the input and 2x smaller copies of it.

    Examples:
        >>> from invtransfer.generative import MUNITConfig
        >>> config = MUNITConfig(image_size=28, channels=1, disc_layers=3, disc_scales=2)
        >>> outputs = MUNITDiscriminator(config)(torch.rand(2, 1, 28, 28))
        >>> tuple(out.shape[-1] for out in outputs)  # patch maps: one per scale
        (3, 1)
    """

    def __init__(self, config: MUNITConfig, seed: int | None = None) -> None:
        super().__init__()
        self.config = _checked(config)
        with global_rng_kept():  # the initialisation below replaces this one
            self.scales = nn.ModuleList(
                _patch_discriminator(config) for _ in range(config.disc_scales)
            )
        _initialise(self, seed, lambda w, g: nn.init.normal_(w, 0.0, 0.02, generator=g))

    def forward(self, x: Tensor) -> list[Tensor]:
        """One map of patch scores per scale, largest scale first."""
        outputs = []
        for index, net in enumerate(self.scales):
            if index:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            outputs.append(net(x))
        return outputs


def _patch_discriminator(config: MUNITConfig) -> nn.Sequential:
    layers: list[nn.Module] = []
    c_in, c_out = config.channels, config.disc_dim
    for _ in range(config.disc_layers):
        layers += [_conv(c_in, c_out, 4, 2), nn.LeakyReLU(0.2)]
        c_in, c_out = c_out, 2 * c_out
    layers.append(nn.Conv2d(c_in, 1, 1))
    return nn.Sequential(*layers)


def _checked(config: MUNITConfig) -> MUNITConfig:
    if not isinstance(config, MUNITConfig):
        raise TypeError(f"config: expected a MUNITConfig, received {type(config).__name__}")
    return config


def _initialise(
    module: nn.Module, seed: int | None, init: Callable[[Tensor, torch.Generator | None], object]
) -> None:
    """Initialise every convolution and linear weight with ``init``, biases with 0; from
    ``seed`` alone if given (the global RNG untouched), else from the global RNG."""
    generator = None if seed is None else generator_for(seed)
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            init(layer.weight, generator)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def check_images(config: MUNITConfig, x: Tensor, name: str = "x") -> None:
    """Raise ``ValueError`` unless ``x`` has the channels and size ``config`` was built for."""
    expected = (config.channels, config.image_size, config.image_size)
    if tuple(x.shape[-3:]) != expected:
        raise ValueError(
            f"{name}: the generator was built for images of shape (C, H, W) = {expected}, "
            f"received {tuple(x.shape[-3:])}"
        )


def random_styles(n: int, config: MUNITConfig, generator: torch.Generator) -> Tensor:
    """``n`` style codes from N(0, I), drawn on the generator's device."""
    return torch.randn(n, config.style_dim, generator=generator, device=generator.device)
