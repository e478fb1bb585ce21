"""The global RNG contract: nothing the library creates reads or advances the global RNGs.

Every random draw of the library comes from its own seeded (or OS-seeded) generators, so a
user's ``torch.manual_seed`` stream is the same whether or not they call into the library.
Each case below runs a whole piece of the library and compares the CPU generator's state (and
every CUDA device's, where there is CUDA), NumPy's and Python's before and after.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn
from torch.utils.data import DataLoader

from invtransfer.data import Glyphs
from invtransfer.experiments import ExperimentConfig, predict, run_experiment
from invtransfer.generative import (
    GenerativeAugment,
    MUNITDiscriminator,
    MUNITGenerator,
    MUNITTrainer,
    TranslationBank,
    preset,
)
from invtransfer.metrics import invariance_curve
from invtransfer.models import build_model, train_classifier
from invtransfer.sampling import ClassBalancedSampler
from invtransfer.transforms import Compose, Morphology, Rotation, from_torchvision

TINY = preset("tiny", image_size=28, channels=1)


def _states() -> tuple[object, ...]:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else []
    return (torch.get_rng_state(), cuda, np.random.get_state()[1].copy(), random.getstate())


def assert_global_rng_untouched(call: Callable[[], object]) -> None:
    torch.manual_seed(1234)
    before = _states()
    call()
    after = _states()
    assert torch.equal(after[0], before[0]), "the CPU generator moved"
    assert len(after[1]) == len(before[1]), "CUDA was initialised"
    assert all(torch.equal(a, b) for a, b in zip(after[1], before[1], strict=True)), "CUDA moved"
    assert np.array_equal(after[2], before[2]), "NumPy's global generator moved"
    assert after[3] == before[3], "Python's random moved"


def _images(n: int, size: int = 28) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(0))


def _glyphs() -> Glyphs:
    return Glyphs(num_classes=3, per_class=4, seed=0)


def _trained_generator(tmp_path) -> MUNITGenerator:
    trainer = MUNITTrainer(TINY, tmp_path / "munit", device="cpu", seed=0)
    trainer.fit(_glyphs(), 2, batch_size=4, progress=False)
    return trainer.generator


CASES: dict[str, Callable[..., object]] = {
    "build_model": lambda tmp: build_model("resnet20", 3, (1, 28, 28), seed=0),
    "build_model torchvision": lambda tmp: build_model("torchvision:resnet18", 3, (3, 32, 32)),
    "MUNITGenerator": lambda tmp: MUNITGenerator(TINY, seed=0),
    "MUNITDiscriminator": lambda tmp: MUNITDiscriminator(TINY, seed=0),
    "MUNITTrainer.fit": _trained_generator,
    "a family without a generator": lambda tmp: Compose([Rotation(30), Morphology()])(_images(4)),
    "from_torchvision": lambda tmp: from_torchvision(
        __import__("torchvision").transforms.v2.RandomRotation(30)
    )(_images(2, 8)),
    "train_classifier": lambda tmp: train_classifier(
        build_model("small_cnn", 3, (1, 28, 28)), _images(6), torch.tensor([0, 1, 2] * 2), 1, 3
    ),
    "ClassBalancedSampler": lambda tmp: list(ClassBalancedSampler([0, 0, 0, 1], seed=0)),
    "Glyphs": lambda tmp: _glyphs()[5],
    "predict": lambda tmp: predict(build_model("small_cnn", 3, (1, 28, 28)), _glyphs()),
    "invariance_curve": lambda tmp: invariance_curve(
        build_model("small_cnn", 3, (1, 28, 28)),
        _glyphs(),
        Rotation(degrees=30),
        class_sizes=[4, 2, 1],
        samples_per_class=2,
        transforms_per_sample=2,
        progress=False,
    ),
    "TranslationBank.build": lambda tmp: TranslationBank.build(
        MUNITGenerator(TINY, seed=0), _glyphs(), k=2, style_dim=TINY.style_dim, seed=0
    ),
    "GenerativeAugment without a key": lambda tmp: GenerativeAugment(
        MUNITGenerator(TINY, seed=0), fraction=1.0
    )(_images(4), torch.tensor([0, 1, 2, 0])),
    "GenerativeAugment collator in a DataLoader": lambda tmp: next(
        iter(
            DataLoader(
                _glyphs(),
                batch_size=4,
                collate_fn=GenerativeAugment(MUNITGenerator(TINY, seed=0), fraction=1.0).collator(),
                generator=torch.Generator(),
            )
        )
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_library_leaves_the_global_rngs_alone(name, tmp_path):
    assert_global_rng_untouched(lambda: CASES[name](tmp_path))


def dropout_cnn(num_classes: int, in_channels: int, image_size: tuple[int, int]) -> nn.Module:
    """A classifier that draws from the global RNG while it trains (dropout)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 4, 3, stride=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.LazyLinear(num_classes),
    )


def _final_weights(out_dir) -> dict[str, torch.Tensor]:
    run = out_dir / "runs" / "ce-seed0-order0" / "checkpoints"
    return load_file(max(run.iterdir()) / "model.safetensors")


def test_a_models_dropout_follows_the_seed_not_the_global_rng(tmp_path):
    config = _experiment('methods=["ce"]', 'model.name="test_global_rng:dropout_cnn"')
    torch.manual_seed(1)
    run_experiment(config, tmp_path / "a", progress=False)
    # run again from another global stream (the check seeds its own): the same weights
    assert_global_rng_untouched(lambda: run_experiment(config, tmp_path / "b", progress=False))
    first, second = _final_weights(tmp_path / "a"), _final_weights(tmp_path / "b")
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)


def _experiment(*overrides: str) -> ExperimentConfig:
    return ExperimentConfig().with_overrides(
        [
            "data.options={ num_classes = 3, per_class = 200, test_per_class = 4, max_count = 40 }",
            'model.name="small_cnn"',
            "train.epochs=2",
            "train.warmup_epochs=0",
            "train.milestones=[1]",
            "train.batch_size=8",
            'git.preset="tiny"',
            "git.iterations=2",
            "git.batch_size=4",
            "evaluation.samples_per_class=2",
            "evaluation.transforms_per_sample=2",
            *overrides,
        ]
    )


def test_a_whole_experiment_leaves_the_global_rngs_alone(tmp_path):
    config = _experiment('methods=["ce", "ce+git"]')
    assert_global_rng_untouched(lambda: run_experiment(config, tmp_path, progress=False))
