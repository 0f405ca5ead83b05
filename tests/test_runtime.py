"""Settings come from the environment at call time; seeding repeats; versions are reported."""

from pathlib import Path

import pytest
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


def test_atomic_path_replaces_only_on_success_and_leaves_no_temporary_file(tmp_path):
    from transfer_lessons.runtime import atomic_path

    target = tmp_path / "sub" / "model.pt"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        tmp.write_text("new")
    assert target.read_text() == "new"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "new" and [p.name for p in target.parent.iterdir()] == ["model.pt"]
