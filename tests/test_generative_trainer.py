"""MUNIT networks, configs and the trainer: sizes, checkpoints, exact resume, bad input, DDP."""

from __future__ import annotations

import functools
import json
import logging
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import ROOT, run_on_two_ranks
from PIL import Image
from safetensors.torch import load_file
from torch.utils.data import DataLoader, TensorDataset

from invtransfer.data import Glyphs
from invtransfer.generative import (
    PRESETS,
    LossWeights,
    MUNITConfig,
    MUNITDiscriminator,
    MUNITGenerator,
    MUNITTrainer,
    NonFiniteLossError,
    latest_checkpoint,
    load_generator,
    preset,
)
from invtransfer.generative.trainer import CheckpointEvery, LogEvery, MUNITCallback, SamplesEvery

TINY = preset("tiny", image_size=28, channels=1)
CHECKPOINT_FILES = {
    "config.json",
    "training.json",
    "generator.safetensors",
    "discriminator.safetensors",
    "optimizers.safetensors",
}


def glyphs() -> Glyphs:
    return Glyphs(num_classes=4, per_class=6, seed=0)


def trained(out_dir: Path, iterations: int, **fit) -> MUNITTrainer:
    trainer = MUNITTrainer(TINY, out_dir, device="cpu")
    trainer.fit(glyphs(), iterations, batch_size=4, progress=False, **fit)
    return trainer


def weights(trainer: MUNITTrainer) -> dict[str, torch.Tensor]:
    return {
        f"{name}.{key}": value.clone()
        for name, net in (("g", trainer.generator), ("d", trainer.discriminator))
        for key, value in net.state_dict().items()
    }


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


# configs and networks


def test_the_paper_presets_have_the_papers_sizes():
    paper = dict(dim=64, mlp_dim=256, style_dim=8, n_downsample=2, n_res=4,
                 disc_layers=4, disc_scales=1)  # fmt: skip
    for name, (size, channels) in {"paper-28x28x1": (28, 1), "paper-32x32x3": (32, 3)}.items():
        config = preset(name).to_dict()
        assert {key: config[key] for key in paper} == paper, name
        assert (config["image_size"], config["channels"]) == (size, channels), name
    small = preset("small-28x28x1").to_dict()  # the former 28x28x1, about 4x cheaper
    smaller = dict(dim=32, mlp_dim=128, n_res=3, disc_layers=3, disc_scales=2)
    assert {key: small[key] for key in smaller} == smaller


@pytest.mark.parametrize("name", ["paper-28x28x1", "paper-32x32x3", "small-28x28x1"])
def test_presets_build_and_keep_the_image_shape(name):
    config = preset(name)
    x = torch.rand(2, config.channels, config.image_size, config.image_size) * 2 - 1
    generator, discriminator = MUNITGenerator(config, seed=0), MUNITDiscriminator(config, seed=0)
    content, style = generator.encode(x)
    assert style.shape == (2, config.style_dim)
    assert content.shape == (2, config.content_channels, config.content_size, config.content_size)
    out = generator.decode(content, torch.randn(2, config.style_dim))
    assert out.shape == x.shape and out.abs().max() <= 1
    assert len(discriminator(x)) == config.disc_scales


@pytest.mark.parametrize("size", [28, 32])
def test_the_reference_discriminator_is_refused_on_small_images_with_what_fits(size):
    with pytest.raises(ValueError, match=rf"disc_layers=4, disc_scales=3.*for {size}x{size}"):
        MUNITConfig(image_size=size, channels=1, disc_layers=4, disc_scales=3)


def test_every_configuration_the_error_suggests_builds_and_runs():
    for size in (28, 32):
        for layers, scales in [(4, 1), (3, 2), (2, 3)]:
            config = MUNITConfig(image_size=size, channels=1, dim=4, mlp_dim=8,
                                 disc_dim=4, disc_layers=layers, disc_scales=scales)  # fmt: skip
            outputs = MUNITDiscriminator(config)(torch.rand(1, 1, size, size))
            assert all(out.numel() > 0 for out in outputs)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"n_downsample": 3},
            r"n_downsample=3: image_size 28 must be a multiple of .* \[0, 1, 2\]",
        ),
        ({"style_downsample": 5}, r"style_downsample=5.*use at most 4"),
        ({"dim": 0}, r"dim: expected an int >= 1, received 0"),
        ({"gan_loss": "wgan"}, r"gan_loss: expected one of \('lsgan', 'hinge'\)"),
    ],
)
def test_bad_configurations_are_refused_with_a_clear_message(changes, message):
    with pytest.raises(ValueError, match=message):
        MUNITConfig(**{"image_size": 28, "channels": 1, **changes})


