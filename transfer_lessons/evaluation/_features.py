"""What a frozen backbone's features are worth: extraction, linear probe, k-NN, PCA and zero-shot.

A backbone in inference mode turns each image into one pooled feature vector, extracted once per (backbone,
weights, dataset, input size, preprocessing) and kept in memory for a linear probe (logistic regression,
L-BFGS), a cosine k-NN classifier, a PCA picture and nearest-neighbour retrieval. ``zero_shot_accuracy``
trains nothing: it reads the ImageNet head's logits of the classes whose names match the dataset's.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..data import eval_transforms, image_size_for
from ..models import create_backbone, get_card, imagenet_labels
from ..runtime import pick_device

_CACHE: dict = {}


@dataclass
class FeatureSet:
    """Pooled features of one backbone on the train and val images of one dataset."""

    backbone: str  # catalog name
    pretrained: bool  # ImageNet weights (True) or random initialisation (False)
    image_size: int  # square input side the images were cropped to, pixels
    train: torch.Tensor  # [N_train, D] float32 pooled features, on the CPU
    train_labels: torch.Tensor  # [N_train] class indices
    val: torch.Tensor  # [N_val, D]
    val_labels: torch.Tensor  # [N_val]
    val_logits: torch.Tensor  # [N_val, 1000] ImageNet logits of the original head, for zero-shot
    seconds: float  # wall time of the extraction (train + val), seconds


@torch.inference_mode()
def extract_features(model: nn.Module, images: Sequence[torch.Tensor], transform, batch_size: int = 32,
                     device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled features and ImageNet logits of a timm classifier for uint8 images, in batches.

    ``model`` keeps its 1000-class head (``create_backbone(name)``) and is put in eval mode; ``images``: uint8 CHW
    tensors of any size (e.g. ``data.val.cache``); ``transform`` maps one to a float [3, S, S] tensor
    (``eval_transforms(...)``). Returns ``(features [N, D], logits [N, 1000])``, float32 on the CPU.
    """
    model.eval()  # BatchNorm uses its running statistics, Dropout is off
    model.to(memory_format=torch.channels_last)  # oneDNN's depthwise convs: ~2x faster on CPUs
    device = device or next(model.parameters()).device
    features, logits = [], []
    for start in range(0, len(images), batch_size):
        batch = torch.stack([transform(image) for image in images[start:start + batch_size]])
        batch = batch.to(device).contiguous(memory_format=torch.channels_last)
        pooled = model.forward_head(model.forward_features(batch), pre_logits=True)
        features.append(pooled.float().cpu())
        logits.append(model.get_classifier()(pooled).float().cpu())
    return torch.cat(features), torch.cat(logits)


def _data_key(data) -> str:
    paths = [str(p) for p, _ in data.train.samples] + ["|"] + [str(p) for p, _ in data.val.samples]
    return hashlib.sha256("\n".join(paths).encode()).hexdigest()[:16]


def backbone_features(name: str, data, profile, pretrained: bool = True, normalize: bool = True,
                      device=None) -> FeatureSet:
    """Extract (once, then from memory) a backbone's features on a dataset's train and val images.

    Preprocessing follows the card: resize to ``size / 0.875`` with its interpolation, centre-crop to
    ``profile.probe_image_size`` (None: the card's input size; the smoke profile's 128 px: smaller images leave
    pretrained features no better than random ones), scale to [0, 1], normalise with its mean/std. Train images
    are not augmented: features are a fixed description. ``data``: a ``ClassificationData`` (its decoded images
    are reused); ``pretrained=False``: random initialisation, seeded with 0; ``normalize=False`` skips the mean/std
    step (inputs stay in [0, 1]) — the classic bug. The same ``FeatureSet`` comes back for the same arguments while
    the process lives. Raises: UnknownName: unknown backbone; OfflineAssetMissing: weights not available offline.
    """
    card = get_card(name)
    size = image_size_for(card, profile.probe_image_size)
    key = (name, pretrained, normalize, size, str(data.source.root), _data_key(data))
    if key in _CACHE:
        return _CACHE[key]
    device = device or pick_device()
    with torch.random.fork_rng(devices=[]):  # the random-init baseline is the same network every run
        torch.manual_seed(0)
        model = create_backbone(name, pretrained=pretrained, progress=False).to(device)
    mean, std = (card.mean, card.std) if normalize else ((0.0,) * 3, (1.0,) * 3)
    transform = eval_transforms(size, mean, std, card.interpolation, card.crop_pct)
    # on a CPU, batches beyond ~16 images overflow the caches and get slower per image
    batch_size = profile.batch_size if device.type == "cuda" else min(profile.batch_size, 16)
    start = time.perf_counter()
    train, _ = extract_features(model, data.train.cache, transform, batch_size, device)
    val, val_logits = extract_features(model, data.val.cache, transform, batch_size, device)
    _CACHE[key] = FeatureSet(name, pretrained, size, train, torch.tensor(data.train.targets), val,
                             torch.tensor(data.val.targets), val_logits, time.perf_counter() - start)
    return _CACHE[key]


def clear_feature_cache() -> int:
    """Forget every cached ``FeatureSet``; returns how many there were."""
    count = len(_CACHE)
    _CACHE.clear()
    return count


