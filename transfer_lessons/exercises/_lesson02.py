from __future__ import annotations

import torch

from ..models import (
    backbone_stages,
    count_parameters,
    create_backbone,
    freeze_backbone,
    param_groups,
    unfreeze_backbone,
)
from ._verdict import exercise, is_number


@exercise("trainable_count", "an integer: the number of parameter values that train",
          nudge="count values (p.numel()), not tensors, and only those with requires_grad; the head must have the "
                "asked number of classes",
          method="build the model with the asked num_classes, freeze everything, then set requires_grad=True on the "
                 "head and on the last stages (backbone_stages(model)[-k:]); sum p.numel() over the trainable ones")
def check_trainable_count(answer, backbone: str = "efficientnet_lite0", last_stages: int = 3,
                          num_classes: int = 8) -> bool:
    """Exercise: trainable values of ``backbone`` with a new head and only its last ``last_stages`` stages unfrozen."""
    model = create_backbone(backbone, pretrained=False, num_classes=num_classes)
    freeze_backbone(model)
    unfreeze_backbone(model, last_stages=last_stages)
    return is_number(answer) and answer == count_parameters(model, trainable_only=True)  # a count: exact


@exercise("stem_lr", "a number: the learning rate of the backbone's first stage (its stem)",
          nudge="the stem is the stage farthest from the head: it gets the smallest rate; count this backbone's stages",
          method="with S stages, stage i learns at lr * layer_decay ** (S - 1 - i); the stem is stage 0; count the "
                 "stages with len(backbone_stages(model))")
def check_stem_lr(answer, lr: float = 1e-3, layer_decay: float = 0.7, backbone: str = "resnet18") -> bool:
    """Exercise: the learning rate of ``backbone``'s first stage (its stem) under discriminative rates."""
    model = create_backbone(backbone, pretrained=False, num_classes=2)
    stem = backbone_stages(model)[0][0]
    expected = next(g["lr"] for g in param_groups(model, lr, layer_decay=layer_decay)
                    if any(p is stem for p in g["params"]))
    return is_number(answer) and abs(answer - expected) <= 1e-3 * expected


def _matrices() -> list[torch.Tensor]:
    """The check's own confusion matrices (rows: true class): unequal rows, so recall differs from precision."""
    generator = torch.Generator().manual_seed(0)
    return [torch.tensor([[50, 10], [3, 37]]), torch.randint(1, 30, (5, 5), generator=generator)]


@exercise("recall", "a function recalls(matrix) -> one recall per class, in class order (a list or a tensor)",
          nudge="recall looks at the images that truly are of the class (its row), precision at the predictions "
                "(its column)",
          method="for class c: matrix[c][c] over the sum of row c (rows are the true classes); return them all")
def check_recall(answer, matrices=()) -> bool:
    """Exercise: ``answer(matrix)`` gives every class's recall, on the lesson's ``matrices`` and the check's own."""
    for matrix in [*(torch.as_tensor(m) for m in matrices), *_matrices()]:
        rows = matrix.sum(dim=1)
        expected = matrix.diagonal().double() / rows.clamp(min=1)
        mine = torch.as_tensor(answer(matrix.clone()), dtype=torch.float64).flatten()
        if mine.shape != expected.shape or not torch.allclose(mine[rows > 0], expected[rows > 0], atol=1e-6):
            return False
    return True
