"""Tests for transforms.py: shapes and dtypes for tensors and PIL images, and denormalize."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from transfer_lessons.data import denormalize, eval_transforms, train_transforms
from transfer_lessons.models import IMAGENET_MEAN, IMAGENET_STD


@pytest.mark.parametrize("make", [train_transforms, eval_transforms])
def test_tensor_and_pil_give_normalised_floats(make):
    pipeline = make(48)
    for image in (torch.randint(0, 256, (3, 60, 90), dtype=torch.uint8), Image.new("RGB", (90, 60), "red")):
        out = pipeline(image)
        assert out.shape == (3, 48, 48) and out.dtype == torch.float32 and type(out) is torch.Tensor


def test_eval_is_deterministic_and_matches_manual_normalisation():
    image = torch.full((3, 64, 64), 255, dtype=torch.uint8)
    out = eval_transforms(56)(image)
    assert torch.equal(out, eval_transforms(56)(image))
    expected = (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    assert torch.allclose(out[:, 0, 0], expected, atol=1e-5), f"{out[:, 0, 0]} != {expected}"


def test_denormalize_inverts_normalize():
    image = torch.rand(2, 3, 8, 8)
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    assert torch.allclose(denormalize((image - mean) / std), image, atol=1e-6)


def test_unknown_interpolation_is_named():
    with pytest.raises(ValueError, match="'lanczos5'"):
        train_transforms(32, interpolation="lanczos5")


def test_eval_crop_follows_the_card():
    from transfer_lessons.data import eval_transforms

    image = torch.arange(3 * 300 * 300, dtype=torch.float32).reshape(3, 300, 300).remainder(256).to(torch.uint8)
    a = eval_transforms(224, crop_pct=0.875)(image)
    b = eval_transforms(224, crop_pct=0.95)(image)
    assert a.shape == b.shape == (3, 224, 224) and not torch.allclose(a, b), "crop_pct changes the view"


def test_eval_size_for_is_about_115_percent_rounded_to_32():
    from transfer_lessons.data import eval_size_for

    assert [eval_size_for(s) for s in (128, 224, 260)] == [160, 256, 288]
