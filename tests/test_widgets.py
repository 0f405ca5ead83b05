"""Widgets degrade to plain output when headless."""

import transfer_lessons as tl
from transfer_lessons import widgets


def test_headless_prints(monkeypatch, capsys, isolated_assets):
    monkeypatch.setenv("TRANSFER_LESSONS_HEADLESS", "1")
    assert widgets.is_headless()
    assert tl.widgets.photo_picker(tl.create_backbone("efficientnet_lite0"), ["chelsea"], k=2) is None
    out = capsys.readouterr().out
    assert out.startswith("chelsea (a tabby cat):") and out.count("%") == 2


def test_interactive_builds_widget(monkeypatch, isolated_assets):
    monkeypatch.delenv("TRANSFER_LESSONS_HEADLESS", raising=False)
    assert not widgets.is_headless()
    box = tl.widgets.photo_picker(tl.create_backbone("efficientnet_lite0"), ["chelsea", "coffee"])
    dropdown = box.children[0]
    assert list(dropdown.options) == ["chelsea", "coffee"]
    dropdown.value = "coffee"  # the observer redraws without error


def _loaded_tiny_model(tmp_path):
    import torch

    from transfer_lessons.models import create_backbone
    from transfer_lessons.training import load_model, save_model

    torch.manual_seed(0)
    model = create_backbone("efficientnet_lite0", pretrained=False, num_classes=2)
    return load_model(save_model(tmp_path / "model.pt", model, backbone="efficientnet_lite0",
                                 classes=["ants", "bees"], image_size=64))


def test_upload_predictor_headless_prints_fallback_classes(monkeypatch, capsys, tmp_path):
    from PIL import Image

    monkeypatch.setenv("TRANSFER_LESSONS_HEADLESS", "1")
    loaded = _loaded_tiny_model(tmp_path)
    assert widgets.upload_predictor(loaded, fallback_image=Image.new("RGB", (80, 60), (200, 30, 60))) is None
    out = capsys.readouterr().out
    assert out.startswith("fallback image:") and "ants" in out and "bees" in out and out.count("%") == 2, out
    assert widgets.upload_predictor(loaded) is None
    assert "no fallback_image" in capsys.readouterr().out


def test_upload_predictor_interactive_predicts_an_upload(monkeypatch, capsys, tmp_path):
    import io
    from datetime import datetime, timezone

    from PIL import Image

    monkeypatch.delenv("TRANSFER_LESSONS_HEADLESS", raising=False)
    box = widgets.upload_predictor(_loaded_tiny_model(tmp_path), k=1)
    upload, now = box.children[0], datetime.now(timezone.utc)
    capsys.readouterr()  # outside a kernel, display() prints the widget's repr
    buffer = io.BytesIO()
    Image.new("RGB", (80, 60), (30, 160, 90)).save(buffer, format="PNG")
    upload.value = ({"name": "bee.png", "type": "image/png", "size": buffer.tell(), "last_modified": now,
                     "content": memoryview(buffer.getvalue())},)
    out = capsys.readouterr().out
    assert "bee.png:\n" in out and out.count("%") == 1, f"printed {out!r}"  # after clear_output's escape codes
    upload.value = ({"name": "junk.png", "type": "image/png", "size": 4, "last_modified": now,
                     "content": memoryview(b"junk")},)
    assert "Cannot read junk.png" in capsys.readouterr().out
