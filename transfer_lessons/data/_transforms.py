"""Image preprocessing pipelines (torchvision.transforms.v2) built from a backbone's card.

They take uint8 CHW tensors (as the decoded-image cache stores them) or PIL images and return normalised float32
tensors. ``transforms_for(backbone)`` is the one path every helper takes: size, mean, std, interpolation and crop come
from the card (as timm's ``resolve_data_config`` does), so no notebook or module retypes them; ``train_transforms`` and
``eval_transforms`` take the values explicitly, for lessons that show each one.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import nn
from torchvision.transforms import InterpolationMode, v2

from ..models import IMAGENET_MEAN, IMAGENET_STD, get_card

CROP_PCT = 0.875  # eval: resize to size/0.875 (256 for 224), then centre-crop, as timm and torchvision do


def _interpolation(name: str) -> InterpolationMode:
    try:
        return InterpolationMode(name.lower())
    except ValueError:
        known = [mode.value for mode in InterpolationMode]
        raise ValueError(f"Unknown interpolation {name!r}; use one of {known}.") from None


def _to_float(mean: Sequence[float], std: Sequence[float]) -> list:
    # ToPureTensor last: batches are plain tensors, not tv_tensors.Image, whatever the input was
    return [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std)),
            v2.ToPureTensor()]


def train_transforms(image_size: int = 224, mean: Sequence[float] = IMAGENET_MEAN,
                     std: Sequence[float] = IMAGENET_STD, interpolation: str = "bicubic",
                     crop_scale: tuple[float, float] = (0.35, 1.0)) -> v2.Compose:
    """Training augmentation: random resized crop, horizontal flip, scale to [0, 1], normalise.

    ``crop_scale`` is the range of the crop's area as a fraction of the image. The default keeps at least a third of
    each image, milder than ImageNet training's (0.08, 1.0), which was made for hundreds of epochs (its measured gain
    over (0.08, 1.0) in a 3-epoch run was within noise).
    """
    return v2.Compose([
        v2.RandomResizedCrop(image_size, scale=crop_scale, interpolation=_interpolation(interpolation), antialias=True),
        v2.RandomHorizontalFlip(),
        *_to_float(mean, std),
    ])


def eval_transforms(image_size: int = 224, mean: Sequence[float] = IMAGENET_MEAN,
                    std: Sequence[float] = IMAGENET_STD, interpolation: str = "bicubic",
                    crop_pct: float = CROP_PCT) -> v2.Compose:
    """Evaluation preprocessing: resize to ``image_size / crop_pct``, centre-crop, scale, normalise; deterministic."""
    return v2.Compose([
        v2.Resize(int(image_size / crop_pct), interpolation=_interpolation(interpolation), antialias=True),
        v2.CenterCrop(image_size),
        *_to_float(mean, std),
    ])


def eval_size_for(train_size: int) -> int:
    """The evaluation side for a model fine-tuned with random resized crops of ``train_size``.

    A random resized crop enlarges part of the image to ``train_size``, so objects look bigger in training than in a
    centre-cropped test image of the same size; testing at a larger size restores their apparent size ("FixRes": Touvron
    et al., *Fixing the train-test resolution discrepancy*, NeurIPS 2019). The rule, about 1.15 times the training side
    rounded to a multiple of 32, follows the test sizes timm publishes for its models (``eval_size_for(224)`` is 256).
    """
    return max(32, round(train_size * 1.15 / 32) * 32)


def denormalize(tensor: torch.Tensor, mean: Sequence[float] = IMAGENET_MEAN,
                std: Sequence[float] = IMAGENET_STD) -> torch.Tensor:
    """Undo ``Normalize`` for plotting: ``x * std + mean``, clamped to [0, 1]; images [3, H, W] or [N, 3, H, W]."""
    mean_t = torch.as_tensor(mean, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
    std_t = torch.as_tensor(std, dtype=tensor.dtype, device=tensor.device).view(-1, 1, 1)
    return (tensor * std_t + mean_t).clamp(0, 1)


def preprocessing(backbone) -> dict:
    """``{"input_size", "mean", "std", "interpolation", "crop_pct"}`` of a card, a catalog name, or a model built by
    ``create_backbone`` (read from its ``pretrained_cfg``, which holds its card's values)."""
    cfg = backbone.pretrained_cfg if isinstance(backbone, nn.Module) else get_card(backbone).data_config()
    return {"input_size": cfg["input_size"][-1], **{k: cfg[k] for k in ("mean", "std", "interpolation", "crop_pct")}}


def image_size_for(backbone, image_size: Optional[int] = None) -> int:
    """The one input-size rule: ``image_size`` when given, else the backbone card's ``input_size``."""
    return int(image_size) if image_size else preprocessing(backbone)["input_size"]


def transforms_for(backbone, image_size: Optional[int] = None, *, train: bool = False,
                   crop_scale: tuple[float, float] = (0.35, 1.0)) -> v2.Compose:
    """``train_transforms`` or ``eval_transforms`` of ``backbone`` (a card, a catalog name or its model)."""
    config = preprocessing(backbone)
    size = image_size_for(backbone, image_size)
    if train:
        return train_transforms(size, config["mean"], config["std"], config["interpolation"], crop_scale)
    return eval_transforms(size, config["mean"], config["std"], config["interpolation"], config["crop_pct"])
