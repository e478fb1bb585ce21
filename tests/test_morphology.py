"""Morphology: per-sample kernels, the anchor of even kernels, the paper's DIL recipe."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import seeded

from invtransfer.transforms import Morphology, Params, dilate_or_erode


def dilate(x: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    return dilate_or_erode(x, size, torch.ones(len(x), dtype=torch.bool))


def reference_dilation(image: torch.Tensor, k: int) -> torch.Tensor:
    """One image, one kernel: max pooling over offsets -(k // 2) .. (k - 1) // 2."""
    padded = F.pad(image[None], [k // 2, (k - 1) // 2] * 2, value=float("-inf"))
    return F.max_pool2d(padded, k, stride=1)[0]


def test_even_kernel_window_reaches_up_and_left():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1.0
    grown = dilate(x, torch.tensor([2]))[0, 0]
    assert grown.nonzero().tolist() == [[2, 2], [2, 3], [3, 2], [3, 3]]
    grown = dilate(x, torch.tensor([4]))[0, 0]
    assert grown.nonzero().amin(0).tolist() == [1, 1]
    assert grown.nonzero().amax(0).tolist() == [4, 4]


@pytest.mark.parametrize("channels", [1, 3])
def test_batched_dilation_equals_per_image_max_pooling(channels):
    x = torch.rand(6, channels, 11, 13, generator=seeded())
    sizes = torch.tensor([1, 2, 3, 4, 5, 2])
    expected = torch.stack(
        [reference_dilation(img, int(k)) for img, k in zip(x, sizes, strict=True)]
    )
    assert torch.equal(dilate(x, sizes), expected)


def test_erosion_is_dilation_of_the_negative():
    x = torch.rand(4, 1, 10, 10, generator=seeded())
    sizes = torch.tensor([1, 2, 3, 4])
    params = Params(dilate=torch.zeros(4, dtype=torch.bool), size=sizes)
    assert torch.equal(Morphology().apply(x, params), -dilate(-x, sizes))


def test_size_one_erosion_changes_nothing():
    x = (torch.rand(3, 1, 28, 28, generator=seeded()) * 255).to(torch.uint8)
    params = Params(dilate=torch.zeros(3, dtype=torch.bool), size=torch.ones(3, dtype=torch.long))
    assert torch.equal(Morphology().apply(x, params), x)


def test_dilation_thickens_and_erosion_thins_strokes():
    x = torch.zeros(2, 1, 28, 28, dtype=torch.uint8)
    x[:, :, 4:24, 12:16] = 255
    params = Params(dilate=torch.tensor([True, False]), size=torch.tensor([3, 2]))
    out = Morphology().apply(x, params)
    ink = (out > 0).sum(dim=(1, 2, 3))
    assert ink[0] > (x[0] > 0).sum() > ink[1]


def test_paper_recipe_probabilities_and_sizes():
    params = Morphology().sample(60_000, generator=seeded())
    assert abs(params.dilate.float().mean().item() - 0.6) < 0.01
    assert set(params.size[params.dilate].unique().tolist()) == {2, 3, 4}
    assert set(params.size[~params.dilate].unique().tolist()) == {1, 2}


def test_kernels_wider_than_the_image_take_the_image_maximum():
    x = torch.rand(3, 2, 3, 4, generator=seeded())
    grown = dilate(x, torch.tensor([9, 1, 12]))
    assert torch.equal(grown[[0, 2]], x[[0, 2]].amax(dim=(2, 3), keepdim=True).expand(2, 2, 3, 4))
    assert torch.equal(grown[1], x[1])


def test_dilate_or_erode_rejects_bad_sizes():
    with pytest.raises(ValueError, match="size: expected kernel sizes >= 1"):
        dilate(torch.rand(2, 1, 5, 5), torch.tensor([0, 2]))
    with pytest.raises(ValueError, match=r"size: expected one value per image, shape \(2,\)"):
        dilate(torch.rand(2, 1, 5, 5), torch.tensor([2]))
