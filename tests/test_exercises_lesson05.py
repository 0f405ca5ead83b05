"""Lesson 05's exercise checks: the right answers pass, and each named wrong answer gets "not yet"."""

from __future__ import annotations

import pytest
import torch

from transfer_lessons.evaluation import expected_calibration_error
from transfer_lessons.exercises import check_detector_threshold, check_ece, check_pgd_step
from transfer_lessons.exercises._lesson05 import _ece

pytestmark = pytest.mark.usefixtures("one_thread")


def _not_yet(verdict) -> bool:
    return verdict.status == "failed" and "not yet" in repr(verdict)


def _pgd_step(pixels, start, grad, eps, step_size):
    return torch.maximum(torch.minimum(pixels + step_size * grad.sign(), start + eps), start - eps).clamp(0, 1)


def test_pgd_step_check():
    assert check_pgd_step(_pgd_step)
    wrong = {"no projection": lambda p, s, g, e, k: (p + k * g.sign()).clamp(0, 1),
             "projected around the current pixels, not the clean image":
                 lambda p, s, g, e, k: torch.maximum(torch.minimum(p + k * g.sign(), p + e), p - e).clamp(0, 1),
             "not clamped to [0, 1]":
                 lambda p, s, g, e, k: torch.maximum(torch.minimum(p + k * g.sign(), s + e), s - e),
             "the raw gradient, not its sign":
                 lambda p, s, g, e, k: torch.maximum(torch.minimum(p + k * g, s + e), s - e).clamp(0, 1),
             "down the gradient (that lowers the loss)": lambda p, s, g, e, k: _pgd_step(p, s, -g, e, k),
             "a crash": lambda p, s, g, e, k: 1 / 0}
    for name, answer in wrong.items():
        assert _not_yet(check_pgd_step(answer)), name


def _ece_by_hand(confidence, correct, n_bins):
    bins = (confidence * n_bins).long().clamp(max=n_bins - 1)
    return sum((bins == k).float().mean() * (confidence[bins == k].mean() - correct[bins == k].float().mean()).abs()
               for k in range(n_bins) if (bins == k).any())


def _unweighted(confidence, correct, n_bins):
    bins = (confidence * n_bins).long().clamp(max=n_bins - 1)
    gaps = [(confidence[bins == k].mean() - correct[bins == k].float().mean()).abs() for k in bins.unique()]
    return sum(gaps) / len(gaps)


def test_ece_check():
    assert check_ece(_ece_by_hand)
    wrong = {"a number from the lesson (ece_before)": lambda c, r, n: 0.2,
             "one global gap, no bins": lambda c, r, n: (c.mean() - r.float().mean()).abs(),
             "bins not weighted by their share of the images": _unweighted,
             "counts instead of shares": lambda c, r, n: _ece_by_hand(c, r, n) * len(c),
             "always 10 bins": lambda c, r, n: _ece_by_hand(c, r, 10),
             "a confidence of 1 dropped (no clamp)":
                 lambda c, r, n: _ece_by_hand(c[c < 1], r[c < 1], n) * (c < 1).float().mean(),
             "per-bin gaps, not their sum": lambda c, r, n: torch.rand(n),
             "a crash": lambda c, r, n: 1 / 0}
    for name, answer in wrong.items():
        assert _not_yet(check_ece(answer)), name


def test_the_ece_check_agrees_with_the_lessons_helper():
    generator = torch.Generator().manual_seed(3)
    logits, targets = 3 * torch.randn(300, 2, generator=generator), torch.randint(0, 2, (300,), generator=generator)
    confidence, predicted = logits.softmax(1).max(1)
    ece = expected_calibration_error(logits, targets, n_bins=10)
    by_check = _ece(confidence, predicted == targets, 10)
    assert abs(by_check - ece) < 1e-6, (by_check, ece)


def test_detector_threshold_check():
    clean, attacked = torch.arange(20.0), torch.arange(10.0, 30.0)
    best = 18.0  # 5 % of 20 clean images = 1 may be flagged: only 19 is above 18
    assert check_detector_threshold(best, clean, attacked)
    assert check_detector_threshold(torch.tensor(best), clean, attacked), "a 0-d tensor is a number too"
    wrong = {"flags 2 clean images (10 %)": 17.0, "the 10 % threshold the lesson shows": clean.quantile(0.9).item(),
             "allowed, but catches fewer attacked images": 25.0,
             "the 5 % quantile (flags 95 % of clean)": clean.quantile(0.05).item(), "a string": "18"}
    for name, answer in wrong.items():
        assert _not_yet(check_detector_threshold(answer, clean, attacked)), name