def test_config_round_trips_through_json_and_refuses_unknown_keys():
    config = preset("paper-28x28x1")
    assert MUNITConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match="unknown keys \\['depth'\\]"):
        MUNITConfig.from_dict({**config.to_dict(), "depth": 3})
    with pytest.raises(ValueError, match="pass image_size= and channels="):
        preset("tiny")
    assert set(PRESETS) == {"paper-28x28x1", "paper-32x32x3", "small-28x28x1", "tiny"}
    with pytest.raises(ValueError, match=r"name: expected one of .*received '28x28x1'"):
        preset("28x28x1")


def test_loss_weights_are_non_negative_numbers():
    assert LossWeights().to_dict() == dict(image=10, style=1, content=1, adversarial=1, cycle=0)
    with pytest.raises(ValueError, match="style: expected a loss weight >= 0, received -1"):
        LossWeights(style=-1)


def test_seeded_initialisation_is_reproducible_and_leaves_the_global_rng_alone():
    before = torch.get_rng_state()
    a, b = MUNITGenerator(TINY, seed=3), MUNITGenerator(TINY, seed=3)
    assert torch.equal(torch.get_rng_state(), before)
    assert all(
        torch.equal(p, q)
        for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )
    c = MUNITGenerator(TINY, seed=4)
    assert not torch.equal(a.decoder.mlp[0].weight, c.decoder.mlp[0].weight)


# training and checkpoints


def test_fit_writes_safe_checkpoints_grids_and_keeps_the_newest(tmp_path):
    trainer = trained(tmp_path, 6, checkpoint_every=2, keep=2)
    folders = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert folders == ["iter-0000004", "iter-0000006"]
    latest = latest_checkpoint(tmp_path)
    assert {p.name for p in latest.iterdir()} == CHECKPOINT_FILES
    training = json.loads((latest / "training.json").read_text())
    assert training["iteration"] == 6 and training["batch_size"] == 4 and training["balanced"]
    assert (tmp_path / "samples" / "iter-0000006.png").is_file()
    loaded = load_generator(tmp_path)  # the out_dir finds its latest checkpoint
    assert_same_weights(dict(loaded.state_dict()), dict(trainer.generator.state_dict()))


def test_resuming_from_a_checkpoint_matches_the_uninterrupted_run(tmp_path):
    straight = trained(tmp_path / "straight", 8)
    trained(tmp_path / "split", 5, checkpoint_every=5)
    resumed = trained(tmp_path / "split", 8)  # a new trainer: everything comes from disk
    assert resumed.iteration == 8
    assert_same_weights(weights(resumed), weights(straight))
    continued = trained(tmp_path / "continued", 3)
    continued.fit(glyphs(), 8, batch_size=4, progress=False, resume=False)  # same object
    assert_same_weights(weights(continued), weights(straight))


def test_a_user_dataloader_is_used_as_given(tmp_path):
    data = TensorDataset(torch.rand(12, 1, 28, 28))
    loader = DataLoader(
        data, batch_size=3, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    trainer = MUNITTrainer(TINY, tmp_path, device="cpu")
    losses = trainer.fit(loader, 5, progress=False)
    assert trainer.iteration == 5 and trainer.data_position == {"epoch": 1, "batch": 1}
    assert all(torch.isfinite(torch.tensor(list(losses.values()))))


class Recorder(MUNITCallback):
    """Every call it gets: (iteration, losses)."""

    def __init__(self) -> None:
        self.steps: list[tuple[int, dict[str, float]]] = []
        self.ends: list[tuple[int, dict[str, float]]] = []

    def on_step_end(self, trainer, losses):
        self.steps.append((trainer.iteration, losses))

    def on_fit_end(self, trainer, losses):
        self.ends.append((trainer.iteration, losses))


def logged_iterations(caplog) -> list[int]:
    """The iterations of LogEvery's lines ("iteration 4: discriminator=0.999 generator=...")."""
    lines = [r.getMessage() for r in caplog.records if r.name == "invtransfer.generative.trainer"]
    return [int(line.split(":")[0].split()[1]) for line in lines if "discriminator=" in line]


def test_callbacks_get_every_steps_losses_and_the_built_ins_keep_their_schedules(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="invtransfer.generative.trainer")
    recorder = Recorder()
    last = MUNITTrainer(TINY, tmp_path, device="cpu").fit(
        glyphs(), 5, batch_size=4, progress=False, checkpoint_every=2, sample_every=3,
        log_every=4, keep=5, callbacks=[recorder],
    )  # fmt: skip
    assert [iteration for iteration, _ in recorder.steps] == [1, 2, 3, 4, 5]
    assert recorder.steps[-1][1] == last and recorder.ends == [(5, last)] and set(last) == {
        "discriminator", "generator", "image", "style", "content", "adversarial"
    }  # fmt: skip
    assert len({json.dumps(losses) for _, losses in recorder.steps}) == 5  # a new dict each step
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "iter-0000002", "iter-0000004", "iter-0000005"
    ]  # fmt: skip
    assert json.loads((latest_checkpoint(tmp_path) / "training.json").read_text())["losses"] == last
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "iter-0000003.png", "iter-0000005.png"
    ]  # fmt: skip
    assert logged_iterations(caplog) == [4, 5]
    caplog.clear()
    idle = Recorder()  # nothing left to do: no step, an end without losses, nothing written
    trained(tmp_path, 5, checkpoint_every=2, callbacks=[idle])
    assert idle.steps == [] and idle.ends == [(5, {})] and logged_iterations(caplog) == []


