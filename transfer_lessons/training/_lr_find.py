"""The learning-rate range test (Smith 2017; fastai's lr_find), written as a plain loop.

Train for a few dozen batches while the learning rate grows exponentially, record the loss
after each, and read a rate off the curve where the loss falls fastest.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from ..errors import UnknownName
from ..models import BN_MODES, train_mode
from ._checkpoint import restore_rng_states, rng_states


def _cycle(loader):
    while True:
        count = 0
        for count, batch in enumerate(loader, start=1):
            yield batch
        if count == 0:
            raise ValueError("lr_find: the loader yielded no batches; give it at least one.")


def _snapshot(model) -> tuple:
    """Weights and buffers (copied to CPU, to spare GPU memory), each module's mode, the gradients."""
    state = {key: value.detach().to("cpu", copy=True) if torch.is_tensor(value) else copy.deepcopy(value)
             for key, value in model.state_dict().items()}
    return state, [m.training for m in model.modules()], [p.grad for p in model.parameters()]


def _restore(model, state: dict, modes: list, grads: list) -> None:
    model.load_state_dict(state)  # copies into the existing tensors: optimisers built on them stay valid
    for module, mode in zip(model.modules(), modes):
        module.training = mode
    for param, grad in zip(model.parameters(), grads):
        param.grad = grad


def _steepest(lrs: list, losses: list):
    n = len(losses)
    if n < 3:
        return None
    slopes = np.gradient(np.asarray(losses, dtype=float), np.log10(lrs))
    skip = max(1, n // 10)  # first tenth: the average still settles; last tenth: the loss turns up
    return float(lrs[skip + int(np.argmin(slopes[skip:n - skip]))])


def lr_find(model, loader, loss_fn, device="cpu", *, start_lr=1e-7, end_lr=1.0, num_steps=50,
            optimizer_factory=None, smoothing=0.05, diverge_factor=4.0, bn_mode="train") -> dict:
    """Train briefly at exponentially rising learning rates and record the loss at each.

    Defaults this test hides (all are arguments you can change):
        - ``num_steps=50`` optimiser steps, one batch each (the loader is cycled if shorter), at rates evenly spaced
          in log scale from 1e-7 to 1.0, on every parameter group (times its ``param_groups`` ``lr_mult``);
        - optimiser ``AdamW`` (betas 0.9/0.999, eps 1e-8) over the trainable parameters, weight decay 0: decay at
          the top rates would shrink the weights and blur the curve;
        - losses smoothed by a bias-corrected moving average; ``smoothing=0.05`` is the newest loss's weight (1: none);
        - stops early when the smoothed loss passes ``diverge_factor=4`` times its best, or a loss is NaN or inf
          (that step is neither taken nor recorded);
        - ``bn_mode="train"``: BatchNorm statistics update (then are restored); full precision, no gradient
          clipping; the model is not moved to ``device`` (the batches are);
        - afterwards (also after an exception) every module's weights, buffers, gradients and mode, and Python's,
          NumPy's and torch's random generators, are restored: a seeded run after ``lr_find`` is the same as
          without it. Nothing is written to disk.
    Args:
        optimizer_factory: ``model -> optimizer`` to use instead of AdamW, e.g.
            ``lambda m: torch.optim.AdamW(param_groups(m, 1e-3))``; its rates are overwritten.
    Returns: ``{"lrs", "losses" (smoothed), "raw_losses", "suggestion", "min_loss_lr", "stopped_early"}``:
        ``suggestion``: the rate of steepest descent, the minimum of ``numpy.gradient(losses, log10(lrs))``
        skipping the first and last tenth of the points (at least one each), None under 3 points;
        ``min_loss_lr``: the lowest smoothed loss's rate / 10 (None: no points).
    Raises: UnknownName: unknown ``bn_mode``. ValueError: an argument out of range, or an empty loader.
    """
    if bn_mode not in BN_MODES:
        raise UnknownName("bn_mode", bn_mode, BN_MODES, "lr_find's docstring")
    if not 0 < start_lr < end_lr or num_steps < 2 or not 0 < smoothing <= 1:
        raise ValueError(f"lr_find: need 0 < start_lr < end_lr, num_steps >= 2 and 0 < smoothing <= 1, got "
                         f"start_lr={start_lr}, end_lr={end_lr}, num_steps={num_steps}, smoothing={smoothing}.")
    snapshot, rng = _snapshot(model), rng_states()
    schedule = [start_lr * (end_lr / start_lr) ** (i / (num_steps - 1)) for i in range(num_steps)]
    try:
        optimizer = optimizer_factory(model) if optimizer_factory else torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad], lr=start_lr, weight_decay=0.0)
        return _sweep(model, _cycle(loader), loss_fn, torch.device(device), optimizer, schedule,
                      smoothing, diverge_factor, bn_mode)
    finally:
        _restore(model, *snapshot)
        restore_rng_states(rng)


def _sweep(model, batches, loss_fn, device, optimizer, schedule, smoothing, diverge_factor, bn_mode) -> dict:
    train_mode(model, bn_mode)
    lrs, losses, raw, average, best, stopped = [], [], [], 0.0, math.inf, False
    for step, lr in enumerate(schedule):
        for group in optimizer.param_groups:
            group["lr"] = lr * group.get("lr_mult", 1.0)
        images, targets = next(batches)
        loss = loss_fn(model(images.to(device)), targets.to(device))
        value = loss.item()
        if not math.isfinite(value):  # stop before backward: a NaN step would poison every weight
            stopped = True
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        average = (1 - smoothing) * average + smoothing * value
        smoothed = average / (1 - (1 - smoothing) ** (step + 1))  # undo the pull towards the 0 start
        lrs.append(lr)
        raw.append(value)
        losses.append(smoothed)
        best = min(best, smoothed)
        if smoothed > diverge_factor * best:
            stopped = True
            break
    return {"lrs": lrs, "losses": losses, "raw_losses": raw, "suggestion": _steepest(lrs, losses),
            "min_loss_lr": lrs[int(np.argmin(losses))] / 10 if losses else None, "stopped_early": stopped}
