"""Reading images safely and decoding each one once: image folders, subsets, the decoded-image cache.

Every problem is reported as a ``DataError`` naming the file and the fix. Decoding a JPEG costs far more than augmenting
a small tensor, so ``CachedImageDataset`` decodes each file once; ``DecodingImageDataset`` decodes at every access, as
``torchvision.datasets.ImageFolder`` does (lesson 04 measures the difference).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset

from ..errors import BadImage, DatasetLayoutError
from ..runtime import atomic_path, cache_dir

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff")

MIN_SIDE = 8  # pixels; smaller images are icons or broken thumbnails, not training data


def open_rgb(path: Union[str, Path], *, draft_size: Optional[int] = None) -> Image.Image:
    """Open an image fully decoded as RGB, with its EXIF orientation applied; BadImage if unreadable or tiny.

    ``draft_size``: let JPEG decoding shrink by a power of two while keeping both sides at least this many pixels (much
    faster for large photos).
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
    """``(samples, classes)`` of an ImageFolder tree ``root/<class>/<image>``: ``(path, class index)`` pairs, sorted.

    Hidden files and files without an image extension are skipped.
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
    """Pick ``count`` samples (None: all), as evenly over the classes as they allow, in their order, fixed by seed."""
    if count is None or count >= len(samples):
        return list(samples)
    if count < 1:
        raise ValueError(f"Subset size must be at least 1, got {count}.")
    rng = np.random.default_rng(seed)
    labels = np.array([label for _, label in samples])
    queues = [rng.permutation(np.flatnonzero(labels == label)).tolist() for label in np.unique(labels)]
    turns = itertools.zip_longest(*queues)  # round robin: one per class per turn, until count is reached
    chosen = [index for turn in turns for index in turn if index is not None][:count]
    return [samples[index] for index in sorted(chosen)]


def _decode(path: Path, decode_size: int) -> torch.Tensor:
    image = open_rgb(path, draft_size=decode_size)
    scale = decode_size / min(image.size)
    if scale != 1:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BICUBIC)
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).contiguous()


class DecodedImageCache:
    """Decodes each image file once into a uint8 CHW tensor kept in memory (optionally on disk).

    Paying the decode once instead of every epoch makes CPU training several times faster. With ``persist=True`` the
    tensors are also saved under ``<cache>/decoded/``, keyed by the file list, sizes, mtimes and ``decode_size``.
    """

    def __init__(self, paths: Sequence[Union[str, Path]], decode_size: int, *, persist: bool = False):
        self.paths = [Path(p) for p in paths]
        self.decode_size = decode_size
        self.file = cache_dir() / "decoded" / f"{self.key()}.pt" if persist else None
        self.images = self._load() if self.file is not None and self.file.is_file() else None
        if self.images is None:
            self.images = [_decode(path, decode_size) for path in self.paths]
            if self.file is not None:
                with atomic_path(self.file) as tmp:  # a reader never sees half a file
                    torch.save({"images": self.images}, tmp)

    def key(self) -> str:
        stats = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in self.paths]
        return hashlib.sha256(json.dumps([self.decode_size, stats]).encode()).hexdigest()[:24]

    def _load(self) -> Optional[list]:
        try:
            images = torch.load(self.file, map_location="cpu", weights_only=True)["images"]
        except Exception:  # a damaged cache file is only a lost speed-up: decode again
            return None
        return images if len(images) == len(self.paths) else None

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


class DecodingImageDataset(Dataset):
    """The images and transform of a ``CachedImageDataset``, decoded from the file at every access."""

    def __init__(self, dataset: CachedImageDataset):
        self.samples, self.transform, self.classes = dataset.samples, dataset.transform, dataset.classes

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        image = torch.from_numpy(np.array(open_rgb(path))).permute(2, 0, 1).contiguous()
        return (self.transform(image) if self.transform else image), label

