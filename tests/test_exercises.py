"""Exercise checks: not done → hint, wrong → hint, right → pass; they never raise."""

import re

import torch

import transfer_lessons as tl
from transfer_lessons import exercises


def test_not_done_yet_gives_hint():
    for name, check in exercises.CHECKS.items():
        verdict = check(None)
        assert not verdict and "not done yet. Hint:" in repr(verdict), name
        assert tl.report.records()[f"exercise.{verdict.name}"] == "not attempted"


def test_wrong_answers_fail(isolated_assets):
    verdicts = [tl.check_top1_label("tabby, tabby cat", photo="coffee"), tl.check_cat_classes([281]),
                tl.check_normalize(lambda x, m, s: x),
                tl.check_normalize(lambda x, m, s: 1 / 0)]  # a bug in the answer is a "not yet"
    for verdict in verdicts:
        assert not verdict and repr(verdict).startswith("✗") and "not yet. Hint:" in repr(verdict)
    assert tl.report.records()["exercise.normalize"] == "failed"


def test_right_answers_pass(isolated_assets):
    model = tl.create_backbone("efficientnet_lite0")
    assert tl.check_top1_label(tl.predict_topk(model, tl.sample_photo("coffee"), k=1)[0][0])
    labels = tl.imagenet_labels()
    assert tl.check_cat_classes([i for i, l in enumerate(labels) if re.search(r"\bcat\b", l)])
    verdict = tl.check_normalize(lambda x, m, s: (x - torch.tensor(m)[:, None, None]) / torch.tensor(s)[:, None, None])
    assert verdict and repr(verdict) == "✓ normalize: correct."
    assert tl.report.records()["exercise.normalize"] == "passed"
