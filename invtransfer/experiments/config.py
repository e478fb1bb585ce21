"""`ExperimentConfig`: one experiment as nested dataclasses, from a file and the command line.

A config names the dataset recipe and its nuisance, the model, the methods to compare, the
training schedule, the generator for GIT and the evaluation. It loads from TOML (or YAML,
when PyYAML is installed) and takes ``section.field=value`` overrides, whose values are read
as TOML (``train.epochs=3``, ``methods=["ce", "ce_drs+git"]``, ``data.variant="dil"``).
Unknown keys and values of the wrong type are errors that name the key.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from invtransfer._paths import safe_name
from invtransfer._validation import finite_float, int_at_least, known_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "DataConfig",
    "EvaluationConfig",
    "ExperimentConfig",
    "GITConfig",
    "ModelConfig",
    "TrainConfig",
]


@dataclass
class DataConfig:
    """The long-tailed dataset.

    Args:
        recipe: a recipe of `invtransfer.data` by name (``"mnist_lt"``, ``"k49_lt"``,
            ``"cifar_lt"``, ...) or ``"glyphs_lt"`` (embedded; needs no files).
        root: where the recipe's files are (``--data-root``); unused by ``glyphs_lt``.
        variant: the nuisance every image carries (``"rot"``, ``"bg"``, ``"dil"``), or
            ``None`` (``"none"`` in a file, where TOML has no null) for RGB recipes.
        options: further keyword arguments of the recipe (``max_count``, ``alpha``, ...).
        class_orders: for recipes that give Zipf sizes to the classes in a drawn order (the
            K49-LT recipes), how a study separates class size from class identity, as the
            paper did with 30 orders: ``None`` gives each seed its own order, ``K`` runs
            every seed under each of ``K`` orders (see `replicates`).
    """

    recipe: str = "glyphs_lt"
    root: str | None = None
    variant: str | None = "bg"
    options: dict[str, Any] = field(default_factory=dict)
    class_orders: int | None = None

    def __post_init__(self) -> None:
        if self.variant == "none":
            self.variant = None
        from invtransfer.experiments.datasets import RECIPES  # datasets imports this module

        known_name("data.recipe", self.recipe, RECIPES)
        known_name("data.variant", self.variant, (None, "rot", "bg", "dil"))
        if self.class_orders is not None:
            int_at_least("data.class_orders", self.class_orders, 1)


@dataclass
class ModelConfig:
    """The classifier.

    Args:
        name: a built-in (``"resnet20"``, ``"resnet32"``, ``"small_cnn"``), a torchvision
            builder (``"torchvision:resnet18"``), a timm model (``"timm:resnet18"``) or an
            import path (``"package.module:factory"``); see `invtransfer.models.build_model`.
        weights: a local file of initial weights; nothing is downloaded.
    """

    name: str = "resnet20"
    weights: str | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError(f"model.name: expected a model name, received {self.name!r}")


@dataclass
class TrainConfig:
    """SGD with a linear warm-up and step decay, as in the paper (K49: 50 epochs, steps at
    30 and 40; CIFAR: 200 epochs, steps at 160 and 180).

    Args:
        defer_epoch: where deferred methods (DRS, DRW, LDAM-DRW) and GIT switch on; by
            default the first milestone.
        augmentation: a training-time augmentation of every batch, by name:
            ``"crop_flip"`` is the CIFAR recipe (pad by 4, random crop, horizontal flip),
            ``"crop"`` the same without the flip; ``None`` (``"none"`` in a file) uses the
            images as they are.
        workers: DataLoader worker processes that decode the images; ``None`` chooses from
            the CPUs this process may use.
        amp: mixed precision: ``"bf16"`` (CPU or GPU), ``"fp16"`` (CUDA, with a gradient
            scaler), or ``None`` (``"none"`` in a file) for float32.
        channels_last: store the model and the batches channels-last (faster convolutions
            on recent GPUs).
        compile: train through ``torch.compile(model)``.
    """

    epochs: int = 50
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 2e-4
    warmup_epochs: int = 5
    milestones: list[int] = field(default_factory=lambda: [30, 40])
    gamma: float = 0.01
    defer_epoch: int | None = None
    augmentation: str | None = None
    workers: int | None = None
    amp: str | None = None
    channels_last: bool = False
    compile: bool = False

    def __post_init__(self) -> None:
        if self.augmentation == "none":
            self.augmentation = None
        if self.amp == "none":
            self.amp = None
        from invtransfer.experiments.training import AMP_DTYPES, AUGMENTATIONS

        int_at_least("train.epochs", self.epochs, 1)
        int_at_least("train.batch_size", self.batch_size, 1)
        finite_float("train.lr", self.lr, 0.0, open_low=True)
        finite_float("train.momentum", self.momentum, 0.0, 1.0, open_high=True)
        finite_float("train.weight_decay", self.weight_decay, 0.0)
        finite_float("train.gamma", self.gamma, 0.0, 1.0, open_low=True)
        int_at_least("train.warmup_epochs", self.warmup_epochs, 0)
        if self.warmup_epochs > self.epochs:
            raise ValueError(
                f"train.warmup_epochs: expected at most train.epochs={self.epochs}, received "
                f"{self.warmup_epochs}"
            )
        if self.milestones != sorted(set(self.milestones)) or any(
            not self.warmup_epochs <= m < self.epochs for m in self.milestones
        ):
            raise ValueError(
                f"train.milestones: expected increasing epochs in [train.warmup_epochs, "
                f"train.epochs) = [{self.warmup_epochs}, {self.epochs}), received "
                f"{self.milestones}"
            )
        if self.defer_epoch is not None:
            int_at_least("train.defer_epoch", self.defer_epoch, 0)
            if self.defer_epoch >= self.epochs:
                raise ValueError(
                    f"train.defer_epoch: expected an epoch before train.epochs={self.epochs}, "
                    f"received {self.defer_epoch}"
                )
        known_name("train.augmentation", self.augmentation, [None, *AUGMENTATIONS])
        known_name("train.amp", self.amp, [None, *AMP_DTYPES])
        if self.workers is not None:
            int_at_least("train.workers", self.workers, 0)

    @property
    def deferred_start(self) -> int:
        """The epoch deferred methods and GIT start at."""
        if self.defer_epoch is not None:
            return self.defer_epoch
        return self.milestones[0] if self.milestones else 0


@dataclass
class GITConfig:
    """The generator of generative invariance transfer.

    Args:
        generator: a trained generator (a checkpoint, a saved augment or a trainer's out
            dir); ``None`` trains one on the spot on the training set.
        preset: the architecture when training on the spot.
        iterations: training iterations when training on the spot.
        batch_size: images per training iteration.
        fraction: the share of each batch that is translated (the paper's 0.5).
    """

    generator: str | None = None
    preset: str = "paper-28x28x1"
    iterations: int = 2500
    batch_size: int = 8
    fraction: float = 0.5

    def __post_init__(self) -> None:
        from invtransfer.generative import PRESETS

        known_name("git.preset", self.preset, PRESETS)
        int_at_least("git.iterations", self.iterations, 1)
        int_at_least("git.batch_size", self.batch_size, 1)
        finite_float("git.fraction", self.fraction, 0.0, 1.0, open_low=True)


@dataclass
class EvaluationConfig:
    """The invariance curve: images per class and transformed copies per image (the paper's
    40 and 100), and the nuisance it measures.

    Args:
        family: the nuisance to measure invariance to: ``None`` for the recipe's own (the
            nuisance of MNIST-DIL-LT, say; none for CIFAR-LT), any family of
            `invtransfer.transforms.FAMILIES` by name (``"brightness"``, ``"rotation"``, ...),
            or ``"generator"`` for the nuisance the run's generator learned.
        family_options: the named family's keyword arguments, its ranges
            (``{ degrees = 15 }``).
    """

    samples_per_class: int = 40
    transforms_per_sample: int = 100
    family: str | None = None
    family_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from invtransfer.transforms import FAMILIES

        int_at_least("evaluation.samples_per_class", self.samples_per_class, 1)
        int_at_least("evaluation.transforms_per_sample", self.transforms_per_sample, 1)
        known_name("evaluation.family", self.family, [None, "generator", *FAMILIES])
        if self.family_options and self.family in (None, "generator"):
            raise ValueError(
                f"evaluation.family_options: expected none without a named family, received "
                f"{self.family_options!r} for family {self.family!r}"
            )


@dataclass
class ExperimentConfig:
    """Everything one experiment needs; every method is run once per seed.

    Examples:
        >>> config = ExperimentConfig().with_overrides(
        ...     ["train.epochs=3", "train.warmup_epochs=1", "train.milestones=[2]", "seeds=[1]"])
        >>> config.train.epochs, config.seeds
        (3, [1])
        >>> ExperimentConfig().with_overrides(["train.epochs=20"])
        Traceback (most recent call last):
        ...
        ValueError: train.milestones: expected increasing epochs in [train.warmup_epochs, ...
        >>> ExperimentConfig.from_dict({"train": {"epochs": "many"}})
        Traceback (most recent call last):
        ...
        ValueError: train.epochs: expected int, received 'many'
    """

    name: str = "experiment"
    methods: list[str] = field(default_factory=lambda: ["ce", "ce_drs", "ce_drs+git"])
    seeds: list[int] = field(default_factory=lambda: [0])
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    git: GITConfig = field(default_factory=GITConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    device: str | None = None
    comparisons: list[list[str]] | None = None
    """The method pairs ``[before, after]`` the report compares replicate by replicate;
    ``None``: each method against ``ce``, and each ``+git`` method against its base."""

    def __post_init__(self) -> None:
        from invtransfer.experiments.methods import GIT_SUFFIX, METHODS

        safe_name(self.name, "name")  # the study's folder is runs/NAME by default
        if not self.methods or len(set(self.methods)) != len(self.methods):
            raise ValueError(f"methods: expected distinct method names, received {self.methods}")
        for i, method in enumerate(self.methods):
            known_name(f"methods[{i}]", method.removesuffix(GIT_SUFFIX), METHODS)
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds: expected distinct seeds, received {self.seeds}")
        for i, seed in enumerate(self.seeds):
            int_at_least(f"seeds[{i}]", seed, 0)
        for i, pair in enumerate(self.comparisons or []):
            if len(pair) != 2 or not set(pair) <= set(self.methods):
                raise ValueError(
                    f"comparisons[{i}]: expected [before, after], two of the methods "
                    f"{self.methods}, received {pair}"
                )

    def to_dict(self) -> dict[str, Any]:
        """Plain data: what `from_dict` reads back."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ExperimentConfig:
        """A config from nested plain data; missing keys keep their defaults."""
        return _build(cls, values, "")

    @classmethod
    def from_file(cls, path: str | Path) -> ExperimentConfig:
        """A config from a ``.toml`` file (or ``.yaml``/``.yml`` with PyYAML installed)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: expected a config file, found none")
        if path.suffix == ".toml":
            return cls.from_dict(tomllib.loads(path.read_text()))
        if path.suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise ImportError(
                    f"{path}: reading YAML needs PyYAML (pip install pyyaml)"
                ) from None
            return cls.from_dict(yaml.safe_load(path.read_text()) or {})
        raise ValueError(f"{path}: expected a .toml, .yaml or .yml file")

    def with_overrides(self, overrides: list[str]) -> ExperimentConfig:
        """A copy with ``section.field=value`` overrides applied (values read as TOML, or as
        a bare string when they are not TOML)."""
        values = self.to_dict()
        for override in overrides:
            key, equals, text = override.partition("=")
            if not equals or not key.strip():
                raise ValueError(f"override: expected key=value, received {override!r}")
            *parents, leaf = key.strip().split(".")
            target = values
            for parent in parents:
                if not isinstance(target.get(parent), dict):
                    raise ValueError(f"override {override!r}: {parent!r} is not a section")
                target = target[parent]
            target[leaf] = _toml_value(text.strip())
        return ExperimentConfig.from_dict(values)


def _toml_value(text: str) -> Any:
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def _build(cls: type, values: Any, key: str) -> Any:
    """An instance of the config dataclass ``cls`` from the table ``values`` at ``key``."""
    name = key or "config"
    if not isinstance(values, dict):
        raise ValueError(f"{name}: expected a table of settings, received {values!r}")
    fields = {f.name for f in dataclasses.fields(cls)}
    if unknown := sorted(set(values) - fields):
        raise ValueError(f"{name}: unknown keys {unknown}; expected keys from {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    prefix = f"{key}." if key else ""
    return cls(**{k: _checked(hints[k], value, prefix + k) for k, value in values.items()})


def _checked(hint: Any, value: Any, key: str) -> Any:
    """``value`` as the type ``hint`` says (a nested config, a list, an optional)."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, key)
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in arguments:
            return None
        hint = next(a for a in arguments if a is not type(None))
        origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin is list:
        if not isinstance(value, list):
            raise ValueError(f"{key}: expected a list, received {value!r}")
        return [_checked(arguments[0], item, f"{key}[{i}]") for i, item in enumerate(value)]
    if origin is dict or hint is Any:
        if origin is dict and not isinstance(value, dict):
            raise ValueError(f"{key}: expected a table, received {value!r}")
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ValueError(f"{key}: expected {hint.__name__}, received {value!r}")
    return value
