"""Widgets degrade to plain output when headless."""

import transfer_lessons as tl
from transfer_lessons import widgets


def test_headless_prints(monkeypatch, capsys, isolated_assets):
    monkeypatch.setenv("TRANSFER_LESSONS_HEADLESS", "1")
    assert widgets.is_headless()
    assert tl.photo_picker(tl.create_backbone("efficientnet_lite0"), ["chelsea"], k=2) is None
    out = capsys.readouterr().out
    assert out.startswith("chelsea (a tabby cat):") and out.count("%") == 2


def test_interactive_builds_widget(monkeypatch, isolated_assets):
    monkeypatch.delenv("TRANSFER_LESSONS_HEADLESS", raising=False)
    assert not widgets.is_headless()
    box = tl.photo_picker(tl.create_backbone("efficientnet_lite0"), ["chelsea", "coffee"])
    dropdown = box.children[0]
    assert list(dropdown.options) == ["chelsea", "coffee"]
    dropdown.value = "coffee"  # the observer redraws without error
