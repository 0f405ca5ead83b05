"""Tests for transfer_lessons.lr_finder: the schedule, the suggestion, early stops, and no trace left."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from helpers import tiny_net
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from transfer_lessons.errors import UnknownName
from transfer_lessons.training import lr_find

pytestmark = pytest.mark.usefixtures("one_thread")


def linear_problem(n: int = 64, features: int = 10, batch_size: int = 16):
    """Two classes split by the sign of the first feature: a linear model learns it fast."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, features, generator=g)
    return DataLoader(TensorDataset(x, (x[:, 0] > 0).long()), batch_size=batch_size, shuffle=True)


def image_batches(n: int = 2, size: int = 16):
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(8, 3, size, size, generator=g), torch.arange(8) % 2) for _ in range(n)]


def state_equal(a: dict, b: dict) -> list:
    """Names of the entries that differ between two state dicts."""
    return [k for k in a if not torch.equal(a[k], b[k])]


@pytest.mark.timeout(60)
def test_lrs_rise_geometrically_from_start_to_end():
    torch.manual_seed(0)
    result = lr_find(nn.Linear(10, 2), linear_problem(), nn.CrossEntropyLoss(), start_lr=1e-4, end_lr=1e-1,
                     num_steps=10, diverge_factor=math.inf)
    lrs = result["lrs"]
    assert len(lrs) == 10 and not result["stopped_early"], f"{len(lrs)} steps, stopped {result['stopped_early']}"
    assert lrs[0] == pytest.approx(1e-4) and lrs[-1] == pytest.approx(1e-1), f"range {lrs[0]}..{lrs[-1]}"
    ratios = [b / a for a, b in zip(lrs, lrs[1:])]
    assert ratios == pytest.approx([10 ** (3 / 9)] * 9), f"ratios {ratios}, expected a constant 10**(1/3)"
    assert len(result["raw_losses"]) == len(result["losses"]) == 10


@pytest.mark.timeout(60)
def test_model_gradients_modes_and_rng_are_left_as_found():
    torch.manual_seed(0)
    model = tiny_net().eval()
    model[-1].train()  # a mixed state must come back mixed, not all-eval
    model[0].weight.grad = torch.ones_like(model[0].weight)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    grad = model[0].weight.grad
    seen = []

    def loss_fn(logits, targets):
        seen.append(model[0].weight.detach().clone())
        return nn.functional.cross_entropy(logits, targets)

    torch.manual_seed(123), random.seed(123), np.random.seed(123)
    rng = torch.get_rng_state(), random.getstate(), np.random.get_state()[1].copy()
    lr_find(model, image_batches(), loss_fn, num_steps=6, start_lr=1e-3, end_lr=1e-1)
    assert not torch.equal(seen[-1], before["0.weight"]), "the sweep never changed the weights; the test proves nothing"
    assert not state_equal(before, model.state_dict()), f"changed: {state_equal(before, model.state_dict())}"
    assert [m.training for m in model.modules()] == modes, "train/eval modes were not restored"
    assert model[0].weight.grad is grad and model[1].weight.grad is None, "gradients were not restored"
    assert torch.equal(torch.get_rng_state(), rng[0]), "torch's RNG state changed"
    assert random.getstate() == rng[1] and np.array_equal(np.random.get_state()[1], rng[2]), "Python/NumPy RNG changed"
    after = torch.rand(3)
    torch.manual_seed(123)
    assert torch.equal(after, torch.rand(3)), "a seeded draw after lr_find differs from one without it"


@pytest.mark.timeout(60)
def test_model_is_restored_after_an_exception():
    torch.manual_seed(0)
    model = tiny_net().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    calls = []

    def failing_loss(logits, targets):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return nn.functional.cross_entropy(logits, targets)

    with pytest.raises(RuntimeError, match="boom"):
        lr_find(model, image_batches(), failing_loss, num_steps=5, start_lr=1e-2, end_lr=1.0)
    assert not state_equal(before, model.state_dict()), f"changed: {state_equal(before, model.state_dict())}"
    assert not model.training, "the model was left in training mode"


