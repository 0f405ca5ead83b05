"""Loading image datasets safely: checking folder layouts and images, decoding each image once.

Classification data is an ImageFolder tree ``<root>/{train,val}/<class>/<image>``.
Detection data (boxes and masks) is loaded by ``detection_data.py``, with ``open_rgb`` from here.
Every problem is reported as a ``DataError`` naming the file and the fix.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import DataLoader, Dataset, Subset

from . import runtime
from .assets import DATASETS, AssetSource, resolve_dataset
from .errors import BadImage, DataError, DatasetLayoutError
from .transforms import CROP_PCT, IMAGENET_MEAN, IMAGENET_STD, eval_transforms, train_transforms

__all__ = [
    "IMAGE_EXTENSIONS", "open_rgb", "scan_image_folder", "balanced_subset",
    "DecodedImageCache", "CachedImageDataset", "ClassificationData", "load_classification",
    "with_transform", "fraction_subset", "make_loaders",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff")
MIN_SIDE = 8  # pixels; smaller images are icons or broken thumbnails, not training data


def open_rgb(path: Union[str, Path], *, draft_size: Optional[int] = None) -> Image.Image:
    """Open an image fully decoded as RGB, with its EXIF orientation applied.

    Args:
        path: the image file.
        draft_size: if set, let JPEG decoding shrink by a power of two while keeping both sides
            at least this many pixels (much faster for large photos).

    Returns:
        A loaded ``PIL.Image`` in mode RGB (palette, grayscale, RGBA and CMYK are converted).

    Raises:
        BadImage: the file is unreadable, corrupt, truncated, or smaller than 8 px a side.

    Example:
        >>> open_rgb("train/ants/0013035.jpg").mode  # doctest: +SKIP
        'RGB'
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            if draft_size and image.format == "JPEG":
                image.draft("RGB", (draft_size, draft_size))
            image = ImageOps.exif_transpose(image)  # phones store portraits sideways plus a flag
            if image.mode == "P" and "transparency" in image.info:
                image = image.convert("RGBA")  # avoids Pillow's palette-transparency warning
            image = image.convert("RGB")  # forces the full decode, so truncation shows here
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise BadImage(f"Cannot read image {path}: {err}. Fix: remove or replace it.") from err
    if min(image.size) < MIN_SIDE:
        raise BadImage(f"Image {path} is only {image.width}x{image.height} pixels (minimum {MIN_SIDE}). "
                       "Fix: remove or replace it.")
    return image


def scan_image_folder(root: Union[str, Path]) -> tuple[list[tuple[Path, int]], list[str]]:
    """List ``(image path, class index)`` pairs of an ImageFolder tree ``root/<class>/<image>``.

    Files that are not images (by extension) and hidden files are skipped.

    Returns:
        ``(samples, classes)``: samples sorted by class then path; classes sorted by name.

    Raises:
        DatasetLayoutError: ``root`` is missing, has no class folders, or a class folder has no images.

    Example:
        >>> samples, classes = scan_image_folder(root / "train")  # doctest: +SKIP
    """
    root = Path(root)
    expected = f"expected {root}/<class>/<image>.jpg"
    if not root.is_dir():
        raise DatasetLayoutError(f"Image folder {root} does not exist; {expected}.")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise DatasetLayoutError(f"{root} has no class subfolders; {expected}. Fix: make one folder per class.")
    samples = []
    for index, name in enumerate(classes):
        folder = root / name
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(folder).parts))
        if not files:
            raise DatasetLayoutError(f"Class folder {folder} ({name!r}) holds no images; {expected}. "
                                     "Fix: add images to it or remove it.")
        samples += [(path, index) for path in files]
    return samples, classes


def balanced_subset(samples: Sequence[tuple[Path, int]], count: Optional[int],
                    seed: int = 0) -> list[tuple[Path, int]]:
    """Pick ``count`` samples, as evenly over the classes as they allow, the same for the same seed.

    Returns all samples when ``count`` is None or not smaller; keeps the original order.

    Example:
        >>> len(balanced_subset(samples, 16, seed=0))  # doctest: +SKIP
        16
    """
    if count is None or count >= len(samples):
        return list(samples)
    if count < 1:
        raise ValueError(f"Subset size must be at least 1, got {count}.")
    rng = np.random.default_rng(seed)
    by_class = defaultdict(list)
    for index, (_, label) in enumerate(samples):
        by_class[label].append(index)
    queues = [list(rng.permutation(by_class[label])) for label in sorted(by_class)]
    chosen = []
    while len(chosen) < count:  # round robin: one per class per turn, until count is reached
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(int(queue.pop(0)))
    return [samples[index] for index in sorted(chosen)]


