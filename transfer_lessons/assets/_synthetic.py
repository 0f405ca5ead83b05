"""Small generated datasets that stand in for the real ones when those cannot be had.

Both are drawn with a seeded NumPy generator (the PNG bytes are the same on every run) and written once into the cache
in the real data's layout, so one loader reads both (``resolve_dataset`` falls back to them, labelled ``synthetic``):
``synthetic_classification``, circles vs. squares in ImageFolder ``train/<class>`` and ``val/<class>``;
``synthetic_detection``, 1–3 upright figures per image in the PennFudanPed layout (see ``data/_detection.py``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image

SHAPES = ("circles", "squares")
_DONE = ".complete"  # written last: a folder without it is an interrupted run


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A smooth random colour gradient plus noise, so no two backgrounds are alike."""
    base = rng.integers(40, 200, size=3)
    ramp = np.linspace(-30, 30, width)[None, :, None] * rng.choice([-1, 1], size=3)
    noise = rng.normal(0, 12, size=(height, width, 3))
    return np.clip(base + ramp + noise, 0, 255)


def shape_image(rng: np.random.Generator, shape: str, size: int) -> np.ndarray:
    """One ``size``-px image holding a filled circle or square of random colour, place and size."""
    image = _background(rng, size, size)
    radius = rng.uniform(0.18, 0.32) * size
    cy, cx = rng.uniform(radius, size - radius, size=2)
    yy, xx = np.mgrid[:size, :size]
    if shape == "circles":
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2
    else:
        inside = (np.abs(yy - cy) <= radius * 0.85) & (np.abs(xx - cx) <= radius * 0.85)
    image[inside] = rng.integers(0, 256, size=3)
    return image.astype(np.uint8)


def make_classification(target: Union[str, Path], *, train_per_class: int = 40, val_per_class: int = 20,
                        size: int = 96, seed: int = 0) -> Path:
    """Write circles-vs-squares PNGs (``size`` px a side) as ``target/{train,val}/{circles,squares}/NNN.png``."""
    target = Path(target)
    rng = np.random.default_rng(seed)
    for split, count in (("train", train_per_class), ("val", val_per_class)):
        for shape in SHAPES:
            folder = target / split / shape
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                Image.fromarray(shape_image(rng, shape, size)).save(folder / f"{index:03d}.png")
    return target


def _figure(mask: np.ndarray, rng: np.random.Generator, left: int, right: int, ident: int) -> None:
    """Paint one pedestrian-like figure (a head on a body) with id ``ident`` into ``mask``."""
    height, _ = mask.shape
    width = int(rng.uniform(0.5, 0.9) * (right - left))
    x0 = left + int(rng.integers(0, right - left - width + 1))
    tall = int(rng.uniform(0.55, 0.85) * height)
    y0 = int(rng.integers(2, height - tall - 1))
    head = max(3, width // 3)
    yy, xx = np.mgrid[:height, :mask.shape[1]]
    cx, cy = x0 + width / 2, y0 + head
    mask[(yy - cy) ** 2 + (xx - cx) ** 2 <= head ** 2] = ident
    mask[y0 + 2 * head: y0 + tall, x0: x0 + width] = ident


def make_detection(target: Union[str, Path], *, images: int = 30, height: int = 144, width: int = 192,
                   seed: int = 0) -> Path:
    """Write images (sizes in pixels) with 1–3 figures each, plus instance masks, in the PennFudanPed layout."""
    target = Path(target)
    (target / "PNGImages").mkdir(parents=True, exist_ok=True)
    (target / "PedMasks").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(1, images + 1):
        count = int(rng.integers(1, 4))
        mask = np.zeros((height, width), dtype=np.uint8)
        slots = np.linspace(0, width, count + 1).astype(int)  # one column per figure: no overlaps
        for ident in range(1, count + 1):
            _figure(mask, rng, slots[ident - 1], slots[ident], ident)
        image = _background(rng, height, width)
        for ident in range(1, count + 1):
            image[mask == ident] = rng.integers(0, 256, size=3)
        stem = f"SynPed{index:05d}"
        Image.fromarray(image.astype(np.uint8)).save(target / "PNGImages" / f"{stem}.png")
        Image.fromarray(mask, mode="L").save(target / "PedMasks" / f"{stem}_mask.png")
    return target


def write_synthetic(name: str, target: Union[str, Path]) -> Path:
    """Generate the named synthetic dataset into ``target`` (usually ``<cache>/<name>``) once; later calls reuse it.

    Raises: ValueError: an unknown synthetic name.
    """
    makers = {"synthetic_classification": make_classification, "synthetic_detection": make_detection}
    if name not in makers:
        raise ValueError(f"Unknown synthetic dataset {name!r}; known: {sorted(makers)}.")
    target = Path(target)
    if (target / _DONE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        makers[name](staging)
        (staging / _DONE).write_text("generated by transfer_lessons.synthetic\n")
        if target.exists():  # an interrupted earlier run: replace it
            shutil.rmtree(target)
        os.replace(staging, target)  # atomic: readers see all of it or none
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
