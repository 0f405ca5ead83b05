"""Tests for synthetic.py: the stand-in datasets are small, fast, identical every run, and loadable."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest
from PIL import Image

from transfer_lessons.assets import make_classification, make_detection, write_synthetic
from transfer_lessons.data import load_classification, load_detection


def _digest(root) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        digest.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.mark.timing
@pytest.mark.timeout(60)
def test_bytes_are_identical_every_run_and_fast(tmp_path):
    start = time.perf_counter()
    first = write_synthetic("synthetic_classification", tmp_path / "a")
    write_synthetic("synthetic_detection", tmp_path / "d")
    seconds = time.perf_counter() - start
    assert seconds < 3, f"generating took {seconds:.1f} s, expected < 3 s"
    assert _digest(first) == _digest(make_classification(tmp_path / "b"))
    assert _digest(tmp_path / "d") == _digest(make_detection(tmp_path / "e"))
    assert _digest(tmp_path / "d") != _digest(make_detection(tmp_path / "f", seed=1))


def test_layouts(tmp_path):
    root = make_classification(tmp_path / "c", train_per_class=2, val_per_class=1)
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png")) == [
        "train/circles/000.png", "train/circles/001.png", "train/squares/000.png", "train/squares/001.png",
        "val/circles/000.png", "val/squares/000.png"]
    det = make_detection(tmp_path / "d", images=5)
    for mask_path in sorted((det / "PedMasks").glob("*_mask.png")):
        ids = np.unique(np.array(Image.open(mask_path)))
        assert 2 <= len(ids) <= 4 and ids.tolist() == list(range(len(ids))), f"{mask_path.name}: ids {ids}"
        assert (det / "PNGImages" / mask_path.name.replace("_mask", "")).is_file()


def test_written_once_then_reused(tmp_path):
    target = write_synthetic("synthetic_detection", tmp_path / "d")
    stamp = (target / ".complete").stat().st_mtime_ns
    write_synthetic("synthetic_detection", target)
    assert (target / ".complete").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="Unknown synthetic dataset"):
        write_synthetic("synthetic_audio", tmp_path / "x")


@pytest.mark.timeout(60)
def test_loaders_read_the_synthetic_sets(isolated_assets):
    data = load_classification("synthetic_classification", image_size=64)
    assert data.classes == ["circles", "squares"] and (len(data.train), len(data.val)) == (80, 40)
    assert data.source.synthetic
    det = load_detection("synthetic_detection", min_size=96, test_images=50)
    assert (len(det.train), len(det.test)) == (15, 15), "a small set keeps half for training"
    image, target = det.train[0]
    assert min(image.shape[-2:]) == 96 and len(target["boxes"]) >= 1
