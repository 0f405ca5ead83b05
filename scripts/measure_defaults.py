"""Measure candidate one-call defaults of ``fine_tune`` on three datasets far apart (issue: "a default that holds").

    python scripts/measure_defaults.py --data ../shared/data --out reports/defaults.json [--recipes full_160_6 ...]

Datasets: hymenoptera (ImageNet-like photos), pbc_blood_cells (microscopy, far from ImageNet) and a generated
one, ``glyphs``: 10 classes of digits drawn in the fonts matplotlib ships, at random sizes, angles and
colours on noisy backgrounds (1,000 small images, like the 10-class set on which the old default fell
from 0.62 to 0.48). Each recipe runs through the one call a practitioner makes, ``tl.fine_tune``, on the
cpu profile; the table gives the kept (best) epoch's validation accuracy, every epoch's, and the seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

import transfer_lessons as tl
from transfer_lessons.models import Strategy

# name -> fine_tune keywords
RECIPES = {
    "discriminative_224_2": dict(strategy="discriminative", epochs=2, image_size=224),  # the old default (cpu)
    "full_224_3": dict(strategy="full", epochs=3, image_size=224),
    "full_192_3": dict(strategy="full", epochs=3, image_size=192),  # the default (cpu profile)
    "full_192_4": dict(strategy="full", epochs=4, image_size=192),
    "full_160_6": dict(strategy="full", epochs=6, image_size=160),
    "full_160_5": dict(strategy="full", epochs=5, image_size=160),
    "linear_probe_224_3": dict(strategy="linear_probe", epochs=3, image_size=224),
    "full_lr1e-4_160_6": dict(strategy="full", epochs=6, image_size=160, lr=1e-4),
    "full_lr1e-4_192_5": dict(strategy="full", epochs=5, image_size=192, lr=1e-4),
    "layerwise_160_6": dict(strategy=Strategy("layerwise", "every layer trains, each earlier stage at 0.7 of the rate "
                                                           "of the next", layer_decay=0.7), epochs=6, image_size=160),
}


def make_glyphs(root: Path, per_class: int = 100, size: int = 64, seed: int = 0) -> Path:
    """Digits 0-9 in matplotlib's fonts, 80 % train / 20 % val, as ImageFolder ``root/{train,val}/<digit>/``."""
    rng = np.random.default_rng(seed)
    fonts = sorted((Path(matplotlib.get_data_path()) / "fonts" / "ttf").glob("DejaVu*.ttf"))
    for digit in range(10):
        for index in range(per_class):
            split = "train" if index < 0.8 * per_class else "val"
            background = rng.integers(0, 256, 3)
            pixels = np.clip(background + rng.normal(0, 25, (size, size, 3)), 0, 255).astype(np.uint8)
            image = Image.fromarray(pixels)
            font = ImageFont.truetype(str(fonts[rng.integers(len(fonts))]), int(rng.integers(size // 2, size - 8)))
            ink = tuple(int(c) for c in (255 - background + rng.integers(-60, 60, 3)) % 256)
            layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
            ImageDraw.Draw(layer).text((size / 2 + rng.integers(-6, 7), size / 2 + rng.integers(-6, 7)), str(digit),
                                       font=font, fill=ink + (255,), anchor="mm")
            rotated = layer.rotate(float(rng.uniform(-30, 30)))
            image.paste(rotated, (0, 0), rotated)
            target = root / split / str(digit) / f"{index:03d}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            image.save(target)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="../shared/data", help="the folder holding the real datasets")
    parser.add_argument("--out", default="reports/defaults.json")
    parser.add_argument("--recipes", nargs="*", default=list(RECIPES))
    parser.add_argument("--datasets", nargs="*", default=["hymenoptera", "pbc_blood_cells", "glyphs"])
    args = parser.parse_args()
    os.environ["TRANSFER_LESSONS_DATA"] = str(Path(args.data).resolve())
    glyphs = make_glyphs(Path(tempfile.mkdtemp(prefix="glyphs-")))
    results = json.loads(Path(args.out).read_text()) if Path(args.out).is_file() else {}
    for dataset in args.datasets:
        for recipe in args.recipes:
            start = time.perf_counter()
            result = tl.fine_tune(str(glyphs) if dataset == "glyphs" else dataset, profile="cpu", progress=False,
                                  **RECIPES[recipe])
            per_epoch = [round(row["val_acc"], 4) for row in result.history]
            row = {"kept": result.val_acc, "kept_epoch": result.history.kept_epoch,
                   "seconds": time.perf_counter() - start, "per_epoch": per_epoch}
            results[f"{dataset}/{recipe}"] = row
            print(f"{dataset:<16} {recipe:<22} kept {row['kept']:.3f} (epoch {row['kept_epoch']}) "
                  f"{row['seconds']:6.0f} s  per epoch {row['per_epoch']}", flush=True)
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
