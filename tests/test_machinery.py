"""Every object a user hands to a DataLoader, a model or a checkpoint survives the machinery:
copy, deepcopy, pickle, spawn and forkserver workers, torch.compile and pytrees."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys

import pytest
import torch
import torch.utils._pytree as pytree
from conftest import every_family, make_family, seeded
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from invtransfer.data import NuisanceDataset, WithIndex
from invtransfer.transforms import Params, Rotation, TransformFamily

ROUND_TRIPS = {
    "copy": copy.copy,
    "deepcopy": copy.deepcopy,
    "pickle": lambda value: pickle.loads(pickle.dumps(value)),
}
round_trips = pytest.mark.parametrize("round_trip", sorted(ROUND_TRIPS))


def images_for(family: TransformFamily, n: int = 4) -> torch.Tensor:
    return torch.rand(n, 3, 12, 12, generator=seeded(1))


def same_params(a: Params, b: Params) -> bool:
    flat_a, flat_b = a.to_dict(), b.to_dict()
    return flat_a.keys() == flat_b.keys() and all(torch.equal(flat_a[k], flat_b[k]) for k in flat_a)


@every_family
@round_trips
def test_params_and_families_survive_copy_and_pickle(family_name, round_trip):
    family = make_family(family_name)
    params = family.sample(5, seeded())
    copied_params = ROUND_TRIPS[round_trip](params)
    copied_family = ROUND_TRIPS[round_trip](family)
    assert same_params(copied_params, params)
    x = images_for(family, 5)
    assert torch.equal(copied_family.apply(x, copied_params), family.apply(x, params))
    assert same_params(copied_family.sample(5, seeded()), params)  # the same distribution


@round_trips
def test_an_empty_shell_of_params_does_not_recurse(round_trip):
    shell = Params.__new__(Params)  # what copy and pickle build before filling it in
    with pytest.raises(AttributeError):
        _ = shell.angle
    assert ROUND_TRIPS[round_trip](Params(angle=torch.ones(2))).angle.tolist() == [1.0, 1.0]


def test_params_is_a_pytree_of_its_tensors():
    params = Params(angle=torch.tensor([1.0, 2.0]), child=Params(flip=torch.tensor([True, False])))
    leaves, spec = pytree.tree_flatten(params)
    assert [leaf.tolist() for leaf in leaves] == [[1.0, 2.0], [True, False]]
    doubled = pytree.tree_unflatten([leaf * 2 for leaf in leaves], spec)
    assert isinstance(doubled, Params) and doubled.child.flip.tolist() == [2, 0]
    paths = [pytree.keystr(path) for path, _ in pytree.tree_flatten_with_path(params)[0]]
    assert paths == [".angle", ".child.flip"]


class _Classifier(nn.Module):
    """A model holding a family, applying the parameters it is given."""

    def __init__(self, family: TransformFamily) -> None:
        super().__init__()
        self.family = family
        self.head = nn.Conv2d(3, 2, 3)

    def forward(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        return self.head(self.family.apply(x, params))


@pytest.mark.slow
@every_family
def test_torch_compile_of_a_model_holding_each_family_matches_eager(family_name):
    torch._dynamo.reset()
    family = make_family(family_name)
    model = _Classifier(family)
    x, params = images_for(family), family.sample(4, seeded())
    compiled = torch.compile(model, backend="eager")
    assert torch.equal(compiled(x, params), model(x, params))
    sequential = torch.compile(nn.Sequential(family, nn.Conv2d(3, 2, 3)), backend="eager")
    assert sequential(x).shape == (4, 2, 10, 10)


def _nuisance_dataset() -> NuisanceDataset:
    images = torch.randint(0, 256, (12, 1, 10, 10), dtype=torch.uint8, generator=seeded(2))
    return NuisanceDataset(TensorDataset(images, torch.arange(12) % 3), Rotation(), seed=0)


def _batches(loader: DataLoader) -> list[list[torch.Tensor]]:
    return [list(batch) for batch in loader]


@pytest.mark.slow
@pytest.mark.parametrize("context", ["spawn", "forkserver"])
def test_nuisance_dataset_in_spawned_workers_gives_the_same_batches(context):
    data = _nuisance_dataset()
    serial = _batches(DataLoader(data, batch_size=4))
    workers = DataLoader(data, batch_size=4, num_workers=2, multiprocessing_context=context)
    for got, expected in zip(_batches(workers), serial, strict=True):
        assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True))


def test_import_and_cli_help_load_no_torch():
    probe = (
        "import sys, invtransfer, invtransfer.cli\n"
        "invtransfer.cli.build_parser()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "invtransfer.Rotation\n"
        "assert 'torch' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)


def test_every_top_level_name_resolves():
    import invtransfer

    for name in invtransfer.__all__:
        assert getattr(invtransfer, name) is not None, name
    assert set(invtransfer.__all__) <= set(dir(invtransfer))
    with pytest.raises(AttributeError, match="no attribute 'Rotaton'"):
        _ = invtransfer.Rotaton


@every_family
def test_a_batched_fetch_gives_the_items_one_by_one(family_name):
    images = torch.randint(0, 256, (6, 3, 10, 10), dtype=torch.uint8, generator=seeded(3))
    data = WithIndex(
        NuisanceDataset(TensorDataset(images, torch.arange(6)), make_family(family_name))
    )
    batch = data.__getitems__([4, 0, 2])
    for (image, label, index), i in zip(batch, [4, 0, 2], strict=True):
        expected = data[i]
        assert torch.equal(image, expected[0]) and label == expected[1] and index == i
