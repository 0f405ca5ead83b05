"""Real photos that ship with installed libraries, and ImageNet top-k prediction on them.

scikit-image and matplotlib carry a few photographs in their packages, so lesson 00 can show a
pretrained backbone at work on real images without any download.
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

__all__ = ["SAMPLE_PHOTOS", "sample_photo", "predict_topk"]

# name -> (library, what it shows). Only photos stored inside the installed packages.
SAMPLE_PHOTOS = {
    "chelsea": ("scikit-image", "a tabby cat"),
    "coffee": ("scikit-image", "a cup of coffee"),
    "rocket": ("scikit-image", "a rocket on its launch pad"),
    "astronaut": ("scikit-image", "astronaut Eileen Collins"),
    "grace_hopper": ("matplotlib", "Rear Admiral Grace Hopper in uniform"),
}


def sample_photo(name: str):
    """Return one of ``SAMPLE_PHOTOS`` as an RGB PIL image, read from the installed package.

    Raises:
        UnknownName: not one of ``SAMPLE_PHOTOS``.
    """
    from PIL import Image

    from .errors import UnknownName

    if name not in SAMPLE_PHOTOS:
        raise UnknownName("sample photo", name, SAMPLE_PHOTOS, "transfer_lessons.SAMPLE_PHOTOS")
    if SAMPLE_PHOTOS[name][0] == "matplotlib":
        import matplotlib.cbook

        with matplotlib.cbook.get_sample_data(f"{name}.jpg") as handle:
            return Image.open(handle).convert("RGB")
    from skimage import data

    return Image.fromarray(getattr(data, name)()).convert("RGB")


def predict_topk(model, image: Union["Image.Image", str, Path], k: int = 5, device=None) -> list[tuple[str, float]]:  # noqa: F821
    """ImageNet top-k of one image: ``[(label, probability), ...]``, best first.

    The image is preprocessed exactly as the model's weights expect (size, crop, interpolation,
    mean/std from its ``pretrained_cfg``): preprocessing is part of the model.

    Args:
        model: a 1000-class backbone from ``create_backbone``.
        image: a PIL image, or a path to an image file.
        k: how many classes to return.

    Raises:
        BadImage: the file cannot be decoded (the message names it).

    Example:
        >>> predict_topk(create_backbone("efficientnet_lite0"), sample_photo("chelsea"))[0][0]
        'tabby, tabby cat'

    Used in lesson 00, *A first taste*, and by ``python -m transfer_lessons predict``.
    """
    import timm.data
    import torch

    from .backbones import imagenet_labels
    from .datasets import open_rgb

    if not hasattr(image, "convert"):
        image = open_rgb(Path(image))
    config = timm.data.resolve_data_config({}, model=model)
    batch = timm.data.create_transform(**config)(image.convert("RGB")).unsqueeze(0)
    device = device or next(model.parameters()).device
    model.eval()
    with torch.inference_mode():
        probs = model(batch.to(device)).float().softmax(dim=-1)[0].cpu()
    top = probs.topk(k)
    labels = imagenet_labels()
    return [(labels[int(i)], float(p)) for p, i in zip(top.values, top.indices)]
