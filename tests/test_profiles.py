"""Profiles: defined once, overridable by keyword, ``auto`` resolved from the environment."""

import dataclasses

import pytest

from transfer_lessons.errors import UnknownName
from transfer_lessons.runtime import PROFILES, Profile, get_profile, resolve_profile_name


def test_three_profiles_grow():
    smoke, cpu, gpu = (PROFILES[n] for n in ("smoke", "cpu", "gpu"))
    assert smoke.train_images < 100 and smoke.epochs <= cpu.epochs <= gpu.epochs
    assert smoke.image_size < 128 and cpu.image_size is None, "cpu and gpu train at each card's input size"
    assert smoke.det_min_size < cpu.det_min_size <= gpu.det_min_size


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

    source = inspect.getsource(Profile)
    for field in dataclasses.fields(Profile):
        line = next(text for text in source.splitlines() if text.strip().startswith(f"{field.name}:"))
        assert field.name == "name" or "#" in line, f"field {field.name} has no comment giving its meaning"


def test_far_strategies_answer_the_decision_table():
    """Lesson 02's far-domain table compares the best pretrained strategy with the probe and with scratch."""
    from transfer_lessons.models import list_strategies

    for profile in PROFILES.values():
        names = profile.far_strategies or tuple(list_strategies())
        assert set(names) <= set(list_strategies()), (profile.name, names)
        assert {"scratch", "linear_probe"} <= set(names) and len(set(names) - {"scratch", "linear_probe"}) >= 1, names
    assert PROFILES["gpu"].far_strategies is None, "the full lesson runs every strategy on the far data too"
