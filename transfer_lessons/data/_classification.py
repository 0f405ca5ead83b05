"""Classification datasets: train and val sets of decoded, augmented images, preprocessed for one backbone."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from torch.utils.data import DataLoader, Subset

from ..assets import DATASETS, AssetSource, resolve_dataset
from ..errors import DataError
from ._images import CachedImageDataset, balanced_subset
from ._layouts import find_split
from ._transforms import image_size_for, preprocessing, transforms_for


@dataclass
class ClassificationData:
    """Train and validation Datasets of one classification dataset, and where it came from."""

    train: CachedImageDataset
    val: CachedImageDataset
    classes: list[str]
    source: AssetSource
    split: dict = field(default_factory=dict)  # how the validation images were chosen (_layouts.find_split)


def check_task(name_or_path, task: str, loader: str) -> None:
    card = DATASETS.get(name_or_path) if isinstance(name_or_path, str) else None
    if card is not None and card.task != task:
        raise DataError(f"Dataset {card.name!r} is for {card.task}, not {task}. Fix: use {loader}.")


def load_classification(data="hymenoptera", *, backbone="efficientnet_lite0", image_size: Optional[int] = None,
                        eval_size: Optional[int] = None, train_images: Optional[int] = None,
                        val_images: Optional[int] = None, val_fraction: float = 0.2,
                        crop_scale: tuple[float, float] = (0.35, 1.0), seed: int = 0, allow_synthetic: bool = True,
                        persist: bool = False, progress: bool = True) -> ClassificationData:
    """Load a classification dataset as decoded, augmented train and val Datasets, preprocessed for ``backbone``.

    ``data``: a name from ``list_datasets()``, or your own data: a folder with ``train/`` and ``val/`` (or ``valid/``,
    ``test/``), a folder of class folders, or a ``path,label`` CSV. ``image_size`` None: the card's; images are decoded
    once at ``ceil(image_size / crop_pct)``. ``eval_size`` None: ``image_size`` (see ``eval_size_for``).
    ``train_images``, ``val_images``: caps (None = all), balanced per class. ``val_fraction``: the share of each class
    held out when the data has no validation split. ``persist``: also keep the decoded tensors on disk for the next run.
    Raises: DatasetLayoutError (no images, under 2 classes, a class with under 2 images in a split), BadImage (an
    image cannot be decoded), AssetError (see ``resolve_dataset``), UnknownName (unknown backbone).
    """
    check_task(data, "classification", "load_detection")
    table = Path(str(data)).expanduser()
    if table.suffix.lower() == ".csv" and table.is_file():
        source = AssetSource(name=table.stem, root=table, source="user")
    else:
        source = resolve_dataset(data, allow_synthetic=allow_synthetic, progress=progress)
    train_samples, val_samples, classes, split = find_split(source.root, val_fraction=val_fraction, seed=seed)
    size = image_size_for(backbone, image_size)
    eval_size, crop_pct = eval_size or size, preprocessing(backbone)["crop_pct"]
    train = CachedImageDataset(balanced_subset(train_samples, train_images, seed), classes,
                               transforms_for(backbone, size, train=True, crop_scale=crop_scale),
                               decode_size=math.ceil(size / crop_pct), persist=persist)
    val = CachedImageDataset(balanced_subset(val_samples, val_images, seed), classes,
                             transforms_for(backbone, eval_size), decode_size=math.ceil(eval_size / crop_pct),
                             persist=persist)
    return ClassificationData(train=train, val=val, classes=classes, source=source, split=split)


def with_transform(dataset: CachedImageDataset, transform: Optional[Callable]) -> CachedImageDataset:
    """The same images under another transform, sharing the decoded cache (no copy, no decoding)."""
    view = copy.copy(dataset)
    view.transform = transform
    return view


def fraction_subset(dataset: CachedImageDataset, fraction: float, seed: int = 0) -> Subset:
    """A class-balanced ``fraction`` in (0, 1] of ``dataset`` (at least one image per class), fixed by ``seed``."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction_subset: fraction must be in (0, 1], got {fraction}.")
    count = max(len(dataset.classes), round(fraction * len(dataset)))
    chosen = {path for path, _ in balanced_subset(dataset.samples, count, seed)}
    return Subset(dataset, [i for i, (path, _) in enumerate(dataset.samples) if path in chosen])


def make_loaders(data: ClassificationData, batch_size: int, *, train=None,
                 num_workers: int = 0) -> tuple[DataLoader, DataLoader]:
    """Training and validation ``DataLoader``s: training shuffled, validation in order.

    The shuffle draws from torch's global random generator, which ``fit`` seeds and saves in its checkpoints: the same
    seed gives the same batches, and a resumed run sees the same batches as an uninterrupted one (a loader with its own
    generator would restart its order). ``train``: a Dataset instead of ``data.train`` (e.g. a ``fraction_subset``).
    Validation batches are twice ``batch_size`` (no gradients to store); ``num_workers`` 0 is usually fastest, as
    decoded images are cached.
    """
    return (DataLoader(data.train if train is None else train, batch_size=batch_size, shuffle=True,
                       num_workers=num_workers),
            DataLoader(data.val, batch_size=2 * batch_size, num_workers=num_workers))