def test_a_callback_of_a_built_in_type_replaces_the_one_fit_makes(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="invtransfer.generative.trainer")
    rows = torch.stack([glyphs()[i][0] for i in (0, 6, 12)])
    trained(tmp_path, 3, callbacks=[SamplesEvery(1, rows), LogEvery(2)])
    samples = sorted((tmp_path / "samples").iterdir())
    assert [p.name for p in samples] == ["iter-0000001.png", "iter-0000002.png", "iter-0000003.png"]
    assert Image.open(samples[0]).size == (8 * 30 + 2, 3 * 30 + 2)  # 8 columns, 3 rows
    assert logged_iterations(caplog) == [2, 3]


def test_bad_callbacks_are_refused_naming_them(tmp_path):
    trainer = MUNITTrainer(TINY, tmp_path, device="cpu")
    with pytest.raises(
        TypeError, match=r"callbacks\[1\]: expected a MUNITCallback .*received object"
    ):
        trainer.fit(glyphs(), 2, batch_size=4, progress=False, callbacks=[Recorder(), object()])
    with pytest.raises(TypeError, match="callbacks: expected a list of MUNITCallback objects"):
        trainer.fit(glyphs(), 2, batch_size=4, progress=False, callbacks=Recorder())
    with pytest.raises(ValueError, match="log_every: expected an int >= 1, received 0"):
        trainer.fit(glyphs(), 2, batch_size=4, progress=False, log_every=0)
    with pytest.raises(ValueError, match="every: expected an int >= 1, received 0"):
        CheckpointEvery(0)
    with pytest.raises(ValueError, match="keep: expected an int >= 1, received 0"):
        CheckpointEvery(1, keep=0)
    with pytest.raises(ValueError, match="images: expected float values in"):
        SamplesEvery(1, torch.rand(2, 1, 28, 28) * 255)
    assert trainer.iteration == 0 and not (tmp_path / "checkpoints").exists()


def test_resuming_with_other_settings_is_refused(tmp_path):
    trained(tmp_path, 2)
    with pytest.raises(ValueError, match=r"cannot resume exactly.*batch_size: checkpoint 4, now 2"):
        MUNITTrainer(TINY, tmp_path, device="cpu").fit(glyphs(), 4, batch_size=2, progress=False)
    other = MUNITTrainer(preset("tiny", image_size=28, channels=1, dim=4), tmp_path, device="cpu")
    with pytest.raises(ValueError, match=r"cannot resume exactly.*config"):
        other.fit(glyphs(), 4, batch_size=4, progress=False)


def test_a_non_finite_loss_stops_before_the_update_and_keeps_the_last_checkpoint(tmp_path):
    trainer = trained(tmp_path, 2)
    discriminator = {k: v.clone() for k, v in trainer.discriminator.state_dict().items()}
    with torch.no_grad():
        trainer.generator.decoder.mlp[0].weight.fill_(float("nan"))
    with pytest.raises(
        NonFiniteLossError, match=r"iteration 2: the discriminator loss .*iter-0000002"
    ):
        trainer.fit(glyphs(), 4, batch_size=4, progress=False, resume=False)
    assert trainer.iteration == 2
    assert_same_weights(dict(trainer.discriminator.state_dict()), discriminator)
    assert all(torch.isfinite(p).all() for p in load_generator(tmp_path).parameters())


