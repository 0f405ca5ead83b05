"""Loading detection datasets: boxes, labels and masks checked before training, in torchvision's format.

Two layouts are read: PennFudanPed (``PNGImages/X.png`` + ``PedMasks/X_mask.png`` with instance ids 1..N) or, for your
own boxes, ``images/`` plus ``boxes.csv`` with columns ``image,x1,y1,x2,y2,label`` (pixel corners; label is a class
name). Every problem is reported as a ``DataError`` naming the file and the fix.
"""

from __future__ import annotations

import copy
import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Subset
from torchvision import tv_tensors
from torchvision.ops import box_area, masks_to_boxes
from torchvision.transforms import v2

from ..assets import AssetSource, resolve_dataset
from ..errors import DataError, DatasetLayoutError
from ._classification import check_task
from ._images import open_rgb


def _check_boxes(boxes: torch.Tensor, width: int, height: int, where: str) -> None:
    bad = ((boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1]) | (boxes[:, :2] < 0).any(1)
           | (boxes[:, 2] > width) | (boxes[:, 3] > height))
    if bad.any():
        i = int(bad.nonzero()[0])
        raise DataError(f"{where}: box {i} {boxes[i].tolist()} has no area or lies outside the "
                        f"{width}x{height} image. Fix: correct or remove it.")


def _mask_records(root: Path) -> list[dict]:
    records = []
    for image_path in sorted((root / "PNGImages").glob("*.png")):
        mask_path = root / "PedMasks" / f"{image_path.stem}_mask.png"
        if not mask_path.is_file():
            raise DatasetLayoutError(f"{image_path} has no mask {mask_path}. Fix: add it or remove the image.")
        with Image.open(image_path) as image, Image.open(mask_path) as mask_image:
            size, mask = image.size, np.array(mask_image)
        if mask.shape != (size[1], size[0]):
            raise DataError(f"Mask {mask_path} is {mask.shape[1]}x{mask.shape[0]} but image {image_path} is "
                            f"{size[0]}x{size[1]}. Fix: make the mask the same size as its image.")
        ids = np.unique(mask)[1:] if mask.min() == 0 else np.unique(mask)
        if len(ids) == 0:
            raise DataError(f"Mask {mask_path} marks no objects (all pixels 0). "
                            "Fix: paint each object with its own id 1..N, or remove the image.")
        boxes = masks_to_boxes(torch.from_numpy(mask[None] == ids[:, None, None])).to(torch.float32)
        _check_boxes(boxes, size[0], size[1], f"Mask {mask_path}")
        records.append(dict(image=image_path, mask=mask_path, ids=ids, boxes=boxes,
                            labels=torch.ones(len(ids), dtype=torch.int64)))
    if not records:
        raise DatasetLayoutError(f"{root / 'PNGImages'} holds no .png images. Fix: add images and masks.")
    return records


def _csv_records(root: Path) -> tuple[list[dict], list[str]]:
    table = root / "boxes.csv"
    with open(table, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"image", "x1", "y1", "x2", "y2", "label"} <= set(rows[0]):
        raise DatasetLayoutError(f"{table} needs a header image,x1,y1,x2,y2,label and at least one row.")
    classes = ["__background__", *sorted({row["label"] for row in rows})]
    grouped = defaultdict(list)
    for row in rows:
        grouped[row["image"]].append(row)
    records = []
    for name, group in sorted(grouped.items()):
        image_path = root / "images" / name
        if not image_path.is_file():
            raise DataError(f"{table} names {image_path}, which does not exist. Fix: add it or drop its rows.")
        try:
            boxes = torch.tensor([[float(r[k]) for k in ("x1", "y1", "x2", "y2")] for r in group])
        except ValueError as err:
            raise DataError(f"{table}: a box of {name} is not numeric ({err}). Fix: correct the row.") from err
        with Image.open(image_path) as image:
            _check_boxes(boxes, image.width, image.height, f"{table} ({name})")
        labels = torch.tensor([classes.index(r["label"]) for r in group], dtype=torch.int64)
        records.append(dict(image=image_path, mask=None, ids=None, boxes=boxes, labels=labels))
    return records, classes


