"""Exercise checks: not done → hint, wrong → hint, right → pass; they never raise."""

import re

import torch

import transfer_lessons as tl
from transfer_lessons import exercises


def test_not_done_yet_prints_hint(capsys):
    for check in exercises.CHECKS.values():
        assert check(None) is False
    out = capsys.readouterr().out
    assert out.count("not done yet") == len(exercises.CHECKS) and "Hint" in out


def test_wrong_answers_fail(capsys, isolated_assets):
    assert not tl.check_top1_label("tabby, tabby cat", photo="coffee")
    assert not tl.check_cat_classes([281])
    assert not tl.check_normalize(lambda x, m, s: x)
    assert not tl.check_normalize(lambda x, m, s: 1 / 0)  # a bug in the answer is a "not yet"
    assert capsys.readouterr().out.count("not yet") == 4


def test_right_answers_pass(isolated_assets):
    model = tl.create_backbone("efficientnet_lite0")
    assert tl.check_top1_label(tl.predict_topk(model, tl.sample_photo("coffee"), k=1)[0][0])
    labels = tl.imagenet_labels()
    assert tl.check_cat_classes([i for i, l in enumerate(labels) if re.search(r"\bcat\b", l)])
    assert tl.check_normalize(lambda x, m, s: (x - torch.tensor(m)[:, None, None]) / torch.tensor(s)[:, None, None])
    assert tl.report.records()["exercise.normalize"] == "passed"
