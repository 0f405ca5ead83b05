from __future__ import annotations

import functools
import re

import torch

from ..data import sample_photo
from ..evaluation import predict_topk
from ..models import create_backbone, get_card, imagenet_labels
from ._verdict import exercise


@functools.lru_cache(maxsize=8)
def _top1_labels(photo: str, normalized: bool, backbone: str) -> frozenset:
    """The first label; unnormalised, with the tensor resize of lesson 00's pipeline or the PIL one (both pass)."""
    from torchvision.transforms import v2 as T

    model, card, labels = create_backbone(backbone, progress=False).eval(), get_card(backbone), imagenet_labels()
    if normalized:
        return frozenset({predict_topk(model, sample_photo(photo), k=1)[0][0]})
    resize, found = int(card.input_size / card.crop_pct), set()
    for first in ([T.PILToTensor(), T.Resize(resize, interpolation=T.InterpolationMode.BICUBIC)],
                  [T.Resize(resize, interpolation=T.InterpolationMode.BICUBIC), T.PILToTensor()]):
        pipeline = T.Compose([*first, T.CenterCrop(card.input_size), T.ToDtype(torch.float32, scale=True)])
        with torch.inference_mode():
            found.add(labels[int(model(pipeline(sample_photo(photo)).unsqueeze(0)).argmax())])
    return frozenset(found)


@exercise("top1_label", "a string: the ImageNet label the model ranks first for the photo",
          nudge="drop only the normalisation: resize, crop and scale to [0, 1] as before, then run the model",
          method="section 5's T.Compose without its last step, on tl.sample_photo(PHOTO); unsqueeze(0) makes a "
                 "batch; argmax of the model's output is an index into tl.imagenet_labels()")
def check_top1_label(answer, photo: str = "grace_hopper", normalized: bool = False,
                     backbone: str = "efficientnet_lite0") -> bool:
    """Exercise: the ImageNet label ``backbone`` ranks first for sample ``photo``, by default *without* normalising."""
    return isinstance(answer, str) and answer.strip().lower() in {
        label.lower() for label in _top1_labels(photo, normalized, backbone)}


@exercise("cat_classes", "a list of integers: the indices of every ImageNet label containing the word 'cat'",
          nudge="the list is too short, too long or holds something that is not an index; 'cat' must be a whole word",
          method="loop over enumerate(tl.imagenet_labels()) and keep i where re.search(r'\\bcat\\b', label) matches")
def check_cat_classes(answer) -> bool:
    """Exercise: the indices of every ImageNet class whose label contains the word 'cat' (exact integers)."""
    expected = {i for i, label in enumerate(imagenet_labels()) if re.search(r"\bcat\b", label)}
    answer = list(answer)
    return all(isinstance(i, int) and not isinstance(i, bool) for i in answer) and sorted(answer) == sorted(expected)


@exercise("normalize", "a function normalize(x, mean, std) returning x normalised channel by channel",
          nudge="try it on a 3-channel image with your own mean and std: does each channel get its own values?",
          method="subtract mean and divide by std, both turned into tensors of shape (3, 1, 1) so they broadcast")
def check_normalize(answer) -> bool:
    """Exercise: ``answer(x, mean, std)`` normalises a CHW float image per channel, for any mean and std."""
    generator = torch.Generator().manual_seed(0)
    for mean, std, size in (((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), (8, 8)),
                            ((0.5, 0.1, 0.9), (0.5, 0.25, 2.0), (5, 7))):  # not ImageNet's: no hard-coding
        x = torch.rand(3, *size, generator=generator)
        expected = (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
        mine = torch.as_tensor(answer(x.clone(), mean, std))
        if mine.shape != expected.shape or not torch.allclose(mine.float(), expected, atol=1e-5):
            return False
    return True
