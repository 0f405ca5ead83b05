"""Exercise checks: not done → what is expected, wrong → a nudge then the method, right → pass; never raise."""

import re

import pytest
import torch

import transfer_lessons as tl
from transfer_lessons import exercises


def test_not_done_yet_says_what_is_expected():
    for name, check in exercises.CHECKS.items():
        verdict = check(None)
        assert not verdict and "not done yet. Expected:" in repr(verdict) and "Hint" not in repr(verdict), name
        assert tl.recording.records()[f"exercise.{verdict.name}"] == "not attempted"


WRONG_TYPES = ("a string", 3, 2.5, True, ["x"], {"a": 1}, object(), lambda *args: 1 / 0, torch.zeros(2))


@pytest.mark.parametrize("name", sorted(exercises.CHECKS))
def test_no_check_raises_on_an_answer_of_the_wrong_type(name, isolated_assets):
    check = exercises.CHECKS[name]
    for answer in WRONG_TYPES:
        verdict = check(answer)  # never raises, whatever the learner wrote
        assert isinstance(verdict, exercises.Verdict) and verdict.status in {"passed", "failed"}, (name, answer)
        assert not verdict, f"{name} passed the wrong answer {answer!r}"


def test_hints_come_progressively_and_never_give_the_answer(isolated_assets):
    from transfer_lessons.exercises import _verdict

    _verdict._FAILED_ATTEMPTS.pop("cat_classes", None)
    first, second = tl.exercises.check_cat_classes([281]), tl.exercises.check_cat_classes([281, 282])
    assert "whole word" in repr(first) and "enumerate" not in repr(first), "first a nudge"
    assert "enumerate" in repr(second), "then the method"
    labels = tl.imagenet_labels()
    answer = [i for i, label in enumerate(labels) if re.search(r"\bcat\b", label)]
    assert all(str(i) not in repr(first) + repr(second) for i in answer), "a hint never holds the answer"


def test_wrong_answers_fail(isolated_assets):
    verdicts = [tl.exercises.check_top1_label("tabby, tabby cat", photo="coffee"),
                tl.exercises.check_cat_classes([281]),
                tl.exercises.check_cat_classes(["tabby"]),  # names, not indices: a "not yet", not a ValueError
                tl.exercises.check_normalize(lambda x, m, s: x),
                tl.exercises.check_normalize(lambda x, m, s: 1 / 0)]  # a bug in the answer is a "not yet"
    for verdict in verdicts:
        shown = repr(verdict)
        assert not verdict and shown.startswith("✗") and "not yet." in shown and "Hint:" in shown
    assert "raised ZeroDivisionError" in repr(verdicts[-1])
    assert tl.recording.records()["exercise.normalize"] == "failed"


def test_near_misses_and_hard_coded_answers_fail(isolated_assets):
    count = tl.count_parameters(tl.create_backbone("efficientnet_lite0", pretrained=False, num_classes=2))
    assert not tl.exercises.check_trainable_count(float(count)), "the whole model is not the answer"


# Each lesson's checks (right answers, named wrong answers): tests/test_exercises_lessonNN.py.
