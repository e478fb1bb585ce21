"""The model factory: a classifier by name, shaped for the data, seeded, built offline."""

from __future__ import annotations

import contextlib
import difflib
import functools
import importlib
import logging
import os
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType

import torch
from torch import Tensor, nn

from invtransfer._seeding import derive_seed, global_rng_kept, seed_global_rngs
from invtransfer._validation import positive_int
from invtransfer.models.resnet import resnet20, resnet32
from invtransfer.models.small import small_cnn

__all__ = ["MODELS", "build_model"]

log = logging.getLogger(__name__)

ImageShape = tuple[int, int, int]

MODELS: dict[str, Callable[..., nn.Module]] = {
    "resnet20": lambda num_classes, in_channels, image_size: resnet20(num_classes, in_channels),
    "resnet32": lambda num_classes, in_channels, image_size: resnet32(num_classes, in_channels),
    "small_cnn": small_cnn,
}
"""The built-in classifiers by name. Each is called as an import-path factory is:
``factory(num_classes=..., in_channels=..., image_size=(height, width))``."""


def build_model(
    name: str,
    num_classes: int,
    image_shape: ImageShape,
    seed: int = 0,
    weights: str | os.PathLike[str] | None = None,
) -> nn.Module:
    """The classifier ``name`` for images of shape ``image_shape`` ``(C, H, W)``, with
    ``num_classes`` logits, its initial weights a function of ``seed`` alone.

    Names:

    - a built-in of `MODELS`: ``"resnet20"``, ``"resnet32"``, ``"small_cnn"``;
    - ``"torchvision:<builder>"``, any classifier of ``torchvision.models.list_models()``
      (``"torchvision:resnet18"``), built with ``weights=None``. When the data's channels
      differ from the model's (1-channel images, say), its first convolution takes ``C``
      channels instead, its weights drawn afresh (PyTorch's default initialisation);
    - ``"timm:<model>"`` with timm installed (``pip install invtransfer[timm]``): any model
      of ``timm.list_models()``, built with ``pretrained=False`` and ``in_chans=C``;
    - an import path ``"package.module:factory"``, called as
      ``factory(num_classes=..., in_channels=C, image_size=(H, W))`` and returning an
      ``nn.Module`` that maps ``(N, C, H, W)`` images to ``(N, num_classes)`` logits.

    The head always has ``num_classes`` outputs. torchvision and timm models keep their
    ImageNet stems: they downsample by 32, so at 28 or 32 pixels the last stage sees 1x1
    maps. They run and train at that size, but the built-ins are made for small images.

    The model is built on the CPU (move it with ``.to(device)``) under a fork of the CPU RNG
    seeded from ``seed``, and one forward pass on a zero batch checks its output width
    (eval mode, no grad; its mode is restored). The global CPU RNG is left as it was and the
    CUDA RNG is never touched.

    Pretrained weights come only from the local file ``weights``, never from the network: a
    ``.safetensors`` file, or a state dict saved with ``torch.save`` (read with
    ``torch.load(..., weights_only=True)``). The names and shapes must match the model's,
    with two exceptions. A head of another width (ImageNet's 1000 classes, say) is left as
    initialised and everything else is loaded (logged at INFO). For 1-channel data, a
    first-convolution kernel with more input channels is summed over them, so that a gray
    image gives what the original model gives on that image repeated in every channel.

    Args:
        name: the model (see above).
        num_classes: outputs (logits).
        image_shape: the data's ``(channels, height, width)``.
        seed: seed of the initial weights.
        weights: a local ``.safetensors`` or ``torch.save`` state-dict file, or ``None``.

    Raises:
        ValueError: an unknown name (with the close matches), an import path that does not
            resolve, a model whose logits are not ``(N, num_classes)`` or that cannot run on
            ``image_shape``, a weights file whose tensors do not fit (naming the keys).
        ImportError: a ``"timm:..."`` name without timm installed.
        TypeError: a factory that is not callable or does not return an ``nn.Module``.

    Examples:
        >>> import torch
        >>> model = build_model("small_cnn", num_classes=3, image_shape=(1, 28, 28), seed=0)
        >>> model(torch.rand(2, 1, 28, 28)).shape
        torch.Size([2, 3])
        >>> model = build_model("torchvision:mobilenet_v3_small", 10, (1, 32, 32))
        >>> model.features[0][0].in_channels, model(torch.rand(2, 1, 32, 32)).shape
        (1, torch.Size([2, 10]))
        >>> model = build_model("invtransfer.models:small_cnn", 10, (3, 32, 32), seed=1)
        >>> model(torch.rand(2, 3, 32, 32)).shape
        torch.Size([2, 10])

        Weights from a local file, here a 100-class model's for 10-class data:

        >>> import tempfile
        >>> from safetensors.torch import save_file
        >>> path = Path(tempfile.mkdtemp()) / "resnet20.safetensors"
        >>> save_file(build_model("resnet20", 100, (3, 32, 32), seed=4).state_dict(), path)
        >>> model = build_model("resnet20", 10, (3, 32, 32), weights=path)
        >>> model.fc.weight.shape
        torch.Size([10, 64])

        >>> build_model("resnet18", 10, (3, 32, 32))
        Traceback (most recent call last):
        ...
        ValueError: name: expected ... received 'resnet18'; close matches: torchvision:resnet18, ...
    """
    positive_int("num_classes", num_classes)
    shape = _checked_image_shape(image_shape)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, received {seed!r}")
    path = None if weights is None else _existing_file(weights)
    make = _factory(name)
    with global_rng_kept(), torch.device("cpu"):
        seed_global_rngs(derive_seed(seed))
        model = make(num_classes, shape)
        _check_logits(model, name, num_classes, shape)
    if path is not None:
        _load_weights(model, path, name, num_classes)
    return model


