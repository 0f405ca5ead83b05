"""Tests for transfer_lessons.calibration: ECE, reliability bins, temperature scaling."""

from __future__ import annotations

import math

import pytest
import torch

from transfer_lessons.evaluation import apply_temperature, expected_calibration_error, fit_temperature, reliability_bins


def _calibrated(n=20000, classes=3):
    """Logits whose softmax is the true label distribution: the labels are drawn from it."""
    generator = torch.Generator().manual_seed(0)
    logits = 2 * torch.randn(n, classes, generator=generator)
    targets = torch.multinomial(logits.softmax(1), 1, generator=generator).squeeze(1)
    return logits, targets


def test_ece_is_near_zero_when_calibrated_and_larger_when_over_confident():
    logits, targets = _calibrated()
    calibrated, over = expected_calibration_error(logits, targets), expected_calibration_error(5 * logits, targets)
    assert calibrated < 0.02, f"ECE of calibrated predictions {calibrated:.4f}, expected about 0"
    assert over > 0.1 and over > 5 * calibrated, f"ECE over-confident {over:.4f} vs calibrated {calibrated:.4f}"


def test_fit_temperature_undoes_over_confidence():
    logits, targets = _calibrated()
    over = 5 * logits
    temperature = fit_temperature(over, targets)
    assert 3 < temperature < 7, f"T={temperature:.3f}, expected about 5 (> 1 for over-confident logits)"
    before = expected_calibration_error(over, targets)
    after = expected_calibration_error(apply_temperature(over, temperature), targets)
    assert after < before / 3, f"ECE after scaling {after:.4f}, expected well below {before:.4f}"
    assert torch.equal(apply_temperature(over, temperature).argmax(1), over.argmax(1)), "scaling changed a prediction"
    with pytest.raises(ValueError, match="positive"):
        apply_temperature(over, 0.0)


def test_reliability_bins_agree_with_ece_and_leave_empty_bins_blank():
    logits, targets = _calibrated(n=2000, classes=2)
    bins = reliability_bins(5 * logits, targets, n_bins=10)
    assert sum(bins["count"]) == 2000 and len(bins["edges"]) == 11, f"counts {bins['count']}, edges {bins['edges']}"
    first = (bins["count"][0], bins["accuracy"][0])
    assert first[0] == 0 and math.isnan(first[1]), f"first bin {first}; expected (0, nan): binary confidence >= 0.5"
    ece = sum(c / 2000 * abs(a - f) for c, a, f in zip(bins["count"], bins["accuracy"], bins["confidence"]) if c)
    expected = expected_calibration_error(5 * logits, targets, n_bins=10)
    assert ece == pytest.approx(expected, abs=1e-4), f"ECE from bins {ece:.5f} != torchmetrics {expected:.5f}"
