"""Fine-tuning strategies: the cards, what apply_strategy sets, and the settings fit takes from them."""

from __future__ import annotations

import pytest
from helpers import lite0

from transfer_lessons.errors import UnknownName
from transfer_lessons.models import (
    BN_MODES,
    STRATEGIES,
    apply_strategy,
    backbone_stages,
    count_parameters,
    get_strategy,
    list_strategies,
)
from transfer_lessons.training import FitOptions


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_every_card_is_consistent_with_fit(name):
    card = get_strategy(name)
    assert card.name == name and card.summary, f"{name}: card name or summary missing"
    assert card.bn_mode in BN_MODES, f"{name}: bn_mode {card.bn_mode!r} not in {BN_MODES}"
    resolved = FitOptions().resolved(name)
    for key in ("bn_mode", "head_lr_mult", "layer_decay", "gradual_unfreeze"):
        assert getattr(resolved, key) == getattr(card, key), f"{name}: fit would not take the card's {key}"
    explicit = FitOptions(bn_mode="frozen", head_lr_mult=1.0).resolved(name)
    assert (explicit.bn_mode, explicit.head_lr_mult) == ("frozen", 1.0), "an explicit option beats the card"


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
