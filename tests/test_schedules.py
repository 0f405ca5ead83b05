"""Tests for transfer_lessons.schedules: warmup, cosine, one-cycle and constant rates."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from transfer_lessons.errors import UnknownName
from transfer_lessons.training import make_scheduler, preview_schedule


def test_schedules_warm_up_then_decay():
    lr = 1e-3
    cosine = preview_schedule("cosine", total_steps=100, warmup_steps=10, lr=lr)
    assert all(a < b for a, b in zip(cosine[:10], cosine[1:10])), f"warmup not rising: {cosine[:10]}"
    assert cosine[9] == pytest.approx(lr) and cosine[-1] < 0.01 * lr, f"peak {cosine[9]}, end {cosine[-1]}"
    onecycle = preview_schedule("onecycle", total_steps=100, lr=lr)
    assert onecycle[0] == pytest.approx(lr / 25) and max(onecycle) == pytest.approx(lr, rel=1e-3)
    assert onecycle.index(max(onecycle)) in range(28, 32) and onecycle[-1] < 0.01 * lr
    constant = preview_schedule("constant", total_steps=20, warmup_steps=5, lr=lr)
    assert constant[0] == pytest.approx(lr / 5) and constant[5:] == [pytest.approx(lr)] * 15
    with pytest.raises(UnknownName, match="Did you mean 'cosine'"):
        preview_schedule("cosin", total_steps=10)
    with pytest.raises(ValueError, match="warmup_steps"):
        preview_schedule("cosine", total_steps=10, warmup_steps=10)


def test_scheduler_keeps_the_ratio_between_groups():
    head, body = nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([{"params": [body], "lr": 1e-4}, {"params": [head], "lr": 1e-3}])
    scheduler = make_scheduler(optimizer, "cosine", total_steps=10, warmup_steps=2)
    for _ in range(5):
        optimizer.step()
        scheduler.step()
        low, high = (group["lr"] for group in optimizer.param_groups)
        assert high == pytest.approx(10 * low), f"head/backbone ratio {high / low}, expected 10"
