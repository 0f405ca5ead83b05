"""The data layer: layout checks, image checks, the decoded cache, classification loading for a backbone, real data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import write_image
from PIL import Image

from transfer_lessons.data import (
    CachedImageDataset,
    DecodedImageCache,
    _images,
    balanced_subset,
    load_classification,
    open_rgb,
    scan_image_folder,
)
from transfer_lessons.errors import BadImage, DataError, DatasetLayoutError


def _image_folder(root, per_class=3, classes=("cats", "dogs"), splits=("train", "val")):
    for split in splits:
        for index, name in enumerate(classes):
            for i in range(per_class):
                write_image(root / split / name / f"{i}.jpg", color=(40 * index, 20 * i, 90))
    return root


def test_corrupt_image_is_named(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(write_image(tmp_path / "ok.jpg").read_bytes()[:200])  # truncated JPEG
    with pytest.raises(BadImage, match=r"broken.jpg.*remove or replace it"):
        open_rgb(bad)
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(BadImage, match="text.png"):
        open_rgb(tmp_path / "text.png")


def test_tiny_image_is_refused(tmp_path):
    with pytest.raises(BadImage, match=r"tiny.png is only 5x40 pixels"):
        open_rgb(write_image(tmp_path / "tiny.png", size=(5, 40)))


@pytest.mark.parametrize("mode", ["P", "L", "RGBA", "CMYK"])
def test_modes_convert_to_rgb(tmp_path, mode):
    fmt = "gif" if mode == "P" else "tiff" if mode == "CMYK" else "png"
    image = open_rgb(write_image(tmp_path / f"x.{fmt}", mode=mode))
    assert (image.mode, image.size) == ("RGB", (40, 30))


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90°: stored landscape, shown portrait
    image.save(tmp_path / "phone.jpg", exif=exif)
    assert open_rgb(tmp_path / "phone.jpg").size == (20, 40)


def test_scan_skips_non_images_and_hidden_files(tmp_path):
    root = _image_folder(tmp_path, splits=("train",)) / "train"
    (root / "MANIFEST.sha256").write_text("x")
    (root / "cats" / "notes.txt").write_text("x")
    (root / "cats" / ".hidden.jpg").write_text("x")
    samples, classes = scan_image_folder(root)
    assert classes == ["cats", "dogs"] and len(samples) == 6
    assert [label for _, label in samples] == [0, 0, 0, 1, 1, 1]


def test_scan_layout_errors(tmp_path):
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        scan_image_folder(tmp_path / "missing")
    (tmp_path / "flat").mkdir()
    write_image(tmp_path / "flat" / "a.jpg")
    with pytest.raises(DatasetLayoutError, match=r"no class subfolders; expected .*flat/<class>/<image>.jpg"):
        scan_image_folder(tmp_path / "flat")
    root = _image_folder(tmp_path / "d", splits=("train",)) / "train"
    (root / "birds").mkdir()
    with pytest.raises(DatasetLayoutError, match=r"'birds'\) holds no images"):
        scan_image_folder(root)


def test_train_only_folder_too_small_to_split_names_the_class(tmp_path):
    root = _image_folder(tmp_path / "mine", splits=("train",))  # 3 images a class: too few to hold some out
    with pytest.raises(DatasetLayoutError, match=r"class 'cats' has only 3 images; splitting needs at least 4.*Fix:"):
        load_classification(root, image_size=32)


def test_balanced_subset_is_seeded_and_even():
    samples = [(f"a{i}", 0) for i in range(10)] + [(f"b{i}", 1) for i in range(4)]
    pick = balanced_subset(samples, 6, seed=3)
    assert pick == balanced_subset(samples, 6, seed=3) and len(pick) == 6
    assert sum(label for _, label in pick) == 3, "3 of each class expected"
    assert len(balanced_subset(samples, 12)) == 12 and balanced_subset(samples, None) == samples


def test_decoded_cache_decodes_each_file_once(tmp_path, monkeypatch):
    root = _image_folder(tmp_path, splits=("train",)) / "train"
    samples, classes = scan_image_folder(root)
    opened = []
    real_open = _images.open_rgb
    monkeypatch.setattr(_images, "open_rgb", lambda path, **kw: opened.append(path) or real_open(path, **kw))
    data = CachedImageDataset(samples, classes, transform=lambda x: x.float(), decode_size=24)
    for _ in range(3):  # three "epochs"
        batch = [data[i][0] for i in range(len(data))]
    assert len(opened) == len(samples), f"{len(opened)} decodes for {len(samples)} files"
    direct = np.array(real_open(samples[0][0]).resize((32, 24), Image.Resampling.BICUBIC))
    assert torch.equal(batch[0], torch.from_numpy(direct).permute(2, 0, 1).float())


def test_decoded_cache_persists(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFER_LESSONS_CACHE", str(tmp_path / "cache"))
    paths = [p for p, _ in scan_image_folder(_image_folder(tmp_path, splits=("train",)) / "train")[0]]
    first = DecodedImageCache(paths, 16, persist=True)
    assert first.file.is_file()
    monkeypatch.setattr(_images, "open_rgb", lambda *a, **k: pytest.fail("should load, not decode"))
    second = DecodedImageCache(paths, 16, persist=True)
    assert all(torch.equal(a, b) for a, b in zip(first.images, second.images))


def test_load_classification_own_folder(tmp_path):
    data = load_classification(_image_folder(tmp_path / "mine", per_class=4), image_size=32,
                               train_images=4, val_images=2)
    assert data.source.source == "user" and data.classes == ["cats", "dogs"]
    assert (len(data.train), len(data.val)) == (4, 2)
    image, label = data.train[0]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32 and label in (0, 1)
    with pytest.raises(DataError, match="load_detection"):
        load_classification("pennfudan")


def test_preprocessing_comes_from_the_backbone_card(tmp_path):
    root = _image_folder(tmp_path / "mine", per_class=2)
    vit = load_classification(root, backbone="vit_small_patch16_224", progress=False)
    lite = load_classification(root, backbone="efficientnet_lite1", progress=False)
    assert vit.val[0][0].shape == (3, 224, 224) and lite.val[0][0].shape == (3, 240, 240), "the card's input size"
    pixels = vit.val.cache[0].float() / 255  # ViT's card: mean = std = 0.5, so x = 2 * pixel - 1
    assert torch.allclose(vit.val[0][0].mean(), (2 * pixels - 1).mean(), atol=0.05)
    assert load_classification(root, backbone="efficientnet_lite1", image_size=96).train[0][0].shape == (3, 96, 96)


@pytest.mark.timeout(60)
def test_real_hymenoptera(shared_mirror):
    data = load_classification("hymenoptera", image_size=64)
    assert (len(data.train), len(data.val), data.classes) == (245, 153, ["ants", "bees"])
    assert data.source.source == "mirror"
    assert data.train[0][0].shape == (3, 64, 64)


def test_fraction_subset_is_balanced_seeded_and_shares_the_cache(tmp_path):
    from transfer_lessons.data import fraction_subset, make_loaders, with_transform

    data = load_classification(_image_folder(tmp_path, per_class=8), image_size=32, progress=False)
    quarter = fraction_subset(data.train, 0.25, seed=1)
    labels = [data.train.targets[i] for i in quarter.indices]
    assert len(quarter) == 4 and labels.count(0) == labels.count(1) == 2, f"labels {labels}"
    assert quarter.indices == fraction_subset(data.train, 0.25, seed=1).indices, "same seed, same subset"
    assert len(fraction_subset(data.train, 0.01)) == 2, "at least one image per class"
    with pytest.raises(ValueError, match="fraction must be in"):
        fraction_subset(data.train, 0)
    plain = with_transform(data.train, data.val.transform)
    assert plain.cache is data.train.cache and plain.transform is not data.train.transform
    assert torch.equal(plain[0][0], plain[0][0]), "the eval transform is deterministic"
    train_loader, val_loader = make_loaders(data, batch_size=4, train=quarter)
    torch.manual_seed(3)
    first = [t.tolist() for _, t in train_loader]
    torch.manual_seed(3)
    assert first == [t.tolist() for _, t in make_loaders(data, batch_size=4, train=quarter)[0]], "seeded order"
    assert sum(len(t) for t in first) == 4 and val_loader.batch_size == 8
