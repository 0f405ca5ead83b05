"""The README's code runs as written: its "first five calls" on a small folder of images."""

from __future__ import annotations

import re

import pytest
from conftest import REPO
from helpers import write_image

import transfer_lessons as tl


def _block_after(marker: str) -> str:
    text = (REPO / "README.md").read_text()
    return re.search(r"```python\n(.*?)```", text[text.index(marker):], re.S).group(1)


@pytest.mark.timeout(300)
def test_the_first_five_calls_run_as_written(tmp_path, isolated_assets, one_thread, monkeypatch):
    for split in ("train", "val"):
        for name, colour in (("red", (220, 30, 30)), ("blue", (40, 30, 200))):
            for i in range(4):
                write_image(tmp_path / "root" / split / name / f"{i}.jpg", size=(40, 40), color=colour)
    code = _block_after("the first five calls").replace("/path/to/root", str(tmp_path / "root"))
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"tl": tl})
    loaded = tl.load_model(tmp_path / "model.pt")
    assert loaded.classes == ["blue", "red"] and len(loaded.extra) == 0
    assert [c for c, _ in loaded.predict(tmp_path / "root" / "val" / "red" / "0.jpg")] in (["red", "blue"],
                                                                                          ["blue", "red"])
