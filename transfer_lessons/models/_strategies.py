"""Fine-tuning strategies as cards: what trains, how BatchNorm behaves, and at which rates.

Lesson 02 writes each one in plain PyTorch first, then ``fit(..., strategy=name)`` does the same to any timm model.
Kept as data (not subclasses or callbacks), so a table, a test and the CLI read the same definitions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

from torch import nn

from ..errors import UnknownName
from ._params import freeze_backbone, unfreeze_backbone


@dataclass(frozen=True)
class Strategy:
    """One way to adapt a backbone; every field has its meaning beside it."""

    name: str
    summary: str  # one line for tables and the CLI's help
    pretrained: bool = True  # start from ImageNet weights (False: random initialisation)
    train_stages: Optional[int] = None  # backbone stages trained, counted from the head; None = all, 0 = none
    bn_mode: str = "train"  # one of BN_MODES (models/_params.py): "train", "frozen_layers" or "frozen"
    head_lr_mult: float = 10.0  # the new head's learning rate over the backbone's
    layer_decay: Optional[float] = None  # discriminative rates: factor between consecutive stages
    gradual_unfreeze: bool = False  # head first, then more stages each epoch (ULMFiT)
    lr: float = 3e-4  # suggested peak backbone learning rate for AdamW, batch 32 (lesson 02's finder)

    def as_dict(self) -> dict:
        """The card as a plain dict, for reports and checkpoints."""
        return asdict(self)


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
    """The card of strategy ``name`` (a ``Strategy`` passes through); UnknownName lists the known ones."""
    if isinstance(name, Strategy):
        return name
    if name not in STRATEGIES:
        raise UnknownName("strategy", name, STRATEGIES, "transfer_lessons.list_strategies()")
    return STRATEGIES[name]


def apply_strategy(model: nn.Module, strategy) -> int:
    """Set which parameters of ``model`` train, as ``strategy`` says; returns the trainable values.

    ``fit(..., strategy=...)`` calls it. The model must already have the right weights: build it with
    ``create_backbone(name, pretrained=get_strategy(strategy).pretrained, num_classes=...)``.
    """
    strategy = get_strategy(strategy)
    if strategy.train_stages is None:
        return unfreeze_backbone(model)
    freeze_backbone(model)
    return unfreeze_backbone(model, last_stages=strategy.train_stages)
