"""`MUNITObjectives`: the trainer's losses for any loop, gradients where they belong, bad input."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

from invtransfer._seeding import generator_for
from invtransfer.generative import (
    LossWeights,
    MUNITDiscriminator,
    MUNITGenerator,
    MUNITTrainer,
    preset,
)
from invtransfer.generative.objectives import MUNITObjectives

TINY = preset("tiny", image_size=28, channels=1)
HINGE = preset("tiny", image_size=28, channels=1, gan_loss="hinge")


def networks(config=TINY) -> tuple[MUNITGenerator, MUNITDiscriminator]:
    return MUNITGenerator(config, seed=0), MUNITDiscriminator(config, seed=0)


def batch(n: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Real images in [-1, 1] and N(0, I) style codes."""
    draw = torch.Generator().manual_seed(seed)
    real = torch.rand(n, 1, 28, 28, generator=draw) * 2 - 1
    return real, torch.randn(n, TINY.style_dim, generator=draw)


def hand_written_loop(config, weights, batches) -> tuple[list[dict[str, float]], dict]:
    """What a user writes: two Adam optimizers, a discriminator step, then a generator step,
    with the trainer's style stream (seed 0, rank 0, iteration)."""
    generator, discriminator = networks(config)
    g_opt, d_opt = (
        torch.optim.Adam(net.parameters(), 1e-4, (0.5, 0.999), weight_decay=1e-4)
        for net in (generator, discriminator)
    )
    objectives = MUNITObjectives(config, weights)
    history = []
    for iteration, images in enumerate(batches):
        real, draw = images * 2 - 1, generator_for(0, 0, iteration)
        d_loss = objectives.discriminator_loss(
            generator, discriminator, real, torch.randn(len(real), config.style_dim, generator=draw)
        )
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        losses = objectives.generator_losses(
            generator, discriminator, real, torch.randn(len(real), config.style_dim, generator=draw)
        )
        total = objectives.total(losses)
        g_opt.zero_grad(set_to_none=True)
        total.backward()
        g_opt.step()
        parts = {name: loss.item() for name, loss in losses.items()}
        history.append({"discriminator": d_loss.item(), "generator": total.item(), **parts})
    return history, {**generator.state_dict(), **discriminator.state_dict()}


@pytest.mark.parametrize(
    ("config", "weights"), [(TINY, LossWeights()), (HINGE, LossWeights(cycle=10, style=2))]
)
def test_a_hand_written_loop_over_the_objectives_matches_the_trainer_bit_for_bit(
    tmp_path, config, weights
):
    batches = torch.rand(3, 4, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    history, state = hand_written_loop(config, weights, batches)
    trainer = MUNITTrainer(config, tmp_path, weights=weights, device="cpu")
    assert [trainer.step(images) for images in batches] == history
    trained = {**trainer.generator.state_dict(), **trainer.discriminator.state_dict()}
    assert trained.keys() == state.keys()
    assert all(torch.equal(trained[key], state[key]) for key in state)
    assert ("cycle" in history[0]) == bool(weights.cycle)


def test_generator_losses_leave_the_discriminators_gradients_and_flags_alone():
    generator, discriminator = networks()
    frozen = discriminator.scales[0][0].bias
    frozen.requires_grad_(False)  # the user's choice survives the call
    flags = [p.requires_grad for p in discriminator.parameters()]
    losses = MUNITObjectives(TINY).generator_losses(generator, discriminator, *batch())
    MUNITObjectives(TINY).total(losses).backward()
    assert all(p.grad is None for p in discriminator.parameters())
    assert all(p.grad is not None for p in generator.parameters())
    assert [p.requires_grad for p in discriminator.parameters()] == flags and not flags[1]


def test_the_discriminator_loss_reaches_only_the_discriminator():
    generator, discriminator = networks()
    loss = MUNITObjectives(TINY).discriminator_loss(generator, discriminator, *batch())
    loss.backward()
    assert all(p.grad is None for p in generator.parameters())
    assert all(p.grad is not None for p in discriminator.parameters())


def test_total_is_the_weighted_sum_of_the_given_losses():
    objectives = MUNITObjectives(TINY, LossWeights(image=10, style=2, cycle=3))
    losses = {"image": torch.tensor(0.5), "style": torch.tensor(0.25), "cycle": torch.tensor(1.0)}
    assert objectives.total(losses).item() == 10 * 0.5 + 2 * 0.25 + 3 * 1.0
    with pytest.raises(ValueError, match=r"losses: expected .*received keys \['discriminator'\]"):
        objectives.total({"discriminator": torch.tensor(1.0)})
    with pytest.raises(ValueError, match=r"received keys \[\]"):
        objectives.total({})


@pytest.mark.parametrize(
    "round_trip",
    [copy.copy, copy.deepcopy, lambda o: pickle.loads(pickle.dumps(o))],
    ids=["copy", "deepcopy", "pickle"],
)
def test_the_objectives_survive_copy_and_pickle_and_compute_the_same_losses(round_trip):
    objectives = MUNITObjectives(HINGE, LossWeights(cycle=10))
    again = round_trip(objectives)
    assert again == objectives and again.weights.cycle == 10
    nets_and_batch = (*networks(HINGE), *batch())

    def values(objectives: MUNITObjectives) -> dict[str, float]:
        losses = objectives.generator_losses(*nets_and_batch)
        return {
            "discriminator": objectives.discriminator_loss(*nets_and_batch).item(),
            **{name: loss.item() for name, loss in losses.items()},
        }

    assert values(again) == values(objectives)


@pytest.mark.parametrize(
    ("real", "styles", "error", "message"),
    [
        (np.zeros((2, 1, 28, 28)), None, TypeError, r"real: expected a floating-point tensor, "
         r"received ndarray"),
        (torch.zeros(2, 1, 28, 28, dtype=torch.uint8), None, TypeError,
         r"real: expected a floating-point tensor, received torch\.uint8"),
        (torch.zeros(1, 28, 28), None, ValueError,
         r"real: expected a batch \(N, C, H, W\) in \[-1, 1\], received shape \(1, 28, 28\)"),
        (torch.zeros(2, 3, 28, 28), None, ValueError,
         r"real: the generator was built for .*\(1, 28, 28\), received \(3, 28, 28\)"),
        (None, torch.zeros(2, 3), ValueError,
         r"styles: expected one code per image, shape \(2, 4\), received \(2, 3\)"),
        (None, torch.zeros(3, 4), ValueError, r"styles: expected .*received \(3, 4\)"),
        (None, torch.zeros(2, 4, dtype=torch.long), TypeError,
         r"styles: expected a floating-point tensor, received torch\.int64"),
    ],
)  # fmt: skip
def test_bad_batches_are_refused_by_both_losses_naming_the_argument(real, styles, error, message):
    good_real, good_styles = batch()
    real = good_real if real is None else real
    styles = good_styles if styles is None else styles
    objectives = MUNITObjectives(TINY)
    for loss in (objectives.discriminator_loss, objectives.generator_losses):
        with pytest.raises(error, match=message):
            loss(*networks(), real, styles)


def test_the_objectives_refuse_a_config_or_weights_of_the_wrong_type():
    with pytest.raises(TypeError, match="config: expected a MUNITConfig, received dict"):
        MUNITObjectives(TINY.to_dict())
    with pytest.raises(TypeError, match="weights: expected a LossWeights, received dict"):
        MUNITObjectives(TINY, {"image": 10})