def _checked_image_shape(image_shape: ImageShape) -> ImageShape:
    if (
        not isinstance(image_shape, (tuple, list))
        or len(image_shape) != 3
        or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in image_shape)
    ):
        raise ValueError(
            f"image_shape: expected (channels, height, width) ints >= 1, received {image_shape!r}"
        )
    channels, height, width = image_shape
    return channels, height, width


def _existing_file(weights: str | os.PathLike[str]) -> Path:
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"weights: expected a path to a local file or None, received {weights!r}")
    if not Path(weights).is_file():
        raise FileNotFoundError(f"weights: expected an existing file, received {str(weights)!r}")
    return Path(weights)


def _factory(name: str) -> Callable[[int, ImageShape], nn.Module]:
    """What builds ``name`` from ``(num_classes, image_shape)``; every name error is raised
    here, before anything is built."""
    if not isinstance(name, str):
        raise TypeError(f"name: expected a str, received {name!r}")
    if name in MODELS:
        return functools.partial(_call_factory, MODELS[name])
    source, _, model = name.partition(":")
    if source == "torchvision" and model in _torchvision_names():
        return functools.partial(_torchvision_model, model)
    if source == "timm" and _timm().is_model(model):
        return functools.partial(_timm_model, model)
    if source in ("torchvision", "timm") or not model:
        raise ValueError(_unknown_name_message(name))
    return functools.partial(_call_factory, _imported_factory(name))


def _call_factory(
    factory: Callable[..., nn.Module], num_classes: int, image_shape: ImageShape
) -> nn.Module:
    channels, height, width = image_shape
    return factory(num_classes=num_classes, in_channels=channels, image_size=(height, width))


def _torchvision_names() -> list[str]:
    import torchvision

    return torchvision.models.list_models(module=torchvision.models)


def _torchvision_model(builder: str, num_classes: int, image_shape: ImageShape) -> nn.Module:
    import torchvision

    model = torchvision.models.get_model(builder, weights=None, num_classes=num_classes)
    conv_name = _first_conv_name(model)
    conv = None if conv_name is None else model.get_submodule(conv_name)
    if isinstance(conv, nn.Conv2d) and conv.in_channels != image_shape[0]:
        conv.in_channels = image_shape[0]
        conv.weight = nn.Parameter(
            torch.empty(conv.out_channels, conv.in_channels, *conv.kernel_size)
        )
        conv.reset_parameters()
    return model


def _timm() -> ModuleType:
    try:
        import timm
    except ImportError as error:
        raise ImportError(
            "name: 'timm:...' models need timm: pip install invtransfer[timm]"
        ) from error
    return timm


def _timm_model(model: str, num_classes: int, image_shape: ImageShape) -> nn.Module:
    return _timm().create_model(
        model, pretrained=False, num_classes=num_classes, in_chans=image_shape[0]
    )


def _imported_factory(name: str) -> Callable[..., nn.Module]:
    module_name, _, attribute = name.partition(":")
    expected = "name: expected an import path 'package.module:factory'"
    try:
        module = importlib.import_module(module_name)
    except (ImportError, ValueError) as error:
        raise ValueError(f"{expected}, received {name!r} ({error})") from error
    try:
        factory = functools.reduce(getattr, attribute.split("."), module)
    except AttributeError as error:
        raise ValueError(
            f"{expected}, received {name!r} ({module_name} has no attribute {attribute!r})"
        ) from error
    if not callable(factory):
        raise TypeError(f"name: expected {name!r} to be callable, received a {type(factory)}")
    return factory


