"""Classification data as practitioners have it: which images train and which validate, in any common layout.

1. ``train/`` and ``val/`` (or ``valid/``, or ``test/``: the first found), one folder per class in each;
2. one folder of class folders, or ``train/`` alone: split here, per class (stratified), seeded;
3. a CSV file of ``path,label`` rows (paths relative to the file; an optional ``split`` column of
   ``train``/``val`` decides the split, else it is split here).

A split made here is described by ``{"layout", "val_fraction", "seed", "val_files", "val_digest"}``, which
``fine_tune`` stores in the model file: the same files, fraction and seed give the same split, and the
digest of the validation files' names confirms it. At least two classes and, in each split, two images
per class are needed; anything less is refused with the class named.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np

from ..errors import DatasetLayoutError
from ._images import IMAGE_EXTENSIONS, scan_image_folder

VAL_FOLDERS = ("val", "valid", "test")  # the validation folder beside train/, the first one found


def _csv_samples(table: Path):
    with open(table, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not {"path", "label"} <= set(rows[0]):
        raise DatasetLayoutError(f"{table} needs a header path,label (optionally ,split) and at least one row. "
                                 "Fix: one row per image, its path relative to the CSV file.")
    classes = sorted({row["label"] for row in rows})
    samples = []
    for number, row in enumerate(rows, 2):
        path = table.parent / row["path"]
        if not path.is_file() or path.suffix.lower() not in IMAGE_EXTENSIONS:
            raise DatasetLayoutError(f"{table} line {number}: {path} is not an image file. "
                                     "Fix: correct or drop the row.")
        samples.append((path, classes.index(row["label"])))
    splits = [row["split"].strip().lower() for row in rows] if "split" in rows[0] else None
    return samples, classes, splits


def _stratified(samples, val_fraction: float, seed: int, where: Path, classes):
    """Per class, a seeded ``val_fraction`` (at least 2 images) to validate, the rest (at least 2) to train."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1 (e.g. 0.2), got {val_fraction}.")
    rng, labels = np.random.default_rng(seed), np.array([label for _, label in samples])
    train, val = [], []
    for label in np.unique(labels):
        members = [samples[i] for i in rng.permutation(np.flatnonzero(labels == label))]
        take = max(2, round(val_fraction * len(members)))
        if len(members) - take < 2:
            raise DatasetLayoutError(f"{where}: class {classes[label]!r} has only {len(members)} images; splitting "
                                     "needs at least 4 (2 to train, 2 to validate). Fix: add images to it.")
        val += members[:take]
        train += members[take:]
    return sorted(train), sorted(val)


def _check(split_samples: dict, classes, where: Path) -> None:
    if len(classes) < 2:
        raise DatasetLayoutError(f"{where} holds {len(classes)} class{'' if len(classes) == 1 else 'es'} "
                                 f"({', '.join(classes) or 'none'}): a classifier needs at least two. "
                                 "Fix: add one folder per class.")
    for split, samples in split_samples.items():
        counts = np.bincount([label for _, label in samples], minlength=len(classes))
        for label in np.flatnonzero(counts < 2):
            raise DatasetLayoutError(f"{where}: class {classes[label]!r} has {counts[label]} image(s) in the {split} "
                                     "split; each needs at least 2. Fix: add images to it, or remove the class.")


def find_split(root: Path, *, val_fraction: float = 0.2, seed: int = 0):
    """``(train samples, val samples, classes, split description)`` of a dataset folder or CSV (module docstring)."""
    auto, split = None, {"layout": "", "val_fraction": None, "seed": None}  # auto: the samples to split here
    if root.is_file() and root.suffix.lower() == ".csv":
        samples, classes, splits = _csv_samples(root)
        split["layout"] = f"CSV {root.name}"
        if splits is None:
            auto = samples
        else:
            train = [s for s, name in zip(samples, splits) if name not in VAL_FOLDERS]
            val = [s for s, name in zip(samples, splits) if name in VAL_FOLDERS]
    elif (root / "train").is_dir():
        train, classes = scan_image_folder(root / "train")
        folder = next((name for name in VAL_FOLDERS if (root / name).is_dir()), None)
        if folder is None:
            auto, split["layout"] = train, "train/ only, split here"
        else:
            val, val_classes = scan_image_folder(root / folder)
            if val_classes != classes:
                raise DatasetLayoutError(f"{root}: train classes {classes} differ from {folder} classes {val_classes}. "
                                         "Fix: use the same class folders in both.")
            split["layout"] = f"train/ + {folder}/"
    else:
        (auto, classes), split["layout"] = scan_image_folder(root), "class folders, split here"
    if auto is not None:
        train, val = _stratified(auto, val_fraction, seed, root, classes)
        split.update(val_fraction=val_fraction, seed=seed)
    _check({"training": train, "validation": val}, classes, root)
    names = sorted(str(path.relative_to(root.parent if root.is_file() else root)) for path, _ in val)
    split.update(val_files=len(val), val_digest=hashlib.sha256("\n".join(names).encode()).hexdigest()[:16])
    return train, val, classes, split
