"""Own data in any common layout (data/_layouts.py): train/ + val/valid/test, class folders alone, a CSV;
a seeded stratified split that can be reproduced; nonsense refused early, naming the class."""

from __future__ import annotations

import pytest
from helpers import write_image

from transfer_lessons.data import load_classification
from transfer_lessons.data._layouts import find_split
from transfer_lessons.errors import DatasetLayoutError


def _folder(root, counts: dict, split=None):
    """``root[/split]/<class>/<i>.png`` with ``counts[class]`` small images each; returns ``root``."""
    for index, (name, count) in enumerate(counts.items()):
        for i in range(count):
            write_image((root / split if split else root) / name / f"{i}.png", size=(24, 20),
                        color=(60 * index, 10 * i, 90))
    return root


def test_train_with_val_valid_or_test_says_which(tmp_path):
    for folder in ("val", "valid", "test"):
        root = tmp_path / folder
        _folder(root, {"a": 3, "b": 3}, "train")
        _folder(root, {"a": 2, "b": 2}, folder)
        train, val, classes, split = find_split(root)
        assert (len(train), len(val), classes) == (6, 4, ["a", "b"])
        assert split["layout"] == f"train/ + {folder}/" and split["val_fraction"] is None


def test_class_folders_alone_are_split_stratified_and_seeded(tmp_path):
    root = _folder(tmp_path / "flat", {"cats": 10, "dogs": 20, "eels": 5})
    train, val, classes, split = find_split(root, val_fraction=0.2, seed=0)
    per_class = {name: sum(1 for _, label in val if label == index) for index, name in enumerate(classes)}
    assert per_class == {"cats": 2, "dogs": 4, "eels": 2}, "20 % of each class, at least 2"
    assert len(train) + len(val) == 35 and not {p for p, _ in train} & {p for p, _ in val}
    assert split == {**split, "layout": "class folders, split here", "val_fraction": 0.2, "seed": 0, "val_files": 8}
    again = find_split(root, val_fraction=0.2, seed=0)
    assert again[1] == val and again[3]["val_digest"] == split["val_digest"], "the same seed gives the same split"
    other = find_split(root, val_fraction=0.2, seed=1)
    assert other[1] != val and other[3]["val_digest"] != split["val_digest"]


def test_train_alone_is_split_too(tmp_path):
    root = _folder(tmp_path / "only", {"a": 10, "b": 10}, "train")
    _, val, _, split = find_split(root, val_fraction=0.3)
    assert len(val) == 6 and split["layout"] == "train/ only, split here"


def test_a_csv_of_paths_and_labels(tmp_path):
    _folder(tmp_path / "pics", {"x": 6, "y": 6})
    rows = [f"pics/{name}/{i}.png,{name}" for name in ("x", "y") for i in range(6)]
    table = tmp_path / "labels.csv"
    table.write_text("path,label\n" + "\n".join(rows) + "\n")
    train, val, classes, split = find_split(table, val_fraction=0.34)
    assert classes == ["x", "y"] and len(val) == 4 and split["layout"] == "CSV labels.csv"
    table.write_text("path,label,split\n" + "\n".join(f"{row},{'val' if row[7] in '01' else 'train'}"
                                                      for row in rows) + "\n")
    train, val, _, split = find_split(table)
    assert len(val) == 4 and split["val_fraction"] is None, "the split column decides"
    data = load_classification(table, image_size=32, progress=False)
    assert data.source.source == "user" and len(data.val) == 4 and data.split["layout"] == "CSV labels.csv"
    table.write_text("path,label\npics/x/0.png,x\nnot/there.png,y\n")
    with pytest.raises(DatasetLayoutError, match=r"labels.csv line 3: .*there.png is not an image"):
        find_split(table)


def test_nonsense_is_refused_naming_the_class(tmp_path):
    with pytest.raises(DatasetLayoutError, match=r"holds 1 class \(only\).*at least two"):
        find_split(_folder(tmp_path / "one", {"only": 10}))
    with pytest.raises(DatasetLayoutError, match=r"class 'rare' has only 3 images.*at least 4"):
        find_split(_folder(tmp_path / "rare", {"common": 10, "rare": 3}))
    root = tmp_path / "thin"
    _folder(root, {"a": 3, "b": 3}, "train")
    _folder(root, {"a": 2, "b": 1}, "val")
    with pytest.raises(DatasetLayoutError, match=r"class 'b' has 1 image\(s\) in the validation split"):
        find_split(root)
    with pytest.raises(ValueError, match="val_fraction"):
        find_split(_folder(tmp_path / "ok", {"a": 5, "b": 5}), val_fraction=1.5)
