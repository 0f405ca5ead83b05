"""Automatic checks for the lessons' exercises: each returns a verdict that reads "correct",
"not yet" (with a hint) or "not done yet", and never raises, so an unsolved exercise does
not stop a notebook. The verdict is true only when the answer is right.

Each check computes the expected answer itself from the same helpers the lesson used; no
answer is stored here. Solutions live apart, in ``notebooks/solutions/``.
"""

from __future__ import annotations

from typing import Callable

__all__ = ["check_top1_label", "check_cat_classes", "check_normalize", "CHECKS"]

CHECKS: dict[str, Callable] = {}


def _exercise(func: Callable) -> Callable:
    CHECKS[func.__name__] = func
    return func


class Verdict:
    """The outcome of a check: true when passed; shown as one line with a hint when not."""

    def __init__(self, name: str, status: str, hint: str):
        self.name, self.status, self.hint = name, status, hint

    def __bool__(self) -> Verdict:
        return self.status == "passed"

    def __repr__(self) -> str:
        if self.status == "passed":
            return f"✓ {self.name}: correct."
        what = "not done yet" if self.status == "not attempted" else "not yet"
        return f"{'…' if what == 'not done yet' else '✗'} {self.name}: {what}. Hint: {self.hint}"


def _verdict(name: str, passed: bool, hint: str, answer) -> Verdict:
    """Record the outcome (``exercise.<name>``) and return it; the notebook shows it."""
    from .report import record

    status = "not attempted" if answer is None or answer is Ellipsis else "passed" if passed else "failed"
    record(f"exercise.{name}", status, show=False)
    return Verdict(name, status, hint)


@_exercise
def check_top1_label(answer, photo: str = "coffee", backbone: str = "efficientnet_lite0") -> Verdict:
    """Exercise: the ImageNet label that ``backbone`` ranks first for sample ``photo``."""
    from .backbones import create_backbone
    from .photos import predict_topk, sample_photo

    hint = f"call predict_topk(model, sample_photo({photo!r})) and take the first label"
    passed = False
    if isinstance(answer, str):
        expected = predict_topk(create_backbone(backbone, progress=False), sample_photo(photo), k=1)[0][0]
        passed = answer.strip().lower() == expected.lower()
    return _verdict("top1_label", passed, hint, answer)


@_exercise
def check_cat_classes(answer) -> Verdict:
    """Exercise: the indices of every ImageNet class whose label contains the word 'cat'."""
    import re

    from .backbones import imagenet_labels

    hint = "loop over enumerate(imagenet_labels()) and test re.search(r'\\bcat\\b', label)"
    expected = {i for i, label in enumerate(imagenet_labels()) if re.search(r"\bcat\b", label)}
    try:
        passed = {int(i) for i in answer} == expected
    except TypeError:
        passed = False
    return _verdict("cat_classes", passed, hint, answer)


@_exercise
def check_normalize(answer) -> Verdict:
    """Exercise: a function ``f(x, mean, std)`` that normalises a CHW float image per channel."""
    import torch

    hint = "subtract mean and divide by std, with both reshaped to (3, 1, 1) to broadcast"
    passed = False
    if callable(answer):
        x = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(0))
        mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
        expected = (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
        try:
            passed = bool(torch.allclose(torch.as_tensor(answer(x, mean, std)), expected, atol=1e-5))
        except Exception:  # noqa: BLE001 - a learner's bug is a "not yet", not a crash
            passed = False
    return _verdict("normalize", passed, hint, answer)