class DetectionDataset(Dataset):
    """Detection samples ``(image, target)`` from the PennFudanPed layout or ``images/`` + ``boxes.csv``.

    ``target`` holds ``boxes`` (float [N, 4], x1 y1 x2 y2 pixels), ``labels`` (int64 [N], 1..K), ``masks`` (uint8 [N, H,
    W], mask layout only), ``image_id``, ``area`` and ``iscrowd``. ``classes[0]`` is ``"__background__"``, so
    ``len(classes)`` is torchvision's ``num_classes``. Every file is checked when the dataset is built, so errors
    (DatasetLayoutError, DataError) appear before training starts. ``transforms``: a ``v2`` transform of
    ``(image, target)``; boxes and masks follow flips.
    """

    def __init__(self, root: Union[str, Path], transforms: Optional[Callable] = None):
        self.root, self.transforms = Path(root), transforms
        if (self.root / "boxes.csv").is_file():
            self.records, self.classes = _csv_records(self.root)
        elif (self.root / "PNGImages").is_dir() and (self.root / "PedMasks").is_dir():
            self.records, self.classes = _mask_records(self.root), ["__background__", "pedestrian"]
        else:
            raise DatasetLayoutError(f"{self.root} is not a detection dataset: expected PNGImages/ and "
                                     "PedMasks/ (PennFudanPed layout), or images/ and boxes.csv "
                                     "(columns image,x1,y1,x2,y2,label).")

    def with_transforms(self, transforms: Optional[Callable]) -> "DetectionDataset":
        """A copy sharing the checked records, with other transforms (e.g. no augmentation)."""
        other = copy.copy(self)
        other.transforms = transforms
        return other

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int):
        record = self.records[index]
        image = tv_tensors.Image(torch.from_numpy(np.array(open_rgb(record["image"]))).permute(2, 0, 1))
        target = {"boxes": tv_tensors.BoundingBoxes(record["boxes"].clone(), format="XYXY",
                                                    canvas_size=tuple(image.shape[-2:])),
                  "labels": record["labels"].clone(), "image_id": index,
                  "iscrowd": torch.zeros(len(record["labels"]), dtype=torch.int64)}
        if record["mask"] is not None:
            with Image.open(record["mask"]) as mask_image:
                masks = np.array(mask_image)[None] == record["ids"][:, None, None]  # one plane per instance id
            target["masks"] = tv_tensors.Mask(torch.from_numpy(masks).to(torch.uint8))
        if self.transforms is not None:
            image, target = self.transforms(image, target)
        target["area"] = box_area(target["boxes"])
        return image, target


def collate_detection(batch):
    """Keep images and targets as tuples: detection images differ in size, so they are not stacked."""
    return tuple(zip(*batch))


@dataclass
class DetectionData:
    """Train and test subsets of one detection dataset, its classes and where it came from."""

    train: Subset
    test: Subset
    classes: list[str]
    source: AssetSource


def load_detection(name_or_path="pennfudan", *, min_size: int = 320, train_images: Optional[int] = None,
                   test_images: Optional[int] = 50, seed: int = 0, allow_synthetic: bool = True,
                   progress: bool = True) -> DetectionData:
    """Load a detection dataset, split into train (flip-augmented) and test, float32 images in [0, 1].

    ``name_or_path``: ``"pennfudan"``, ``"synthetic_detection"`` or your own folder (either layout). ``min_size``:
    shorter image side after resizing, pixels (boxes and masks follow). ``test_images``: held out, at most half.
    Raises: DatasetLayoutError, DataError: see ``DetectionDataset``. AssetError: see ``resolve_dataset``.
    """
    check_task(name_or_path, "detection", "load_classification")
    source = resolve_dataset(name_or_path, allow_synthetic=allow_synthetic, progress=progress)
    to_float = [v2.ToDtype(torch.float32, scale=True), v2.ToPureTensor()]
    test_set = DetectionDataset(source.root, v2.Compose([v2.Resize(min_size, antialias=True), *to_float]))
    train_set = test_set.with_transforms(
        v2.Compose([v2.Resize(min_size, antialias=True), v2.RandomHorizontalFlip(), *to_float]))
    order = np.random.default_rng(seed).permutation(len(test_set)).tolist()
    held_out = min(test_images or 0, len(order) // 2)  # small sets keep half for training
    return DetectionData(train=Subset(train_set, order[held_out:][:train_images]),
                         test=Subset(test_set, order[:held_out]), classes=test_set.classes, source=source)


def make_detection_loaders(data: DetectionData, batch_size: int = 4, num_workers: int = 0, seed: int = 0):
    """Train (shuffled, seeded) and test DataLoaders over ``data``, batching with ``collate_detection``.

    Both loaders own a random generator, so iterating either never draws from torch's global one: evaluating between
    epochs leaves the training run (its flips, the RPN's sampling) unchanged.
    """
    common = dict(batch_size=batch_size, num_workers=num_workers, collate_fn=collate_detection)
    return (DataLoader(data.train, shuffle=True, generator=torch.Generator().manual_seed(seed), **common),
            DataLoader(data.test, shuffle=False, generator=torch.Generator().manual_seed(seed), **common))
