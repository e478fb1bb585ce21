"""Properties every family must have, checked for each family in the catalogue."""

from __future__ import annotations

import pytest
import torch
from conftest import RGB_ONLY, every_family, images, make_family, seeded
from hypothesis import given
from hypothesis import strategies as st

from invtransfer.transforms import Params

batch_sizes = st.integers(min_value=1, max_value=6)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
image_sizes = st.sampled_from([8, 13, 16])

pytestmark = every_family


def channels_for(name: str) -> int:
    return 3 if name in RGB_ONLY else 1


@given(n=batch_sizes, seed=seeds, size=image_sizes)
def test_same_seed_gives_identical_output(family_name, n, seed, size):
    family = make_family(family_name)
    x = images(n, channels_for(family_name), size)
    assert torch.equal(family(x, generator=seeded(seed)), family(x, generator=seeded(seed)))


@given(n=batch_sizes, size=image_sizes)
def test_identity_params_leave_images_unchanged(family_name, n, size):
    family = make_family(family_name)
    x = images(n, channels_for(family_name), size)
    torch.testing.assert_close(family.apply(x, family.identity(n)), x, atol=1e-5, rtol=0)
    as_uint8 = (x * 255).round().to(torch.uint8)
    assert torch.equal(family.apply(as_uint8, family.identity(n)), as_uint8)


@given(seed=seeds)
def test_parameters_differ_across_the_batch(family_name, seed):
    params = make_family(family_name).sample(64, generator=seeded(seed))
    for name, value in params.to_dict().items():
        if name.endswith("choice") or name.endswith("applied"):
            continue  # selector fields are tested with their composites
        distinct = torch.unique(value, dim=0)
        assert len(distinct) > 1, f"{name} is the same for all 64 samples"


@given(n=batch_sizes, seed=seeds)
def test_apply_with_drawn_params_reproduces_call(family_name, n, seed):
    family = make_family(family_name)
    x = images(n, channels_for(family_name))
    drawn, params = family.apply_random(x, generator=seeded(seed))
    assert torch.equal(family(x, generator=seeded(seed)), drawn)
    assert torch.equal(family.apply(x, params), drawn)
    assert torch.equal(family.apply(x, family.sample(n, generator=seeded(seed))), drawn)


@given(n=batch_sizes, seed=seeds)
def test_uint8_round_trip(family_name, n, seed):
    family = make_family(family_name)
    x = (images(n, channels_for(family_name)) * 255).round().to(torch.uint8)
    params = family.sample(n, generator=seeded(seed))
    out = family.apply(x, params)
    assert out.dtype == torch.uint8 and out.shape == x.shape
    from_float = family.apply(x.float() / 255, params)
    assert (out.float() - from_float * 255).abs().max() <= 0.5 + 1e-3


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_float_dtypes_come_back_as_given(family_name, dtype):
    family = make_family(family_name)
    x = images(3, channels_for(family_name)).to(dtype)
    out = family(x, generator=seeded(1))
    assert out.dtype == dtype and out.shape == x.shape
    assert float(out.min()) >= 0 and float(out.max()) <= 1


def test_single_image_in_single_image_out(family_name):
    family = make_family(family_name)
    x = images(1, channels_for(family_name))[0]
    assert family(x, generator=seeded(2)).shape == x.shape


@given(n=batch_sizes, k=st.integers(min_value=1, max_value=4), seed=seeds)
def test_views_pair_each_copy_with_its_source(family_name, n, k, seed):
    family = make_family(family_name)
    x = images(n, channels_for(family_name), seed=seed % 1000)
    views = family.views(x, k, generator=seeded(seed))
    assert views.images.shape == (n * k, *x.shape[1:])
    assert views.source.tolist() == [i for i in range(n) for _ in range(k)]
    assert torch.equal(views.images, family.apply(x[views.source], views.params))


def test_outputs_stay_in_unit_range(family_name):
    family = make_family(family_name)
    out = family(images(16, channels_for(family_name)), generator=seeded(3))
    assert float(out.min()) >= 0 and float(out.max()) <= 1


def test_global_rng_is_neither_read_nor_changed(family_name):
    family = make_family(family_name)
    x = images(4, channels_for(family_name))
    before = torch.get_rng_state()
    family(x, generator=seeded(4))
    family(x)
    family.views(x, 2)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(0)
    first = family(x, generator=seeded(5))
    torch.manual_seed(1)
    assert torch.equal(family(x, generator=seeded(5)), first)


def test_without_generator_draws_differ_between_calls(family_name):
    family = make_family(family_name)
    first, second = family.sample(32), family.sample(32)
    assert any(
        not torch.equal(a, b)
        for a, b in zip(first.to_dict().values(), second.to_dict().values(), strict=True)
    )


def test_params_survive_a_dict_round_trip(family_name):
    params = make_family(family_name).sample(5, generator=seeded(6))
    rebuilt = Params.from_dict(params.to_dict())
    for (k1, v1), (k2, v2) in zip(params.to_dict().items(), rebuilt.to_dict().items(), strict=True):
        assert k1 == k2 and torch.equal(v1, v2)


def test_family_sits_in_sequential(family_name):
    family = make_family(family_name)
    model = torch.nn.Sequential(family, torch.nn.Flatten())
    x = images(2, channels_for(family_name), size=8)
    assert model(x).shape == (2, x.shape[1] * 64)


def test_module_machinery_still_works(family_name):
    family = make_family(family_name)
    model = torch.nn.Sequential(family, torch.nn.Conv2d(channels_for(family_name), 2, 3))
    model.apply(lambda module: None)  # nn.Module.apply(fn), as weight initialisers use it
    model.to("cpu").double().float()
    model.load_state_dict(model.state_dict())
    x = images(2, channels_for(family_name), size=8)
    assert model(x).shape == (2, 2, 6, 6)


def test_apply_without_params_is_refused(family_name):
    with pytest.raises(TypeError, match="params: expected Params"):
        make_family(family_name).apply(images(1, channels_for(family_name)))
