"""Tests for transfer_lessons.strategies: the cards and what apply_strategy sets."""

from __future__ import annotations

import inspect

import pytest

from helpers import lite0
from transfer_lessons import strategies, train
from transfer_lessons.errors import UnknownName
from transfer_lessons.params import BN_MODES, backbone_stages, count_parameters
from transfer_lessons.strategies import STRATEGIES, apply_strategy, get_strategy, list_strategies


def test_all_lists_public_names():
    public = {name for name, obj in vars(strategies).items() if not name.startswith("_")
              and (getattr(obj, "__module__", None) == strategies.__name__ or name.isupper())}
    assert sorted(strategies.__all__) == sorted(public), f"__all__ {sorted(strategies.__all__)} != public {sorted(public)}"


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_every_card_is_consistent_with_fit(name):
    card = get_strategy(name)
    assert card.name == name and card.summary, f"{name}: card name or summary missing"
    assert card.bn_mode in BN_MODES, f"{name}: bn_mode {card.bn_mode!r} not in {BN_MODES}"
    fit_args = inspect.signature(train.fit).parameters
    assert set(card.fit_kwargs()) <= set(fit_args), f"{name}: {card.fit_kwargs()} not all fit arguments"


def test_apply_strategy_sets_the_trainable_parameters():
    trainable = {}
    for name in list_strategies():
        model = lite0()
        apply_strategy(model, name)
        trainable[name] = count_parameters(model, trainable_only=True)
        total, head = count_parameters(model), count_parameters(model.get_classifier())
    assert trainable["linear_probe"] == head, trainable
    assert head < trainable["partial"] < total, trainable
    assert trainable["full"] == trainable["scratch"] == trainable["discriminative"] == total, trainable
    model = lite0()
    apply_strategy(model, "partial")
    stages = backbone_stages(model)
    assert all(p.requires_grad for stage in stages[-2:] for p in stage), "last two stages should train"
    assert not any(p.requires_grad for stage in stages[:-2] for p in stage), "earlier stages should be frozen"


def test_apply_strategy_after_a_probe_unfreezes_again():
    model = lite0()
    apply_strategy(model, "linear_probe")
    apply_strategy(model, "full")
    assert count_parameters(model, trainable_only=True) == count_parameters(model)


def test_unknown_strategy_names_the_known_ones():
    with pytest.raises(UnknownName, match="Did you mean 'partial'"):
        get_strategy("partail")