def _unknown_name_message(name: str) -> str:
    names = [*MODELS, *(f"torchvision:{n}" for n in _torchvision_names())]
    with contextlib.suppress(ImportError):
        names += [f"timm:{n}" for n in _timm().list_models()]
    bare = {full: full.partition(":")[2] or full for full in names}
    close = difflib.get_close_matches(name.partition(":")[2] or name, set(bare.values()), n=3)
    matches = [full for key in close for full in names if bare[full] == key]
    return (
        f"name: expected a built-in ({', '.join(MODELS)}), 'torchvision:<builder>', "
        f"'timm:<model>' or an import path 'package.module:factory', received {name!r}"
        + (f"; close matches: {', '.join(matches)}" if matches else "")
    )


def _check_logits(model: nn.Module, name: str, num_classes: int, image_shape: ImageShape) -> None:
    """One forward pass on a zero batch of ``image_shape``: the logits must be
    ``(N, num_classes)``."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"name: expected {name!r} to build an nn.Module, received {model!r}")
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(torch.zeros(2, *image_shape))
    except RuntimeError as error:
        raise ValueError(
            f"{name}: expected a model that runs on images of shape {tuple(image_shape)}, "
            f"received an error on a zero batch: {error}"
        ) from error
    finally:
        model.train(training)
    if not isinstance(logits, Tensor) or logits.shape != (2, num_classes):
        received = (
            f"width {logits.shape[-1]} (logits of shape {tuple(logits.shape)})"
            if isinstance(logits, Tensor) and logits.ndim
            else f"a {type(logits).__name__}"
        )
        raise ValueError(
            f"{name}: expected logits of width num_classes = {num_classes}, received {received}"
        )


def _load_weights(model: nn.Module, path: Path, name: str, num_classes: int) -> None:
    """Load ``path`` into ``model``, strictly except for a head of another width and the
    input-channel sum (see `build_model`)."""
    state, own = _read_state_dict(path), model.state_dict()
    _sum_input_channels(state, own, model)
    mismatched = {k for k in state.keys() & own.keys() if state[k].shape != own[k].shape}
    head = _head_keys(model, num_classes)
    new_head = {k for k in mismatched & head if _only_rows_differ(state, own, k)}
    result = model.load_state_dict(
        {k: v for k, v in state.items() if k not in mismatched}, strict=False
    )
    problems = {
        "shapes that differ": [
            f"{k} {tuple(state[k].shape)} in the file, {tuple(own[k].shape)} in the model"
            for k in sorted(mismatched - new_head)
        ],
        "missing": sorted(set(result.missing_keys) - mismatched),
        "unexpected": sorted(result.unexpected_keys),
    }
    if any(problems.values()):
        found = "; ".join(f"{kind}: {_listing(keys)}" for kind, keys in problems.items() if keys)
        raise ValueError(f"weights: expected the tensors of {name!r}, received {path} ({found})")
    if new_head:
        log.info(
            "weights: loaded %s except the head %s, left as initialised: %d outputs in the "
            "file, %d in the model",
            path,
            ", ".join(sorted(new_head)),
            state[min(new_head)].shape[0],
            num_classes,
        )


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ValueError(
            "weights: expected a .safetensors file or a state dict saved with torch.save, "
            f"received {path}, which torch.load(weights_only=True) refuses ({error})"
        ) from error
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()
    ):
        raise TypeError(
            "weights: expected a state dict (names to tensors), "
            f"received a {type(state).__name__} in {path}"
        )
    return dict(state)


def _first_conv_name(model: nn.Module) -> str | None:
    return next((n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)), None)


def _sum_input_channels(state: dict[str, Tensor], own: dict[str, Tensor], model: nn.Module) -> None:
    """For a 1-channel model, sum the file's first-convolution kernel over its input
    channels (in place)."""
    key = f"{_first_conv_name(model)}.weight"
    if key in state and key in own and own[key].ndim == 4 and own[key].shape[1] == 1:
        summed = state[key].sum(dim=1, keepdim=True)
        if summed.shape == own[key].shape:
            state[key] = summed


def _head_keys(model: nn.Module, num_classes: int) -> set[str]:
    """The parameters of the classifier head: the last module whose weight has
    ``num_classes`` rows (``fc``, ``classifier``, ``head``, ...)."""
    heads = [
        (prefix, module)
        for prefix, module in model.named_modules()
        if isinstance(getattr(module, "weight", None), Tensor)
        and module.weight.ndim
        and module.weight.shape[0] == num_classes
    ]
    if not heads:
        return set()
    prefix, module = heads[-1]
    return {f"{prefix}.{n}".lstrip(".") for n, _ in module.named_parameters(recurse=False)}


def _only_rows_differ(state: dict[str, Tensor], own: dict[str, Tensor], key: str) -> bool:
    """Whether the two tensors differ in their first dimension only."""
    return state[key].ndim == own[key].ndim and state[key].shape[1:] == own[key].shape[1:]


def _listing(keys: list[str], shown: int = 8) -> str:
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more
