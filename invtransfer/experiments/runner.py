"""`run_experiment`: every method of a config, on every replicate, trained, evaluated, reported.

A study's replicates are its seeds, each with its own class order where the recipe draws one
(see `replicates`): every method runs once on each, so methods compare pairwise. The output
folder holds the resolved config (``config.json``), a generator per replicate when a method
uses GIT (or the evaluation measures the generator's nuisance) and none was given
(``munit-{replicate}/``), one folder per run (``runs/{method}-{replicate}/``, with its
checkpoints and ``metrics.json``), the generator's quality per replicate
(``quality/{replicate}.json`` and a translation grid) and the report (``report/``).
Everything resumes: a finished run is read back, an unfinished one continues from its last
epoch, the generator from its last checkpoint. Plain CE trains first, and the methods that
train as CE until the defer epoch (CE+DRS, the GIT variants) start from its checkpoint there,
which saves those epochs and changes no result.

The folder is a sandbox: method and replicate names are checked before they become path parts,
every path the runner reads or writes must resolve inside ``out_dir`` (a symbolic link that
leads out is refused), and nothing is written until the config and the first replicate's data
have been checked, so a failed start leaves the folder as it was. A finished run is read back
without writing: ``config.json`` is written only when it is missing or differs.

Under ``torchrun`` every rank calls `run_experiment`: training and the invariance curves are
shared out between the ranks, and rank 0 writes the files.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from invtransfer._distributed import barrier, rank_and_world
from invtransfer._paths import inside, safe_name, write_bytes, write_text
from invtransfer._validation import checked_device, instance
from invtransfer.checkpoint import latest_numbered, load_module
from invtransfer.experiments.config import ExperimentConfig
from invtransfer.experiments.datasets import ExperimentData, Replicate, load_data, replicates
from invtransfer.experiments.evaluation import evaluate_run, generator_quality
from invtransfer.experiments.methods import GIT_SUFFIX
from invtransfer.experiments.report import write_report
from invtransfer.experiments.training import check_settings, train_run
from invtransfer.generative import (
    MUNITGenerator,
    MUNITTrainer,
    latest_checkpoint,
    load_generator,
    preset,
)
from invtransfer.models import build_model

__all__ = ["TrainedRun", "load_run", "run_experiment"]

log = logging.getLogger(__name__)

_ERM = "ce"
"""Trained first on each replicate: deferred methods start from its checkpoint at the defer
epoch (see `train_run`)."""

_JUDGES = ("ce_drs", "ce")
"""The classifiers that judge a generator's class keeping, in order of preference: trained
without it (the paper's CE+DRS first)."""


def run_experiment(
    config: ExperimentConfig,
    out_dir: str | Path,
    progress: bool = True,
    seeds: Sequence[int] | None = None,
    report: bool = True,
) -> dict[str, dict[str, Any]]:
    """Train and evaluate every method of ``config`` on every replicate; write the report
    (`write_report`) unless ``report`` is false.

    ``seeds`` runs only the replicates of those seeds (a subset of ``config.seeds``), so
    that processes or machines can share a study's folder; the report covers every run
    finished there. Runs finished before are read, not trained again, and nothing is
    written for them. Returns the metrics of the runs made or read, keyed
    ``"{method}-{replicate}"`` (``"ce-seed0-order0"``).

    Raises:
        ValueError: ``out_dir`` holds a run of a different config (resuming it would mix
            results), ``seeds`` are not among the config's, a method or replicate name is not
            one part of a path, or a path in ``out_dir`` leads out of it.
    """
    instance("config", config, ExperimentConfig)
    out_dir = Path(out_dir)
    chosen = _chosen(replicates(config), config.seeds if seeds is None else seeds)
    for method in config.methods:
        safe_name(method, "methods")
    _check_claim(out_dir, config)
    device = checked_device("device", config.device)
    results: dict[str, dict[str, Any]] = {}
    for index, replicate in enumerate(chosen):
        data = load_data(config.data, replicate.seed, replicate.order)
        check_settings(config, data, device)
        if index == 0:  # the config and the data are sound: the folder may be written
            _claim(out_dir, config)
        results |= _run_replicate(config, replicate, data, out_dir, device, progress)
    if report and rank_and_world()[0] == 0:
        write_report(out_dir)
    return results


class TrainedRun(NamedTuple):
    """One finished run of a study, read back by `load_run`."""

    config: ExperimentConfig
    data: ExperimentData
    model: nn.Module
    """The trained model at its last checkpoint, in eval mode."""
    folder: Path
    """The run's folder, ``runs/{method}-{replicate}``."""


def load_run(out_dir: str | Path, method: str, seed: int, order: int | None = None) -> TrainedRun:
    """The config, the data, the trained model and the folder of one run of the experiment in
    ``out_dir``: ``method`` on the replicate of ``seed`` (and ``order``, where a seed has
    several class orders).

    Raises:
        FileNotFoundError: ``out_dir`` has no such run, or it has no checkpoint.
        ValueError: the config has no such replicate, ``order`` is needed to choose one,
            ``method`` is not one part of a path (``../x``), or the run's folder leads out
            of ``out_dir`` (a symbolic link).
    """
    out_dir = Path(out_dir)
    safe_name(method, "method")
    config = _read_config(out_dir)
    replicate = _replicate_of(config, seed, order)
    run_dir = _run_dir(out_dir, method, replicate)
    data = load_data(config.data, replicate.seed, replicate.order)
    model = _trained_model(config, data, run_dir, replicate.seed)
    return TrainedRun(config, data, model, run_dir)


def _run_replicate(
    config: ExperimentConfig,
    replicate: Replicate,
    data: ExperimentData,
    out_dir: Path,
    device: torch.device,
    progress: bool,
) -> dict[str, dict[str, Any]]:
    """Every method on one replicate (CE first), then the generator's quality."""
    name = safe_name(replicate.name, "replicate")
    generator = None
    if _uses_generator(config):
        munit = inside(out_dir, out_dir / f"munit-{name}")
        for part in ("checkpoints", "samples"):
            inside(out_dir, munit / part)
        generator = _generator(config, data, munit, replicate.seed, device, progress)
    erm_run = _run_dir(out_dir, _ERM, replicate) if _ERM in config.methods else None
    results = {}
    for method in sorted(config.methods, key=lambda name: name != _ERM):  # CE first
        run_dir = _run_dir(out_dir, method, replicate)
        results[f"{method}-{name}"] = _run(
            config, data, method, replicate, run_dir, generator, device, progress, erm_run
        )
    judge = next((m for m in _JUDGES if m in config.methods), None)
    quality = inside(out_dir, out_dir / "quality" / f"{name}.json")
    if generator is not None and judge is not None and not quality.is_file():
        classifier = _trained_model(
            config, data, _run_dir(out_dir, judge, replicate), replicate.seed
        )
        measured = generator_quality(
            classifier.to(device), generator, data, config.evaluation, replicate.seed
        )
        if rank_and_world()[0] == 0:
            _save_quality(out_dir, quality, {"judge": judge, **measured})
        barrier()
    return results


def _run_dir(out_dir: Path, method: str, replicate: Replicate) -> Path:
    """``runs/{method}-{replicate}``, refused where a name or a link would lead out of
    ``out_dir``; its checkpoints folder must not lead out either."""
    name = f"{safe_name(method, 'method')}-{safe_name(replicate.name, 'replicate')}"
    run_dir = inside(out_dir, out_dir / "runs" / name)
    inside(out_dir, run_dir / "checkpoints")
    return run_dir


def _run(
    config: ExperimentConfig,
    data: ExperimentData,
    method: str,
    replicate: Replicate,
    run_dir: Path,
    generator: MUNITGenerator | None,
    device: torch.device,
    progress: bool,
    erm_run: Path | None,
) -> dict[str, Any]:
    metrics_path = inside(run_dir.parent.parent, run_dir / "metrics.json")
    if metrics_path.is_file():
        log.info("%s: finished before, reading %s", run_dir.name, metrics_path)
        return json.loads(metrics_path.read_text())
    seed = replicate.seed
    model = train_run(config, data, method, seed, run_dir, generator, device, progress, erm_run)
    metrics = {
        "method": method,
        "seed": seed,
        "order": replicate.order,
        "replicate": replicate.name,
        "class_counts": data.class_counts.tolist(),
        **evaluate_run(model, data, config.evaluation, seed, progress, generator),
    }
    if rank_and_world()[0] == 0:
        write_text(metrics_path, json.dumps(metrics, indent=1), run_dir.parent.parent)
    barrier()
    return metrics


def _uses_generator(config: ExperimentConfig) -> bool:
    """Whether a method uses GIT or the evaluation measures the generator's nuisance."""
    git = any(method.endswith(GIT_SUFFIX) for method in config.methods)
    return git or config.evaluation.family == "generator"


def _generator(
    config: ExperimentConfig,
    data: ExperimentData,
    out_dir: Path,
    seed: int,
    device: torch.device,
    progress: bool,
) -> MUNITGenerator:
    """The configured generator, or one trained (or resumed) here on the training set."""
    if config.git.generator is not None:
        return load_generator(config.git.generator, device)
    channels, size, _ = data.image_shape
    architecture = preset(config.git.preset, image_size=size, channels=channels)
    trainer = MUNITTrainer(architecture, out_dir, seed=seed, device=device)
    log.info("%s", _generator_message(out_dir, config.git.iterations, config.git.batch_size))
    trainer.fit(
        data.train, config.git.iterations, config.git.batch_size,
        checkpoint_every=max(config.git.iterations // 4, 1), progress=progress,
    )  # fmt: skip
    return trainer.generator


def _generator_message(out_dir: Path, iterations: int, batch_size: int) -> str:
    """What `_generator` is about to do: train the generator, resume it, or read it."""
    latest = latest_checkpoint(out_dir)
    done = int(latest.name.rsplit("-", 1)[1]) if latest is not None else 0
    if done >= iterations:
        return f"{out_dir.name}: the generator for GIT was trained before ({done} iterations)"
    if done:
        return (
            f"{out_dir.name}: training the generator for GIT first: resuming at iteration "
            f"{done} of {iterations} ({batch_size} images each)"
        )
    return (
        f"{out_dir.name}: training the generator for GIT first: {iterations} iterations of "
        f"{batch_size} images"
    )


def _trained_model(
    config: ExperimentConfig, data: ExperimentData, run_dir: Path, seed: int
) -> nn.Module:
    """The model of a run folder at its last checkpoint, in eval mode."""
    checkpoints = run_dir / "checkpoints"
    latest = latest_numbered(checkpoints, "epoch")
    if latest is None:
        raise FileNotFoundError(f"{checkpoints}: expected epoch checkpoints, found none")
    model = build_model(config.model.name, data.num_classes, data.image_shape, seed)
    load_module(model, latest, "model")
    return model.eval()


def _chosen(all_replicates: list[Replicate], seeds: Sequence[int]) -> list[Replicate]:
    """The replicates of ``seeds``, which must be among the config's."""
    known = sorted({r.seed for r in all_replicates})
    if unknown := sorted(set(seeds) - set(known)):
        raise ValueError(f"seeds: expected seeds of the config {known}, received {unknown}")
    return [r for r in all_replicates if r.seed in seeds]


def _replicate_of(config: ExperimentConfig, seed: int, order: int | None) -> Replicate:
    """The replicate of ``seed`` and ``order`` (which may be left out when a seed has one)."""
    matches = [r for r in replicates(config) if r.seed == seed and order in (None, r.order)]
    if len(matches) != 1:
        names = [r.name for r in replicates(config)]
        raise ValueError(
            f"seed={seed}, order={order}: expected one of the replicates {names}"
            + ("; pass order= to choose" if matches else "")
        )
    return matches[0]


def _read_config(out_dir: Path) -> ExperimentConfig:
    """The config in ``out_dir/config.json`` (which must not lead out of ``out_dir``)."""
    path = inside(out_dir, out_dir / "config.json")
    if not path.is_file():
        raise FileNotFoundError(
            f"{out_dir}: expected a study folder holding config.json, found no config.json"
        )
    return ExperimentConfig.from_dict(json.loads(path.read_text()))


def _check_claim(out_dir: Path, config: ExperimentConfig) -> None:
    """Refuse ``out_dir`` if its ``config.json`` is another config (settings added to the
    library since it was written count as their defaults); reads only."""
    if (out_dir / "config.json").exists() and _read_config(out_dir) != config:
        raise ValueError(
            f"{out_dir}: holds runs of another config ({out_dir / 'config.json'}); choose "
            f"another output folder or delete it to start again"
        )


def _claim(out_dir: Path, config: ExperimentConfig) -> None:
    """Write ``config.json`` where it is missing or differs (a finished folder that may not
    be written is read as it is)."""
    path, document = out_dir / "config.json", json.dumps(config.to_dict(), indent=1)
    if rank_and_world()[0] == 0 and not (path.is_file() and path.read_text() == document):
        write_text(path, document, out_dir)
    barrier()


def _save_quality(out_dir: Path, path: Path, measured: dict[str, Any]) -> None:
    """``quality/{replicate}.json`` and its translation grid, ``{replicate}-grid.png``."""
    from torchvision.utils import save_image

    grid = measured.pop("grid")
    image = io.BytesIO()
    save_image(grid.pop("image"), image, format="png")
    write_bytes(path.with_name(f"{path.stem}-grid.png"), image.getvalue(), out_dir)
    write_text(path, json.dumps({**measured, "grid": grid}, indent=1), out_dir)
