"""Settings come from the environment at call time; seeding repeats; versions are reported."""

from pathlib import Path

import torch

from transfer_lessons import runtime


def test_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("TRANSFER_LESSONS_DATA", str(tmp_path))
    monkeypatch.setenv("TRANSFER_LESSONS_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("TRANSFER_LESSONS_OFFLINE", "1")
    assert runtime.mirror_dir() == tmp_path and runtime.cache_dir() == tmp_path / "c" and runtime.is_offline()
    monkeypatch.delenv("TRANSFER_LESSONS_DATA")
    monkeypatch.delenv("TRANSFER_LESSONS_CACHE")
    monkeypatch.setenv("TRANSFER_LESSONS_OFFLINE", "0")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert runtime.mirror_dir() is None and not runtime.is_offline()
    assert runtime.cache_dir() == Path(tmp_path / "xdg" / "transfer_lessons")


def test_seed_repeats():
    runtime.seed_everything(3)
    a = torch.rand(3)
    runtime.seed_everything(3)
    assert torch.equal(a, torch.rand(3))


def test_device_and_versions():
    assert runtime.pick_device("cpu").type == "cpu"
    assert runtime.pick_device().type in {"cpu", "cuda", "mps"}
    v = runtime.versions()
    assert v["torch"] == torch.__version__.split("+")[0] or v["torch"].startswith(torch.__version__[:4])
    assert set(v) >= {"python", "torch", "torchvision", "timm"}
