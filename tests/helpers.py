"""Plain helpers shared by several test files (fixtures live in conftest.py)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import timm
import torch
from matplotlib.figure import Figure
from PIL import Image
from torch import nn

FILES = {"train/a/one.txt": b"first file\n", "train/b/two.txt": b"second file\n" * 100}


def zip_bytes(members: dict) -> bytes:
    """A zip archive, in memory, holding ``members`` (name -> bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def write_tree(root: Path) -> Path:
    """Writes ``FILES`` under ``root``; returns ``root``."""
    for rel, data in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def write_image(path, size=(40, 30), mode="RGB", color=(200, 30, 60), fmt=None):
    """Saves a solid-colour image of ``size`` in ``mode`` at ``path`` (parents created); returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, color)
    image = image.convert(mode) if mode != "RGB" else image
    image.save(path, format=fmt)
    return path


def tiny_net() -> nn.Module:
    """A plain conv net with BatchNorm and Dropout (so RNG and BN handling both matter);
    it has no get_classifier(), so its head is the last nn.Linear."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(8, 2),
    )


def lite0() -> nn.Module:
    """timm's efficientnet_lite0, randomly initialised, with a 2-class head."""
    return timm.create_model("efficientnet_lite0", pretrained=False, num_classes=2)


def assert_labelled(fig, n_axes: int):
    """The figure has ``n_axes`` axes, each titled, and each visible one with a y label."""
    assert isinstance(fig, Figure), f"expected a Figure, got {type(fig).__name__}"
    assert len(fig.axes) == n_axes, f"{len(fig.axes)} axes, expected {n_axes}"
    for ax in fig.axes:
        assert ax.get_title() or fig.get_suptitle(), "an axes has no title"
        if ax.axison:
            assert ax.get_ylabel(), f"axes {ax.get_title()!r} has no y label"


def box(x, y, w=20.0, h=40.0):
    """An XYXY box with its top-left corner at (x, y)."""
    return [x, y, x + w, y + h]


def detection_scene(seed: int, images: int = 12):
    """Per image, objects and predictions that find most of them (jittered), miss some, and add false ones;
    returns ``(predictions, targets)``, seeded by ``seed``."""
    g = torch.Generator().manual_seed(seed)
    predictions, targets = [], []
    for _ in range(images):
        n = int(torch.randint(1, 5, (1,), generator=g))
        corners = torch.rand(n, 2, generator=g) * 150
        objects = torch.cat([corners, corners + 20 + torch.rand(n, 2, generator=g) * 40], 1)
        found = objects[torch.rand(n, generator=g) < 0.8]  # some missed
        jitter = found + torch.randn(found.shape, generator=g) * 6
        false = torch.rand(int(torch.randint(0, 3, (1,), generator=g)), 2, generator=g) * 150
        false = torch.cat([false, false + 30], 1)
        boxes = torch.cat([jitter, false])
        boxes = torch.cat([boxes[:, :2], torch.maximum(boxes[:, 2:], boxes[:, :2] + 1)], 1)
        scores = torch.cat([0.3 + 0.7 * torch.rand(len(jitter), generator=g),
                            0.6 * torch.rand(len(false), generator=g)])
        predictions.append({"boxes": boxes, "scores": scores, "labels": torch.ones(len(boxes), dtype=torch.int64)})
        targets.append({"boxes": objects, "labels": torch.ones(n, dtype=torch.int64)})
    return predictions, targets