def _decode(path: Path, decode_size: int) -> torch.Tensor:
    """Decode one image to uint8 CHW, resized so its shorter side is ``decode_size``."""
    image = open_rgb(path, draft_size=decode_size)
    scale = decode_size / min(image.size)
    if scale != 1:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BICUBIC)
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).contiguous()


class DecodedImageCache:
    """Decodes each image file once into a uint8 CHW tensor kept in memory (optionally on disk).

    Decoding a JPEG costs far more than augmenting a small tensor, so paying it once instead of
    every epoch makes CPU training several times faster. With ``persist=True`` the tensors are also
    saved under ``<cache>/decoded/``, keyed by the file list, sizes, mtimes and ``decode_size``.

    Example:
        >>> cache = DecodedImageCache(paths, decode_size=256); cache[0].shape  # doctest: +SKIP
        torch.Size([3, 256, 341])
    """

    def __init__(self, paths: Sequence[Union[str, Path]], decode_size: int, *, persist: bool = False):
        self.paths = [Path(p) for p in paths]
        self.decode_size = decode_size
        self.file = runtime.cache_dir() / "decoded" / f"{self.key()}.pt" if persist else None
        self.images = self._load() if self.file is not None and self.file.is_file() else None
        if self.images is None:
            self.images = [_decode(path, decode_size) for path in self.paths]
            if self.file is not None:
                self._save()

    def key(self) -> str:
        """A digest of the file list, their sizes and mtimes, and the decode size."""
        stats = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in self.paths]
        return hashlib.sha256(json.dumps([self.decode_size, stats]).encode()).hexdigest()[:24]

    def _load(self) -> Optional[list]:
        try:
            images = torch.load(self.file, map_location="cpu", weights_only=True)["images"]
        except Exception:  # a damaged cache file is only a lost speed-up: decode again
            return None
        return images if len(images) == len(self.paths) else None

    def _save(self) -> None:
        with runtime.atomic_path(self.file) as tmp:  # a reader never sees half a file
            torch.save({"images": self.images}, tmp)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index]


class CachedImageDataset(Dataset):
    """A classification Dataset over decoded images: ``(transform(uint8 CHW tensor), label)``."""

    def __init__(self, samples: Sequence[tuple[Path, int]], classes: Sequence[str],
                 transform: Optional[Callable] = None, *, decode_size: int = 256, persist: bool = False):
        self.samples, self.classes, self.transform = list(samples), list(classes), transform
        self.targets = [label for _, label in self.samples]
        self.class_to_idx = {name: index for index, name in enumerate(self.classes)}
        self.cache = DecodedImageCache([p for p, _ in self.samples], decode_size, persist=persist)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        image = self.cache[index]
        return (self.transform(image) if self.transform else image), self.targets[index]


@dataclass
class ClassificationData:
    """Train and validation Datasets of one classification dataset, and where it came from."""

    train: CachedImageDataset
    val: CachedImageDataset
    classes: list[str]
    source: AssetSource


def _check_task(name_or_path, task: str, loader: str) -> None:
    card = DATASETS.get(name_or_path) if isinstance(name_or_path, str) else None
    if card is not None and card.task != task:
        raise DataError(f"Dataset {card.name!r} is for {card.task}, not {task}. Fix: use {loader}.")


