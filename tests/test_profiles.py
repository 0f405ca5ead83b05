"""Profiles: defined once, overridable by keyword, ``auto`` resolved from the environment."""

import dataclasses

import pytest

from transfer_lessons import PROFILES, Profile, get_profile
from transfer_lessons.errors import UnknownName
from transfer_lessons.profiles import resolve_profile_name


def test_three_profiles_grow():
    smoke, cpu, gpu = (PROFILES[n] for n in ("smoke", "cpu", "gpu"))
    assert smoke.train_images < 100 and smoke.epochs <= cpu.epochs <= gpu.epochs
    assert smoke.image_size < cpu.image_size and cpu.det_min_size <= gpu.det_min_size


def test_override_and_frozen():
    profile = get_profile("cpu", epochs=1)
    assert profile.epochs == 1 and PROFILES["cpu"].epochs != 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.epochs = 5
    with pytest.raises(TypeError, match="no field"):
        get_profile("cpu", epoch=1)
    assert profile.as_dict()["name"] == "cpu"


def test_auto(monkeypatch):
    import torch

    monkeypatch.delenv("TRANSFER_LESSONS_PROFILE", raising=False)
    assert resolve_profile_name("auto") == ("gpu" if torch.cuda.is_available() else "cpu")
    monkeypatch.setenv("TRANSFER_LESSONS_PROFILE", "smoke")
    assert get_profile("auto").name == "smoke"
    assert get_profile("cpu").name == "cpu"  # an explicit name wins over the environment


def test_unknown_profile():
    with pytest.raises(UnknownName, match="Did you mean 'smoke'"):
        get_profile("smoek")


def test_every_field_is_commented():
    import inspect

    from transfer_lessons import profiles

    source = inspect.getsource(profiles.Profile)
    for field in dataclasses.fields(Profile):
        line = next(l for l in source.splitlines() if l.strip().startswith(f"{field.name}:"))
        assert field.name == "name" or "#" in line, f"field {field.name} has no comment giving its meaning"
