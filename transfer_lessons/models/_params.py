"""Which parameters train: head and backbone selection, stages, freezing, BatchNorm, param groups."""

from __future__ import annotations

import math
from typing import Optional

from timm.models import group_parameters
from torch import nn

from ..errors import UnknownName

# "train": every BatchNorm layer normalises with batch statistics and updates its running ones;
# "frozen_layers": BatchNorm layers whose parameters are frozen stay in eval mode (fixed statistics);
# "frozen": every BatchNorm layer stays in eval mode.
BN_MODES = ("train", "frozen_layers", "frozen")


def _classifier(model: nn.Module) -> nn.Module:
    model = getattr(model, "_orig_mod", model)  # see through torch.compile's wrapper
    if hasattr(model, "get_classifier"):
        return model.get_classifier()
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise TypeError(f"{type(model).__name__} has no get_classifier() and no nn.Linear: cannot find its head.")
    return linears[-1]


def head_parameters(model: nn.Module) -> list:
    """The classifier's parameters (timm ``model.get_classifier()``), trainable or not."""
    return list(_classifier(model).parameters())


def backbone_parameters(model: nn.Module) -> list:
    """Every parameter that is not the classifier's, trainable or not."""
    head = {id(p) for p in head_parameters(model)}
    return [p for p in model.parameters() if id(p) not in head]


