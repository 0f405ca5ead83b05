"""Learning-rate schedules stepped once per batch: warmup then cosine, one-cycle, or constant."""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn

from ..errors import UnknownName

SCHEDULES = ("onecycle", "cosine", "constant")


def _warmup_then(step: int, *, warmup_steps: int, total_steps: int, cosine: bool) -> float:
    """The factor on the base learning rate at ``step``: linear warmup, then cosine or flat."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps  # reaches the full rate on the last warmup step
    if not cosine:
        return 1.0
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def make_scheduler(optimizer, kind: str, *, total_steps: int, warmup_steps: int = 0):
    """A learning-rate scheduler to step once per batch, for ``total_steps`` batches.

    The optimizer's groups' current ``lr`` are the peak rates.
    Args:
        kind: ``"cosine"``: linear warmup over ``warmup_steps``, then cosine decay to 0; ``"onecycle"``:
            ``OneCycleLR`` with torch's defaults (starts at lr/25, rises over ``warmup_steps`` or, when 0, the
            first 30% of steps, then cosine decay to lr/25/1e4, cycling AdamW's beta1 between 0.95 and 0.85);
            ``"constant"``: linear warmup, then flat.
        total_steps: epochs × batches per epoch.
    """
    if kind not in SCHEDULES:
        raise UnknownName("schedule", kind, SCHEDULES, "transfer_lessons.training.SCHEDULES")
    if total_steps < 1 or not 0 <= warmup_steps < total_steps:
        raise ValueError(f"make_scheduler: need total_steps >= 1 and 0 <= warmup_steps < total_steps, "
                         f"got total_steps={total_steps}, warmup_steps={warmup_steps}.")
    if kind == "onecycle":
        max_lr = [group["lr"] for group in optimizer.param_groups]
        pct_start = warmup_steps / total_steps if warmup_steps else 0.3
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr, total_steps=total_steps, pct_start=pct_start)
    factor = partial(_warmup_then, warmup_steps=warmup_steps, total_steps=total_steps, cosine=kind == "cosine")
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def preview_schedule(kind: str, *, total_steps: int, warmup_steps: int = 0, lr: float = 1e-3) -> list:
    """The learning rate ``make_scheduler`` gives at each of ``total_steps`` steps, without training."""
    optimizer = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = make_scheduler(optimizer, kind, total_steps=total_steps, warmup_steps=warmup_steps)
    lrs = []
    for _ in range(total_steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()  # no gradients, so nothing changes; it keeps the scheduler from warning
        scheduler.step()
    return lrs
