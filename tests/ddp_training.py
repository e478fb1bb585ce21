"""Run under ``python -m torch.distributed.run`` (or alone, as the one-process reference): the
runner's training indices of every epoch and its final weights, for plain shuffles, RS, DRS and
GIT, written to ``OUT/world{W}.json`` and ``OUT/world{W}-rank{R}-{method}.safetensors``.

Used by tests/test_distributed_training.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import save_file

from invtransfer._distributed import process_group_from_env, rank_and_world
from invtransfer.experiments import ExperimentConfig, load_data, method_parts
from invtransfer.experiments.training import train_run, training_loader
from invtransfer.generative import MUNITGenerator, preset

METHODS = ("ce", "ce_rs", "ce_drs", "ce_drs+git")
CONFIG = [
    "data.options={ num_classes = 4, per_class = 200, test_per_class = 2, max_count = 40 }",
    'model.name="small_cnn"',  # no batch norm: DDP's averaged gradients are the batch's
    "train.epochs=2",
    "train.warmup_epochs=0",
    "train.milestones=[1]",  # DRS and GIT switch on in the second epoch
    "train.batch_size=12",  # 60 training images: 5 whole batches, 6 images per rank
    "train.lr=0.05",
]


def trained_indices(config: ExperimentConfig, data, method: str, epoch: int) -> list[int]:
    """The dataset indices every rank trains in ``epoch``, rank 0's first, as one list."""
    parts = method_parts(method, data.class_counts, config.train.deferred_start)
    loader = training_loader(data.train, parts.sampling_power, config.train, seed=0)
    loader.sampler.set_epoch(epoch)
    mine = torch.cat([index for _, _, index in loader]).tolist()
    if rank_and_world()[1] == 1:
        return mine
    gathered: list[list[int]] = [[] for _ in range(rank_and_world()[1])]
    dist.all_gather_object(gathered, mine)
    return [index for share in gathered for index in share]


def main(out: Path) -> None:
    config = ExperimentConfig().with_overrides(CONFIG)
    data = load_data(config.data, seed=0)
    generator = MUNITGenerator(preset("tiny", image_size=28, channels=1), seed=0)
    rank, world = rank_and_world()
    indices = {}
    for method in METHODS:
        epochs = range(config.train.epochs)
        indices[method] = [trained_indices(config, data, method, epoch) for epoch in epochs]
        run_dir = out / f"world{world}" / method
        model = train_run(config, data, method, 0, run_dir, generator, progress=False)
        weights = {name: value.contiguous() for name, value in model.state_dict().items()}
        save_file(weights, out / f"world{world}-rank{rank}-{method}.safetensors")
    if rank == 0:
        (out / f"world{world}.json").write_text(json.dumps(indices))


if __name__ == "__main__":
    with process_group_from_env():
        main(Path(sys.argv[1]))