def backbone_stages(model: nn.Module) -> list:
    """The backbone's parameters in stages, input side first (stem, block 1, ..., last block; resnet18: 5 stages).

    Uses timm's ``model.group_matcher(coarse=True)``, so any timm model works; layers between the last block and the
    head (``conv_head``, a final norm) join the last stage. Other models are split by their top-level children.
    """
    model = getattr(model, "_orig_mod", model)
    head = {id(p) for p in head_parameters(model)}
    if hasattr(model, "group_matcher"):
        groups = list(group_parameters(model, model.group_matcher(coarse=True), return_values=True).values())
    else:
        groups = [list(child.parameters()) for child in model.children()]
    stages = [[p for p in g if id(p) not in head] for g in groups]
    # timm puts unmatched layers (neck and head) in the last group: the neck joins the last block.
    if len(stages) > 1 and stages[-1] and len(groups[-1]) > len(stages[-1]):
        stages[-2].extend(stages.pop())
    return [stage for stage in stages if stage]


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """The number of parameter values (not tensors) in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def freeze_backbone(model: nn.Module) -> int:
    """Make only the classifier trainable; returns the number of trainable values left.

    Note: ``requires_grad=False`` does not stop BatchNorm running statistics from updating in ``model.train()``; use
    ``bn_mode="frozen"`` or ``set_batchnorm_eval`` for that.
    """
    head = _classifier(model)  # a model without a head raises before anything is frozen
    model.requires_grad_(False)
    head.requires_grad_(True)
    return count_parameters(model, trainable_only=True)


def unfreeze_backbone(model: nn.Module, last_stages: Optional[int] = None) -> int:
    """Make the last ``last_stages`` backbone stages (``backbone_stages``) trainable, None: all; returns the trainable
    values."""
    if last_stages is not None and last_stages < 0:
        raise ValueError(f"unfreeze_backbone: last_stages must be >= 0 or None, got {last_stages}.")
    stages = backbone_stages(model)
    chosen = stages if last_stages is None else stages[len(stages) - last_stages:] if last_stages else []
    for stage in chosen:
        for p in stage:
            p.requires_grad_(True)
    return count_parameters(model, trainable_only=True)


def unfreeze_for_epoch(model: nn.Module, epoch: int, epochs: int) -> int:
    """Gradual unfreezing: train the head, plus a share of the backbone's stages growing with ``epoch``.

    Epoch 1 of ``epochs`` trains the head only; epoch ``e`` the last ``ceil(S * (e - 1) / (epochs - 1))`` of the ``S``
    stages; the last epoch all of them. A single-epoch run trains everything. Returns the trainable values.
    """
    if not 1 <= epoch <= epochs:
        raise ValueError(f"unfreeze_for_epoch: epoch must be in 1..{epochs}, got {epoch}.")
    if epochs == 1:
        return unfreeze_backbone(model)
    stages = len(backbone_stages(model))
    freeze_backbone(model)
    return unfreeze_backbone(model, last_stages=math.ceil(stages * (epoch - 1) / (epochs - 1)))


def set_batchnorm_eval(model: nn.Module, frozen_only: bool = True) -> int:
    """Put BatchNorm layers in eval mode, so their running mean and variance stop moving.

    Call it after every ``model.train()``, which switches them back. ``frozen_only``: only the layers whose
    parameters are all frozen. Returns how many layers it put in eval mode.
    """
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
              and not (frozen_only and any(p.requires_grad for p in m.parameters(recurse=False)))]
    for layer in layers:
        layer.eval()
    return len(layers)


def train_mode(model: nn.Module, bn_mode: str = "train") -> nn.Module:
    """``model.train()``, then BatchNorm layers in eval mode as ``bn_mode`` says (``BN_MODES``); returns ``model``."""
    if bn_mode not in BN_MODES:
        raise UnknownName("bn_mode", bn_mode, BN_MODES, "transfer_lessons.models.BN_MODES")
    model.train()
    if bn_mode != "train":
        set_batchnorm_eval(model, frozen_only=bn_mode == "frozen_layers")
    return model


def param_groups(model: nn.Module, lr: float, *, head_lr_mult: float = 10.0,
                 weight_decay: float = 0.05, layer_decay: Optional[float] = None,
                 no_decay_bias_norm: bool = True) -> list:
    """Optimiser parameter groups: the head learns faster than the backbone, early stages slower.

    Only trainable parameters are included (``fit(gradual_unfreeze=True)`` makes every parameter trainable before it
    builds the groups, then freezes stages epoch by epoch).
    Args:
        lr: the backbone's (last stage's) learning rate; the head's is ``lr * head_lr_mult``.
        layer_decay: discriminative learning rates (ULMFiT's and BEiT's recipe), a factor in (0, 1]: stage ``i`` of
            ``S`` backbone stages (``backbone_stages``, input side first) learns at ``lr * layer_decay ** (S - 1 - i)``,
            the last at ``lr``, each earlier one slower, because early layers hold generic features that need little
            change. None: one rate.
        no_decay_bias_norm: exempt biases and norm weights (every 0-D or 1-D tensor) from weight decay: shrinking them
            towards zero does not regularise, it only shifts activations.
    Returns: dicts with ``params``, ``lr``, ``weight_decay``, ``lr_mult`` and ``name``, for ``torch.optim.AdamW``.
    """
    if layer_decay is not None and not 0 < layer_decay <= 1:
        raise ValueError(f"param_groups: layer_decay must be in (0, 1] or None, got {layer_decay}.")
    head = {id(p) for p in head_parameters(model)}
    mult_of = dict.fromkeys(head, head_lr_mult)  # the backbone's parameters not in it learn at lr (1.0)
    if layer_decay is not None:
        stages = backbone_stages(model)
        mult_of.update({id(p): layer_decay ** (len(stages) - 1 - i) for i, stage in enumerate(stages) for p in stage})
    groups = {}
    for p in model.parameters():
        if not p.requires_grad:
            continue
        part = "head" if id(p) in head else "backbone"
        decays = not (no_decay_bias_norm and p.ndim <= 1)
        mult = mult_of.get(id(p), 1.0)
        key = (part, mult, decays)
        if key not in groups:
            suffix = "" if part == "head" or layer_decay is None else f"_x{mult:.3g}"
            groups[key] = {"params": [], "lr": lr * mult, "lr_mult": mult,
                           "name": part + suffix + ("" if decays else "_no_decay"),
                           "weight_decay": weight_decay if decays else 0.0}
        groups[key]["params"].append(p)
    if not groups:
        raise ValueError("param_groups: no parameter is trainable; call unfreeze_backbone(model) or "
                         "check that the head was not frozen.")
    # backbone groups first, slowest first; then the head (fit reads the first group's base rate)
    return sorted(groups.values(), key=lambda g: (g["name"].startswith("head"), g["lr_mult"], g["name"]))
