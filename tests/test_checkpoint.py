"""Tests for transfer_lessons.checkpoint: atomic saves, weights-only loads, RNG states."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest
import torch

from transfer_lessons.errors import TransferLessonsError
from transfer_lessons.training import load_checkpoint, restore_rng_states, rng_states, save_checkpoint


class Arbitrary:
    """Any Python object: unpickling one can run code, so a weights-only load must refuse it."""


def test_round_trip_of_plain_state(tmp_path):
    model = torch.nn.Linear(3, 2)
    path = save_checkpoint(tmp_path / "sub" / "last.pt", model=model.state_dict(), epoch=2,
                           history={"rows": [{"epoch": 1, "val_acc": 0.5}]}, note="x", betas=(0.9, 0.999))
    state = load_checkpoint(path)
    assert state["epoch"] == 2 and state["history"]["rows"][0]["val_acc"] == 0.5 and state["note"] == "x"
    torch.testing.assert_close(state["model"]["weight"], model.weight.detach())
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"], "a temporary file was left behind"


def test_failure_mid_write_leaves_the_old_checkpoint_intact(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "last.pt", epoch=1)
    real_save = torch.save

    def save_then_fail(obj, file, *args, **kwargs):
        file.write(b"PK\x03\x04 half a checkpoint")  # some bytes reach the disk, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", save_then_fail)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, epoch=2)
    monkeypatch.setattr(torch, "save", real_save)
    assert load_checkpoint(path)["epoch"] == 1, "the old checkpoint was damaged by a failed write"
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"], "the partial temporary file was left behind"


def test_save_refuses_objects_a_weights_only_load_would_reject(tmp_path):
    with pytest.raises(TypeError, match=r"state\['extra'\]\['obj'\] holds a Arbitrary"):
        save_checkpoint(tmp_path / "bad.pt", extra={"obj": Arbitrary()})
    assert not (tmp_path / "bad.pt").exists()


@pytest.mark.parametrize("write", [
    lambda path: torch.save({"obj": Arbitrary()}, path),
    lambda path: path.write_bytes(pickle.dumps({"obj": Arbitrary()}, protocol=2)),
], ids=["torch.save", "pickle.dump"])
def test_load_refuses_pickled_objects_and_says_why(tmp_path, write):
    path = tmp_path / "evil.pt"
    write(path)
    with pytest.raises(TransferLessonsError) as info:
        load_checkpoint(path)
    message = str(info.value)
    for part in (str(path), "not a weights-only checkpoint", "run arbitrary code", "save_checkpoint"):
        assert part in message, f"{part!r} not in {message!r}"


def test_load_refuses_a_truncated_file(tmp_path):
    path = save_checkpoint(tmp_path / "last.pt", weights=torch.zeros(1000))
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(TransferLessonsError, match="not a weights-only checkpoint"):
        load_checkpoint(path)


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_checkpoint(tmp_path / "nope.pt")


def test_rng_states_survive_a_checkpoint(tmp_path):
    torch.manual_seed(1), random.seed(1), np.random.seed(1)
    path = save_checkpoint(tmp_path / "rng.pt", rng=rng_states())
    expected = (torch.rand(3), random.random(), np.random.rand())
    torch.manual_seed(2), random.seed(2), np.random.seed(2)
    restore_rng_states(load_checkpoint(path)["rng"])
    actual = (torch.rand(3), random.random(), np.random.rand())
    assert torch.equal(actual[0], expected[0]) and actual[1:] == expected[1:], f"{actual} != {expected}"
