"""Params: indexing, devices, concatenation and flattening."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

from invtransfer.transforms import Params


def nested() -> Params:
    return Params(
        choice=torch.tensor([0, 1, 0]),
        child=Params(angle=torch.tensor([1.0, 2.0, 3.0]), shift=torch.zeros(3, 2)),
    )


def test_indexing_selects_rows_everywhere():
    params = nested()
    assert params[1].child.angle.tolist() == [2.0]
    assert params[torch.tensor([True, False, True])].choice.tolist() == [0, 0]
    assert params[[2, 0]].child.angle.tolist() == [3.0, 1.0]
    assert len(params[1:]) == 2 and params["choice"] is params.choice


def test_concatenation_and_safetensors_round_trip(tmp_path):
    joined = Params.cat([nested(), nested()[:1]])
    assert len(joined) == 4 and joined.child.shift.shape == (4, 2)
    save_file(joined.to_dict(), tmp_path / "params.safetensors")
    loaded = Params.from_dict(load_file(tmp_path / "params.safetensors"))
    assert loaded.child.angle.tolist() == [1.0, 2.0, 3.0, 1.0]


def test_to_device_and_repr():
    params = nested().to("cpu")
    assert params.device == torch.device("cpu")
    assert "Params(n=3" in repr(params)


def test_bad_params_are_rejected_with_names():
    with pytest.raises(ValueError, match="same number of samples"):
        Params(a=torch.zeros(2), b=torch.zeros(3))
    with pytest.raises(TypeError, match="'a' must be a tensor"):
        Params(a=1.0)
    with pytest.raises(ValueError, match="at least one field"):
        Params()
    with pytest.raises(AttributeError, match="no field 'angle'"):
        _ = Params(a=torch.zeros(1)).angle
    with pytest.raises(ValueError, match="expected fields"):
        Params.cat([Params(a=torch.zeros(1)), Params(b=torch.zeros(1))])