def test_images_of_the_wrong_kind_are_refused_naming_the_iteration(tmp_path):
    trainer = MUNITTrainer(TINY, tmp_path, device="cpu")
    with pytest.raises(
        ValueError, match=r"images at iteration 0: the generator was built for .*\(1, 28, 28\)"
    ):
        trainer.step(torch.rand(2, 3, 28, 28))
    with pytest.raises(ValueError, match="images at iteration 0: expected float values in"):
        trainer.step(torch.rand(2, 1, 28, 28) * 255)
    nan = torch.full((2, 1, 28, 28), float("nan"))
    with pytest.raises(ValueError, match="images at iteration 0"):
        trainer.step(nan)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "pickle", "missing"])
def test_damaged_checkpoints_are_refused_without_unpickling(tmp_path, damage):
    trained(tmp_path, 2)
    target = latest_checkpoint(tmp_path) / "generator.safetensors"
    marker = tmp_path / "pwned"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:100])
    elif damage == "garbage":
        target.write_bytes(b"\x00" * 64)
    elif damage == "pickle":
        target.write_bytes(pickle.dumps(_Exploit(marker)))
    else:
        target.unlink()
    error = FileNotFoundError if damage == "missing" else ValueError
    with pytest.raises(error, match=r"generator\.safetensors"):
        MUNITTrainer(TINY, tmp_path, device="cpu").fit(glyphs(), 4, batch_size=4, progress=False)
    assert not marker.exists()


def test_a_checkpoint_folder_holding_only_a_pickle_is_refused(tmp_path):
    folder = tmp_path / "checkpoints" / "iter-0000005"
    folder.mkdir(parents=True)
    marker = tmp_path / "pwned"
    torch.save({"payload": _Exploit(marker)}, folder / "checkpoint.pt")
    with pytest.raises(
        FileNotFoundError, match=r"expected training.json, found \['checkpoint.pt'\]"
    ):
        MUNITTrainer(TINY, tmp_path, device="cpu").fit(glyphs(), 8, batch_size=4, progress=False)
    with pytest.raises(FileNotFoundError, match=r"expected config\.json"):
        load_generator(folder)
    assert not marker.exists()


class _Exploit:
    """Unpickling this would create a file: proof that nothing was unpickled if it is absent."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


KILL_SCRIPT = """
import sys, torch
torch.set_num_threads(1)
from invtransfer.data import Glyphs
from invtransfer.generative import MUNITTrainer, preset
trainer = MUNITTrainer(preset("tiny", image_size=28, channels=1), sys.argv[1], device="cpu")
trainer.fit(Glyphs(num_classes=4, per_class=6, seed=0), int(sys.argv[2]), batch_size=4,
            checkpoint_every=10, progress=False)
"""


def test_a_run_killed_with_sigkill_resumes_to_the_same_weights(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(KILL_SCRIPT)
    iterations = 200

    def command(out: Path) -> list[str]:
        return [sys.executable, str(script), str(out), str(iterations)]

    subprocess.run(command(tmp_path / "straight"), check=True, cwd=ROOT)
    victim = subprocess.Popen(command(tmp_path / "killed"), cwd=ROOT)
    deadline = time.monotonic() + 120
    while (
        latest := latest_checkpoint(tmp_path / "killed")
    ) is None or latest.name < "iter-0000010":
        assert victim.poll() is None and time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = latest_checkpoint(tmp_path / "killed")
    assert killed_at.name < f"iter-{iterations:07d}", "the run finished before it was killed"
    subprocess.run(command(tmp_path / "killed"), check=True, cwd=ROOT)
    for name in ("generator", "discriminator", "optimizers"):
        straight = load_file(latest_checkpoint(tmp_path / "straight") / f"{name}.safetensors")
        resumed = load_file(latest_checkpoint(tmp_path / "killed") / f"{name}.safetensors")
        assert_same_weights(straight, resumed)


def _train_on_rank(out_dir: Path, rank: int) -> list[float]:
    trainer = MUNITTrainer(TINY, out_dir, device="cpu")
    trainer.fit(glyphs(), 3, batch_size=2, progress=False)
    return [float(p.double().sum()) for p in trainer.generator.parameters()]


def test_two_ranks_train_one_model(tmp_path):
    ranks = run_on_two_ranks(functools.partial(_train_on_rank, tmp_path / "run"), tmp_path)
    assert ranks[0] == ranks[1]
    training = json.loads((latest_checkpoint(tmp_path / "run") / "training.json").read_text())
    assert training["world_size"] == 2 and training["iteration"] == 3


def test_weights_saved_for_another_config_are_refused_naming_the_tensors(tmp_path):
    trained(tmp_path, 2)
    folder = latest_checkpoint(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "dim": 4}))
    with pytest.raises(ValueError, match=r"does not match this MUNITGenerator .*has shape"):
        load_generator(folder)