def load_classification(name_or_path="hymenoptera", *, image_size: int = 224,
                        mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                        interpolation: str = "bicubic", crop_pct: float = CROP_PCT,
                        crop_scale: tuple[float, float] = (0.35, 1.0), eval_size: Optional[int] = None,
                        train_images: Optional[int] = None,
                        val_images: Optional[int] = None, seed: int = 0, allow_synthetic: bool = True,
                        persist: bool = False, progress: bool = True) -> ClassificationData:
    """Load a classification dataset as decoded, augmented train and val Datasets.

    Args:
        name_or_path: a name from ``list_datasets()`` or your own folder with ``train/`` and ``val/``.
        image_size: square input side; images are decoded once at ``ceil(image_size / crop_pct)``.
        mean, std, interpolation, crop_pct: from the backbone's card.
        crop_scale: area range of the training set's random resized crop (see ``train_transforms``).
        eval_size: side of the validation inputs (None: ``image_size``); see ``transforms.eval_size_for``.
        train_images, val_images: caps (None = all), balanced per class, fixed by ``seed``.
        seed: which subset is drawn.
        allow_synthetic: fall back to generated shapes (with a warning) when the data can't be had.
        persist: also keep the decoded tensors on disk under the cache, for the next run.
        progress: show a progress bar if a download is needed.

    Returns:
        ``ClassificationData(train, val, classes, source)``.

    Raises:
        DatasetLayoutError: no ``train/`` or ``val/`` folder, empty class, different classes.
        BadImage: an image cannot be decoded (the message names it).
        AssetError: see ``resolve_dataset``.

    Example:
        >>> data = load_classification("hymenoptera", image_size=224, train_images=64)  # doctest: +SKIP
        >>> data.classes
        ['ants', 'bees']

    Used in lessons 01, 02, 04 and 05.
    """
    _check_task(name_or_path, "classification", "load_detection")
    source = resolve_dataset(name_or_path, allow_synthetic=allow_synthetic, progress=progress)
    layout = f"{source.root}/train/<class>/<image> and {source.root}/val/<class>/<image>"
    for split in ("train", "val"):
        if not (source.root / split).is_dir():
            raise DatasetLayoutError(f"{source.root} has no {split!r} folder; expected {layout}. "
                                     f"Fix: create {source.root / split} with one folder per class.")
    train_samples, classes = scan_image_folder(source.root / "train")
    val_samples, val_classes = scan_image_folder(source.root / "val")
    if val_classes != classes:
        raise DatasetLayoutError(f"{source.root}: train classes {classes} differ from val classes "
                                 f"{val_classes}. Fix: use the same class folders in both.")
    eval_size = eval_size or image_size
    train = CachedImageDataset(balanced_subset(train_samples, train_images, seed), classes,
                               train_transforms(image_size, mean, std, interpolation, crop_scale),
                               decode_size=math.ceil(image_size / crop_pct), persist=persist)
    val = CachedImageDataset(balanced_subset(val_samples, val_images, seed), classes,
                             eval_transforms(eval_size, mean, std, interpolation, crop_pct),
                             decode_size=math.ceil(eval_size / crop_pct), persist=persist)
    return ClassificationData(train=train, val=val, classes=classes, source=source)


def with_transform(dataset: CachedImageDataset, transform: Optional[Callable]) -> CachedImageDataset:
    """The same images under another transform, sharing the decoded cache (no copy, no decoding).

    Example:
        >>> plain = with_transform(data.train, data.val.transform)  # training images, no augmentation

    Shown in lesson 02, *Loss and augmentation*.
    """
    view = copy.copy(dataset)
    view.transform = transform
    return view


def fraction_subset(dataset: CachedImageDataset, fraction: float, seed: int = 0) -> Subset:
    """A class-balanced ``fraction`` of ``dataset`` (at least one image per class), fixed by ``seed``.

    Raises:
        ValueError: ``fraction`` is not in (0, 1].

    Example:
        >>> len(fraction_subset(data.train, 0.25))  # a quarter of the training images

    Shown in lesson 02, *Data efficiency*.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction_subset: fraction must be in (0, 1], got {fraction}.")
    count = max(len(dataset.classes), round(fraction * len(dataset)))
    chosen = {path for path, _ in balanced_subset(dataset.samples, count, seed)}
    return Subset(dataset, [i for i, (path, _) in enumerate(dataset.samples) if path in chosen])


def make_loaders(data: ClassificationData, batch_size: int, *, train=None,
                 num_workers: int = 0) -> tuple[DataLoader, DataLoader]:
    """Training and validation ``DataLoader``s: training shuffled, validation in order.

    The shuffle draws from torch's global random generator, which ``fit`` seeds and saves in
    its checkpoints: the same seed gives the same batches, and a resumed run sees the same
    batches as an uninterrupted one (a loader with its own generator would restart its order).

    Args:
        data: from ``load_classification``.
        batch_size: images per batch (validation uses twice as many: no gradients to store).
        train: a Dataset to train on instead of ``data.train`` (e.g. a ``fraction_subset``).
        num_workers: DataLoader worker processes (decoded images are cached: 0 is usually fastest).

    Returns:
        ``(train_loader, val_loader)``.

    Example:
        >>> train_loader, val_loader = make_loaders(data, batch_size=32)

    Shown in plain PyTorch in lesson 02, *The training loop*.
    """
    train_loader = DataLoader(data.train if train is None else train, batch_size=batch_size, shuffle=True,
                              num_workers=num_workers)
    val_loader = DataLoader(data.val, batch_size=2 * batch_size, num_workers=num_workers)
    return train_loader, val_loader
