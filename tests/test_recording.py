"""Recording results in the notebook: plain values, silent by default, and claims that follow the measurement."""

import math

import numpy as np
import pytest
import torch

from transfer_lessons import recording
from transfer_lessons.recording import _record


def test_record_plain_values():
    recording.record("a", np.float32(0.5))
    recording.record("b", torch.tensor(3))
    recording.record("c", float("nan"))
    recording.record("d", {"x": (1, 2)})
    stored = recording.records()
    assert stored["a"] == 0.5 and stored["b"] == 3 and stored["c"] is None and stored["d"] == {"x": [1, 2]}
    assert type(stored["b"]) is int and type(stored["a"]) is float
    with pytest.raises(TypeError, match="record"):
        recording.record("e", object())


def test_nan_is_not_written_as_nan():
    assert _record._plain(math.inf) is None


def test_record_is_silent_and_claim_says_the_true_sentence(capsys):
    recording.record("quiet", 1)
    assert capsys.readouterr().out == "", "record prints nothing by default"
    said = recording.claim(0.9 > 0.8, "Pretraining wins.", "No clear gain.", key="wins")
    assert said == "Pretraining wins." and capsys.readouterr().out.strip() == "Pretraining wins."
    assert recording.claim(0.7 > 0.8, "Pretraining wins.", "No clear gain.", key="wins") == "No clear gain."
    assert recording.records()["claim.wins"] is False, "the branch taken is recorded"
