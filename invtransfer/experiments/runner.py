"""`run_experiment`: every method of a config, for every seed, trained, evaluated, reported.

The output folder holds the resolved config (``config.json``), a generator per seed when a
method uses GIT and none was given (``munit-seed{S}/``), one folder per run
(``runs/{method}-seed{S}/``, with its checkpoints and ``metrics.json``) and the report
(``report/``). Everything resumes: a finished run is read back, an unfinished one continues
from its last epoch, the generator from its last checkpoint. Plain CE trains first, and the
methods that train as CE until the defer epoch (CE+DRS, the GIT variants) start from its
checkpoint there, which saves those epochs and changes no result.

Under ``torchrun`` every rank calls `run_experiment`: training and the invariance curves are
shared out between the ranks, and rank 0 writes the files.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from invtransfer._distributed import barrier, rank_and_world
from invtransfer.checkpoint import latest_numbered, load_module
from invtransfer.experiments.config import ExperimentConfig
from invtransfer.experiments.datasets import ExperimentData, load_data
from invtransfer.experiments.evaluation import evaluate_run
from invtransfer.experiments.methods import GIT_SUFFIX
from invtransfer.experiments.report import write_report
from invtransfer.experiments.training import check_settings, train_run
from invtransfer.generative import MUNITGenerator, MUNITTrainer, load_generator, preset
from invtransfer.models import build_model

__all__ = ["load_run", "run_experiment"]

log = logging.getLogger(__name__)

_ERM = "ce"
"""Trained first for each seed: deferred methods start from its checkpoint at the defer
epoch (see `train_run`)."""


def run_experiment(
    config: ExperimentConfig, out_dir: str | Path, progress: bool = True
) -> dict[str, dict[str, Any]]:
    """Train and evaluate every method of ``config`` for every seed; write the report.

    Returns the metrics of every run, keyed ``"{method}-seed{seed}"``.

    Raises:
        ValueError: ``out_dir`` holds a run of a different config (resuming it would mix
            results).
    """
    out_dir = Path(out_dir)
    _claim(out_dir, config)
    device = torch.device(config.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    results = {}
    for seed in config.seeds:
        data = load_data(config.data, seed)
        check_settings(config, data, device)
        generator = None
        if any(method.endswith(GIT_SUFFIX) for method in config.methods):
            generator = _generator(
                config, data, out_dir / f"munit-seed{seed}", seed, device, progress
            )
        runs = out_dir / "runs"
        erm_run = runs / f"{_ERM}-seed{seed}" if _ERM in config.methods else None
        for method in sorted(config.methods, key=lambda name: name != _ERM):  # CE first
            key = f"{method}-seed{seed}"
            results[key] = _run(
                config, data, method, seed, runs / key, generator, device, progress, erm_run
            )
    if rank_and_world()[0] == 0:
        write_report(out_dir)
    return results


def load_run(
    out_dir: str | Path, method: str, seed: int
) -> tuple[ExperimentConfig, ExperimentData, nn.Module]:
    """The config, the data and the trained model (its last checkpoint, in eval mode) of one
    run of the experiment in ``out_dir``.

    Raises:
        FileNotFoundError: ``out_dir`` has no such run, or it has no checkpoint.
    """
    out_dir = Path(out_dir)
    config = ExperimentConfig.from_dict(json.loads((out_dir / "config.json").read_text()))
    checkpoints = out_dir / "runs" / f"{method}-seed{seed}" / "checkpoints"
    latest = latest_numbered(checkpoints, "epoch")
    if latest is None:
        raise FileNotFoundError(f"{checkpoints}: expected epoch checkpoints, found none")
    data = load_data(config.data, seed)
    model = build_model(config.model.name, data.num_classes, data.image_shape, seed)
    load_module(model, latest, "model")
    return config, data, model.eval()


def _run(
    config: ExperimentConfig,
    data: ExperimentData,
    method: str,
    seed: int,
    run_dir: Path,
    generator: MUNITGenerator | None,
    device: torch.device,
    progress: bool,
    erm_run: Path | None,
) -> dict[str, Any]:
    metrics_path = run_dir / "metrics.json"
    if metrics_path.is_file():
        log.info("%s: finished before, reading %s", run_dir.name, metrics_path)
        return json.loads(metrics_path.read_text())
    model = train_run(config, data, method, seed, run_dir, generator, device, progress, erm_run)
    metrics = {
        "method": method,
        "seed": seed,
        "class_counts": data.class_counts.tolist(),
        **evaluate_run(model, data, config.evaluation, seed, progress),
    }
    if rank_and_world()[0] == 0:
        _write_atomically(metrics_path, json.dumps(metrics, indent=1))
    barrier()
    return metrics


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
    trainer.fit(
        data.train, config.git.iterations, config.git.batch_size,
        checkpoint_every=max(config.git.iterations // 4, 1), progress=progress,
    )  # fmt: skip
    return trainer.generator


def _claim(out_dir: Path, config: ExperimentConfig) -> None:
    """Write ``config.json``, or check that the one there is this config (settings added to
    the library since it was written count as their defaults)."""
    path = out_dir / "config.json"
    document = json.dumps(config.to_dict(), indent=1)
    if path.is_file() and ExperimentConfig.from_dict(json.loads(path.read_text())) != config:
        raise ValueError(
            f"{out_dir}: holds runs of another config ({path}); choose another output folder "
            f"or delete it to start again"
        )
    if rank_and_world()[0] == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, document)
    barrier()


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    os.replace(partial, path)
