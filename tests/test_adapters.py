"""from_torchvision and to_torchvision in real torchvision pipelines."""

from __future__ import annotations

import PIL.Image
import pytest
import torch
from conftest import images, seeded
from torch.utils.data import DataLoader, Dataset
from torchvision import tv_tensors
from torchvision.transforms import v2

from invtransfer.transforms import (
    BackgroundIntensity,
    Brightness,
    Rotation,
    from_torchvision,
    to_torchvision,
)


def test_from_torchvision_draws_per_image_parameters():
    family = from_torchvision(v2.RandomRotation(90))
    x = images(1, 1, 16).expand(8, -1, -1, -1)
    out = family(x, generator=seeded())
    assert len({tuple(img.flatten().tolist()) for img in out}) == 8


def test_from_torchvision_replays_with_its_seeds_and_spares_the_global_rng():
    family = from_torchvision(v2.Compose([v2.RandomRotation(30), v2.ColorJitter(0.5)]))
    x = images(4, 3, 16)
    params = family.sample(4, generator=seeded())
    state = torch.get_rng_state()
    first = family.apply(x, params)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first, family.apply(x, params))
    assert torch.equal(first[2:], family.apply(x[2:], params[2:]))


def test_from_torchvision_refuses_other_objects():
    with pytest.raises(TypeError, match=r"torchvision\.transforms\.v2 transform"):
        from_torchvision(Rotation())


class Digits(Dataset):
    """Eight uint8 images with integer labels, transformed by a torchvision pipeline."""

    def __init__(self, transform):
        self.images = (images(8, 1, 16) * 255).to(torch.uint8)
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return self.transform(tv_tensors.Image(self.images[index]), index % 3)


def test_to_torchvision_runs_in_a_dataloader_and_passes_labels_through():
    pipeline = v2.Compose(
        [to_torchvision(Rotation(degrees=20)), v2.ToDtype(torch.float32, scale=True)]
    )
    batch, labels = next(iter(DataLoader(Digits(pipeline), batch_size=8, num_workers=2)))
    assert batch.shape == (8, 1, 16, 16) and batch.dtype == torch.float32
    assert labels.tolist() == [0, 1, 2, 0, 1, 2, 0, 1]


def test_to_torchvision_keeps_tv_tensor_type_and_dtype():
    image = tv_tensors.Image((images(1, 3, 8)[0] * 255).to(torch.uint8))
    out = to_torchvision(Brightness())(image)
    assert isinstance(out, tv_tensors.Image) and out.dtype == torch.uint8


def test_to_torchvision_shares_one_draw_across_the_images_of_a_sample():
    image = tv_tensors.Image(images(1, 1, 12)[0])
    video = tv_tensors.Video(image.expand(3, -1, -1, -1).clone())
    out_image, out_video = to_torchvision(Rotation())(image, video)
    for frame in out_video:
        torch.testing.assert_close(frame, out_image.as_subclass(torch.Tensor))


def test_to_torchvision_handles_pil_images():
    pil = PIL.Image.new("L", (10, 10), color=0)
    out = to_torchvision(BackgroundIntensity(intensity=(0.5, 0.5)))(pil)
    assert isinstance(out, PIL.Image.Image) and out.getpixel((0, 0)) == 128


def test_geometric_family_refuses_boxes_and_photometric_passes_them():
    image = tv_tensors.Image(torch.rand(1, 8, 8))
    boxes = tv_tensors.BoundingBoxes([[1, 1, 4, 4]], format="XYXY", canvas_size=(8, 8))
    with pytest.raises(TypeError, match="BoundingBoxes"):
        to_torchvision(Rotation())(image, boxes)
    _, same = to_torchvision(Brightness())(image, boxes)
    assert torch.equal(same, boxes)
