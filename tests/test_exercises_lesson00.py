"""Lesson 00's exercise checks: the right answers pass, and each named wrong answer gets "not yet"."""

from __future__ import annotations

import re

import pytest
import torch
from torchvision.transforms import v2 as T

import transfer_lessons as tl
from transfer_lessons.exercises import check_cat_classes, check_normalize, check_top1_label

pytestmark = pytest.mark.usefixtures("one_thread", "isolated_assets")


def _not_yet(verdict) -> bool:
    return verdict.status == "failed" and "not yet" in repr(verdict)


def test_top1_label_check():
    model = tl.create_backbone("efficientnet_lite0").eval()
    card, labels = tl.get_card("efficientnet_lite0"), tl.imagenet_labels()
    unnormalised = T.Compose([T.PILToTensor(), T.Resize(int(card.input_size / card.crop_pct),
                                                        interpolation=T.InterpolationMode.BICUBIC),
                              T.CenterCrop(card.input_size), T.ToDtype(torch.float32, scale=True)])
    with torch.inference_mode():
        ranked = model(unnormalised(tl.sample_photo("grace_hopper")).unsqueeze(0)).argsort(descending=True)[0]
    right, second = labels[int(ranked[0])], labels[int(ranked[1])]
    assert check_top1_label(right) and check_top1_label(f"  {right.upper()} ", photo="grace_hopper")
    normalised = tl.predict_topk(model, tl.sample_photo("grace_hopper"), k=1)[0][0]
    assert right != normalised, "the exercise needs a photo whose label changes without normalisation"
    assert check_top1_label(normalised, photo="grace_hopper", normalized=True)
    wrong = {"the label with normalisation, shown in the lesson's grid": normalised, "the photo's name": "grace_hopper",
             "the second-ranked label": second, "an empty string": "", "an index, not a label": int(ranked[0]),
             "the cat photo's label": "tabby, tabby cat"}
    for name, answer in wrong.items():
        assert _not_yet(check_top1_label(answer)), name


def test_cat_classes_check():
    right = [i for i, label in enumerate(tl.imagenet_labels()) if re.search(r"\bcat\b", label)]
    assert check_cat_classes(right) and check_cat_classes(right[::-1])
    wrong = {"only the five domestic cats": [281, 282, 283, 284, 285], "one index": [281],
             "one too many": right + [286], "a repeated index": right + right[:1],
             "labels, not indices": ["tabby, tabby cat", "tiger cat"], "near-miss floats": [i + 0.4 for i in right],
             "floats": [float(i) for i in right], "bools": [True] * len(right), "'cat' inside a word (catamount)":
             [i for i, label in enumerate(tl.imagenet_labels()) if "cat" in label]}
    for name, answer in wrong.items():
        assert _not_yet(check_cat_classes(answer)), name


def test_normalize_check():
    def column(values):
        return torch.tensor(values)[:, None, None]

    verdict = check_normalize(lambda x, mean, std: (x - column(mean)) / column(std))
    assert verdict and repr(verdict) == "✓ normalize: correct."
    assert tl.recording.records()["exercise.normalize"] == "passed"
    imagenet = (column((0.485, 0.456, 0.406)), column((0.229, 0.224, 0.225)))
    wrong = {"the identity": lambda x, mean, std: x,
             "ImageNet's numbers hard-coded": lambda x, mean, std: (x - imagenet[0]) / imagenet[1],
             "one mean and std for all channels":
                 lambda x, mean, std: (x - sum(mean) / 3) / (sum(std) / 3),
             "multiplied by std": lambda x, mean, std: (x - column(mean)) * column(std),
             "divided before subtracting": lambda x, mean, std: x / column(std) - column(mean),
             "over the wrong axis (H, W, 3)": lambda x, mean, std: (x - torch.tensor(mean)) / torch.tensor(std),
             "a crash": lambda x, mean, std: 1 / 0}
    for name, answer in wrong.items():
        assert _not_yet(check_normalize(answer)), name