@pytest.mark.timeout(60)
def test_loss_falls_and_suggestion_lies_inside_the_range():
    torch.manual_seed(0)
    result = lr_find(nn.Linear(10, 2), linear_problem(), nn.CrossEntropyLoss(), start_lr=1e-5, end_lr=1e3,
                     num_steps=60)
    lrs, losses = result["lrs"], result["losses"]
    lowest = int(np.argmin(losses))
    assert losses[lowest] < 0.7 * losses[0], f"smoothed loss went {losses[0]:.3f} -> min {losses[lowest]:.3f}"
    assert losses[-1] > losses[lowest], f"the loss never turned up again after its minimum at {lrs[lowest]:.3g}"
    assert 1e-5 < result["suggestion"] < 1e3, f"suggestion {result['suggestion']} outside [1e-5, 1e3]"
    suggestion = result["suggestion"]
    assert suggestion < lrs[lowest], f"suggestion {suggestion:.3g} not before the minimum at {lrs[lowest]:.3g}"
    assert result["min_loss_lr"] == pytest.approx(lrs[lowest] / 10)


@pytest.mark.timeout(60)
def test_divergence_stops_early():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 4, generator=g)
    batches = [(x, x @ torch.tensor([1.0, -2.0, 0.5, 3.0]))]
    model = nn.Linear(4, 1)
    result = lr_find(model, batches, lambda out, y: nn.functional.mse_loss(out.squeeze(1), y),
                     optimizer_factory=lambda m: torch.optim.SGD(m.parameters(), lr=0.0),
                     start_lr=1e-4, end_lr=100.0, num_steps=40)
    losses = result["losses"]
    stopped = result["stopped_early"]
    assert stopped and len(losses) < 40, f"ran {len(losses)} of 40 steps, stopped_early {stopped}"
    assert losses[-1] > 4 * min(losses), f"stopped at {losses[-1]:.3g}, not above 4 x best {min(losses):.3g}"


class NanAfter(nn.Module):
    """A linear layer whose output turns NaN from the ``after``-th forward call on."""

    def __init__(self, after: int):
        super().__init__()
        self.linear, self.after, self.calls = nn.Linear(10, 2), after, 0

    def forward(self, x):
        self.calls += 1
        out = self.linear(x)
        return out * math.nan if self.calls > self.after else out


@pytest.mark.timeout(60)
def test_nan_loss_stops_early_without_raising():
    result = lr_find(NanAfter(3), linear_problem(), nn.CrossEntropyLoss(), num_steps=10)
    assert result["stopped_early"] and len(result["lrs"]) == 3, f"{len(result['lrs'])} points, expected 3"
    assert all(math.isfinite(v) for v in result["losses"] + result["raw_losses"]), "a NaN was recorded"
    first = lr_find(NanAfter(0), linear_problem(), nn.CrossEntropyLoss(), num_steps=10)
    assert first["stopped_early"] and first["lrs"] == [], f"{len(first['lrs'])} points from a model NaN at once"
    assert first["suggestion"] is None and first["min_loss_lr"] is None


@pytest.mark.timeout(60)
def test_one_rate_for_all_groups_times_lr_mult():
    model = nn.Sequential(nn.Linear(10, 4), nn.Linear(4, 2))
    built = []

    def factory(m):
        built.append(torch.optim.SGD([{"params": m[0].parameters(), "lr_mult": 1.0},
                                      {"params": m[1].parameters(), "lr_mult": 10.0}], lr=0.5))
        return built[-1]

    result = lr_find(model, linear_problem(), nn.CrossEntropyLoss(), optimizer_factory=factory,
                     start_lr=1e-4, end_lr=1e-2, num_steps=5)
    rates = [group["lr"] for group in built[0].param_groups]
    assert rates == pytest.approx([result["lrs"][-1], 10 * result["lrs"][-1]]), f"group rates {rates}"


@pytest.mark.timeout(60)
def test_frozen_bn_mode_keeps_batchnorm_in_eval_during_the_sweep():
    model = tiny_net()
    modes = []

    def loss_fn(logits, targets):
        modes.append((model.training, model[1].training))
        return nn.functional.cross_entropy(logits, targets)

    lr_find(model, image_batches(1), loss_fn, num_steps=3, bn_mode="frozen")
    assert modes == [(True, False)] * 3, f"(model, BatchNorm) training modes during the sweep: {modes}"


def test_bad_arguments_raise_with_the_value():
    model, batches = nn.Linear(10, 2), linear_problem()
    with pytest.raises(UnknownName, match="Unknown bn_mode 'frozn'. Did you mean 'frozen'"):
        lr_find(model, batches, nn.CrossEntropyLoss(), bn_mode="frozn")
    with pytest.raises(ValueError, match="start_lr=1.0, end_lr=0.1"):
        lr_find(model, batches, nn.CrossEntropyLoss(), start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="no batches"):
        lr_find(model, [], nn.CrossEntropyLoss())
