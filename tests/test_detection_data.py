"""Tests for detection_data.py: targets from masks and from boxes.csv, validation errors, real data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import write_image
from PIL import Image

from transfer_lessons.data import DetectionDataset, collate_detection, load_detection
from transfer_lessons.errors import DataError, DatasetLayoutError


def test_load_detection_refuses_a_classification_dataset():
    with pytest.raises(DataError, match="load_classification"):
        load_detection("hymenoptera")


def _detection_folder(root, mask=None, size=(40, 30)):
    write_image(root / "PNGImages" / "P1.png", size=size)
    if mask is None:
        mask = np.zeros((30, 40), np.uint8)
        mask[5:20, 3:10], mask[8:25, 20:35] = 1, 2
    (root / "PedMasks").mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask).save(root / "PedMasks" / "P1_mask.png")
    return root


def test_detection_targets_from_masks(tmp_path):
    from torchvision.transforms import v2

    dataset = DetectionDataset(_detection_folder(tmp_path))
    image, target = dataset[0]
    assert image.shape == (3, 30, 40) and target["labels"].tolist() == [1, 1]
    assert target["boxes"].tolist() == [[3, 5, 9, 19], [20, 8, 34, 24]]
    assert target["masks"].shape == (2, 30, 40) and target["masks"].dtype == torch.uint8
    assert target["area"].tolist() == [6 * 14, 14 * 16]
    flipped = dataset.with_transforms(v2.RandomHorizontalFlip(p=1.0))[0][1]
    assert flipped["boxes"].tolist() == [[31, 5, 37, 19], [6, 8, 20, 24]]
    images, targets = collate_detection([dataset[0], dataset[0]])
    assert len(images) == 2 and len(targets) == 2


def test_detection_validation_errors(tmp_path):
    with pytest.raises(DataError, match=r"P1_mask.png is 20x10 but image .*P1.png is 40x30"):
        DetectionDataset(_detection_folder(tmp_path / "a", mask=np.ones((10, 20), np.uint8)))
    with pytest.raises(DataError, match=r"P1_mask.png marks no objects"):
        DetectionDataset(_detection_folder(tmp_path / "b", mask=np.zeros((30, 40), np.uint8)))
    line = np.zeros((30, 40), np.uint8)
    line[3:9, 5] = 1  # one pixel wide: a box with no width
    with pytest.raises(DataError, match=r"P1_mask.png: box 0 .* has no area"):
        DetectionDataset(_detection_folder(tmp_path / "c", mask=line))
    with pytest.raises(DatasetLayoutError, match="PNGImages/ and PedMasks/"):
        DetectionDataset(tmp_path)


def test_detection_from_boxes_csv(tmp_path):
    write_image(tmp_path / "images" / "a.jpg", size=(50, 40))
    (tmp_path / "boxes.csv").write_text("image,x1,y1,x2,y2,label\na.jpg,1,2,20,30,cup\na.jpg,5,5,45,35,bowl\n")
    dataset = DetectionDataset(tmp_path)
    image, target = dataset[0]
    assert dataset.classes == ["__background__", "bowl", "cup"] and target["labels"].tolist() == [2, 1]
    assert "masks" not in target and target["boxes"].shape == (2, 4)
    (tmp_path / "boxes.csv").write_text("image,x1,y1,x2,y2,label\na.jpg,1,2,60,30,cup\n")
    with pytest.raises(DataError, match=r"boxes.csv \(a.jpg\): box 0 .* outside the 50x40 image"):
        DetectionDataset(tmp_path)


@pytest.mark.timeout(60)
def test_real_pennfudan(shared_mirror):
    data = load_detection("pennfudan", min_size=128, test_images=50)
    dataset = data.train.dataset
    assert len(dataset) == 170 and sum(len(r["boxes"]) for r in dataset.records) == 423
    assert (len(data.train), len(data.test), data.source.source) == (120, 50, "mirror")
    image, target = data.test[0]
    assert min(image.shape[-2:]) == 128 and target["masks"].shape[-2:] == image.shape[-2:]
