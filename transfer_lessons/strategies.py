"""Fine-tuning strategies as cards: what trains, how BatchNorm behaves, and at which rates.

Each ``Strategy`` is a frozen dataclass, like a backbone card: lesson 02 writes each one in
plain PyTorch first, then ``apply_strategy`` does the same to any timm model and returns the
``fit`` arguments that go with it. Keeping them as data (not as subclasses or callbacks) lets
a table, a test and the CLI read the same definitions.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

from torch import nn

from .errors import UnknownName
from .params import freeze_backbone, unfreeze_backbone

__all__ = ["Strategy", "STRATEGIES", "get_strategy", "list_strategies", "apply_strategy"]


@dataclass(frozen=True)
class Strategy:
    """One way to adapt a backbone; every field has its meaning beside it."""

    name: str
    summary: str  # one line for tables and the CLI's help
    pretrained: bool = True  # start from ImageNet weights (False: random initialisation)
    train_stages: Optional[int] = None  # backbone stages trained, counted from the head; None = all, 0 = none
    bn_mode: str = "train"  # see train.train_one_epoch: "train", "frozen_layers" or "frozen"
    head_lr_mult: float = 10.0  # the new head's learning rate over the backbone's
    layer_decay: Optional[float] = None  # discriminative rates: factor between consecutive stages
    gradual_unfreeze: bool = False  # head first, then more stages each epoch (ULMFiT)
    lr: float = 3e-4  # suggested peak backbone learning rate for AdamW, batch 32 (lesson 02's finder)

    def fit_kwargs(self) -> dict:
        """The arguments of ``fit`` this strategy sets."""
        return {"bn_mode": self.bn_mode, "head_lr_mult": self.head_lr_mult,
                "layer_decay": self.layer_decay, "gradual_unfreeze": self.gradual_unfreeze}

    def as_dict(self) -> dict:
        """The card as a plain dict, for reports and checkpoints."""
        return dataclasses.asdict(self)


STRATEGIES: dict[str, Strategy] = {s.name: s for s in (
    Strategy("scratch", "random initialisation, everything trains: the baseline transfer must beat",
             pretrained=False, head_lr_mult=1.0, lr=2e-3),
    Strategy("linear_probe", "frozen backbone (BatchNorm statistics too); only the new head trains",
             train_stages=0, bn_mode="frozen", lr=1e-4),
    Strategy("partial", "the last two backbone stages and the head train; earlier stages stay frozen",
             train_stages=2, bn_mode="frozen_layers"),
    Strategy("full", "every layer trains, the head ten times faster than the backbone"),
    Strategy("discriminative", "every layer trains, each earlier stage at half the rate of the next, "
             "unfrozen gradually from the head down", layer_decay=0.5, gradual_unfreeze=True,
             bn_mode="frozen_layers"),
)}


def list_strategies() -> list[str]:
    """The strategy names, from least to most of the backbone trained (scratch first, as baseline)."""
    return list(STRATEGIES)


def get_strategy(name) -> Strategy:
    """The card of strategy ``name`` (a ``Strategy`` passes through unchanged).

    Raises:
        UnknownName: no such strategy; the message lists the known ones.
    """
    if isinstance(name, Strategy):
        return name
    if name not in STRATEGIES:
        raise UnknownName("strategy", name, STRATEGIES, "transfer_lessons.strategies.list_strategies()")
    return STRATEGIES[name]


def apply_strategy(model: nn.Module, strategy) -> dict:
    """Set which parameters of ``model`` train, as ``strategy`` says; return its ``fit`` arguments.

    The model must already have the right weights: build it with
    ``create_backbone(name, pretrained=get_strategy(strategy).pretrained, num_classes=...)``.

    Args:
        model: a timm classifier (or any model whose head is its last ``nn.Linear``).
        strategy: a name from ``list_strategies()`` or a ``Strategy``.

    Returns:
        A dict of keyword arguments for ``fit`` (``bn_mode``, ``head_lr_mult``,
        ``layer_decay``, ``gradual_unfreeze``).

    Raises:
        UnknownName: unknown strategy.

    Example:
        >>> model = create_backbone("efficientnet_lite0", num_classes=2)
        >>> history = fit(model, train_loader, val_loader, epochs=3, lr=1e-3, **apply_strategy(model, "partial"))

    Shown in plain PyTorch in lesson 02, *Fine-tuning strategies*.
    """
    strategy = get_strategy(strategy)
    if strategy.train_stages is None:
        unfreeze_backbone(model)
    else:
        freeze_backbone(model)
        unfreeze_backbone(model, last_stages=strategy.train_stages)
    return strategy.fit_kwargs()