@dataclass
class LinearProbe:
    """Logistic regression on standardised frozen features."""

    mean: torch.Tensor  # [D] feature means of the training set
    std: torch.Tensor  # [D] feature standard deviations of the training set
    linear: nn.Linear  # D -> number of classes

    @torch.no_grad()
    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """Class indices for ``[N, D]`` features."""
        return self.linear((features - self.mean) / self.std).argmax(dim=1)

    def accuracy(self, features: torch.Tensor, labels: torch.Tensor) -> float:
        """Fraction of ``features`` whose predicted class equals ``labels``."""
        return (self.predict(features) == labels).float().mean().item()


def fit_linear_probe(features: torch.Tensor, labels: torch.Tensor, num_classes: Optional[int] = None,
                     weight_decay: float = 1.0, max_iter: int = 200) -> LinearProbe:
    """Train a linear classifier on frozen features: full-batch L-BFGS on cross-entropy + L2.

    Features are standardised with the training set's mean and std (so a probe ignores each backbone's feature
    scale); weights start at zero, so the result is deterministic. ``weight_decay``: L2 penalty
    ``weight_decay / 2 * ||W||^2``. With a few hundred images and ~1000 features the classes are linearly separable
    and unpenalised weights would grow without bound; 1.0 is strong, and in 5-fold cross-validation on
    hymenoptera's training images 1e-3 to 10 scored the same.
    """
    if len(features) == 0 or len(features) != len(labels):
        raise ValueError(f"fit_linear_probe: {len(features)} feature rows for {len(labels)} labels.")
    features, labels = features.float(), labels.long()
    num_classes = num_classes or int(labels.max()) + 1
    mean, std = features.mean(dim=0), features.std(dim=0) + 1e-6
    x = (features - mean) / std
    linear = nn.Linear(x.shape[1], num_classes)
    nn.init.zeros_(linear.weight)
    nn.init.zeros_(linear.bias)
    optimizer = torch.optim.LBFGS(linear.parameters(), max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(linear(x), labels) + weight_decay / 2 * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return LinearProbe(mean, std, linear.requires_grad_(False))


def knn_predict(train_features: torch.Tensor, train_labels: torch.Tensor, query: torch.Tensor,
                k: int = 5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Classify ``query`` by its ``k`` most cosine-similar training features, each voting with its similarity.

    ``k`` is capped at N. Returns ``(predictions [M], similarities [M, k], neighbour indices [M, k])``, nearest first.
    """
    k = min(k, len(train_features))
    sims = F.normalize(query.float(), dim=1) @ F.normalize(train_features.float(), dim=1).T
    top_sims, top_idx = sims.topk(k, dim=1)
    votes = torch.zeros(len(query), int(train_labels.max()) + 1)
    votes.scatter_add_(1, train_labels[top_idx].long(), top_sims)
    return votes.argmax(dim=1), top_sims, top_idx


def knn_accuracy(fs: FeatureSet, k: int = 5) -> float:
    """Cosine k-NN accuracy on a ``FeatureSet``'s val features, training features as the memory."""
    predictions = knn_predict(fs.train, fs.train_labels, fs.val, k=k)[0]
    return (predictions == fs.val_labels).float().mean().item()


def pca(features: torch.Tensor, k: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Project features onto their ``k`` principal directions (SVD of the centred matrix).

    Returns ``(projected [N, k], explained variance ratio [k])``. Signs of directions are arbitrary.
    """
    centred = features.float() - features.float().mean(dim=0)
    _, singular, vh = torch.linalg.svd(centred, full_matrices=False)
    variance = singular.pow(2)
    return centred @ vh[:k].T, variance[:k] / variance.sum()


def _names(label: str) -> set[str]:
    return {part.strip().lower() for part in label.split(",")}


def imagenet_class_map(classes: Sequence[str], labels: Optional[Sequence[str]] = None) -> dict[int, list[int]]:
    """Map each dataset class to the ImageNet classes with the same name, by name only.

    A class ``ants`` matches an ImageNet label one of whose comma-separated synonyms is ``ants`` or its singular
    ``ant`` (so ``'ant, emmet, pismire'``, not ``'bee eater'``). Returns ``{dataset class index: [ImageNet indices]}``
    for the classes that matched: ``{0: [310], 1: [309]}`` for ``["ants", "bees"]``.
    """
    labels = imagenet_labels() if labels is None else labels
    found = {}
    for index, name in enumerate(classes):
        name = re.sub(r"[_-]+", " ", name.strip().lower())
        wanted = {name, name[:-1] if name.endswith("s") else name, name[:-2] if name.endswith("es") else name}
        found[index] = [i for i, label in enumerate(labels) if _names(label) & wanted]
    return {index: matches for index, matches in found.items() if matches}


def zero_shot_predict(logits: torch.Tensor, class_map: dict[int, list[int]]) -> torch.Tensor:
    """Dataset-class predictions from ImageNet logits: per class, its best matching logit; then argmax."""
    if not class_map:
        raise ValueError("zero_shot_predict: no dataset class matches an ImageNet class name.")
    order = sorted(class_map)
    scores = torch.stack([logits[:, class_map[c]].max(dim=1).values for c in order], dim=1)
    return torch.tensor(order)[scores.argmax(dim=1)]


def zero_shot_accuracy(fs: FeatureSet, classes: Sequence[str]) -> Optional[float]:
    """Accuracy of the untouched ImageNet head on the val images, through ``imagenet_class_map``.

    None when some dataset class has no ImageNet namesake (no zero-shot then).
    """
    class_map = imagenet_class_map(classes)
    if len(class_map) < len(classes):
        return None
    return (zero_shot_predict(fs.val_logits, class_map) == fs.val_labels).float().mean().item()
