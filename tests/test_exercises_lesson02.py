"""Lesson 02's checks: the right answers pass; the wrong answers a learner is likely to give get "not yet"."""

import torch

import transfer_lessons as tl
from transfer_lessons.models import backbone_stages


def _failed(verdict) -> bool:
    return not verdict and "not yet" in repr(verdict)


def _trainable(num_classes, last_stages):
    model = tl.create_backbone("efficientnet_lite0", pretrained=False, num_classes=num_classes)
    for p in model.parameters():
        p.requires_grad = False
    for p in [*model.get_classifier().parameters(), *(p for s in backbone_stages(model)[-last_stages:] for p in s)]:
        p.requires_grad = True
    return model


def test_trainable_count_wants_the_asked_head_and_stages(isolated_assets):
    right = sum(p.numel() for p in _trainable(8, 3).parameters() if p.requires_grad)
    assert tl.exercises.check_trainable_count(right)
    whole = tl.count_parameters(_trainable(8, 3))
    wrong = {"two stages, as the lesson's partial strategy (printed)": sum(
                 p.numel() for p in _trainable(2, 2).parameters() if p.requires_grad),
             "a 2-class head": sum(p.numel() for p in _trainable(2, 3).parameters() if p.requires_grad),
             "tensors, not values": sum(1 for p in _trainable(8, 3).parameters() if p.requires_grad),
             "the whole model": whole, "as a float just off": right + 0.5, "a string": str(right)}
    for why, answer in wrong.items():
        assert _failed(tl.exercises.check_trainable_count(answer)), why


def test_stem_lr_wants_this_backbones_stage_count(isolated_assets):
    stages = len(backbone_stages(tl.create_backbone("resnet18", pretrained=False, num_classes=2)))
    right = 1e-3 * 0.7 ** (stages - 1)
    assert tl.exercises.check_stem_lr(right)
    lite0_stages = len(backbone_stages(tl.create_backbone("efficientnet_lite0", pretrained=False, num_classes=2)))
    wrong = {"the backbone rate": 1e-3, "one stage too many": 1e-3 * 0.7 ** stages, "one decay step": 1e-3 * 0.7,
             "efficientnet_lite0's stage count": 1e-3 * 0.7 ** (lite0_stages - 1),
             "the lesson's card values": 3e-4 * 0.5 ** (stages - 1)}
    for why, answer in wrong.items():
        assert _failed(tl.exercises.check_stem_lr(answer)), why


def test_recall_wants_rows_on_any_matrix(isolated_assets):
    lesson_matrix = torch.tensor([[40, 8, 2], [5, 45, 0], [1, 1, 48]])
    right = lambda m: [m[c][c] / sum(m[c]) for c in range(len(m))]  # noqa: E731
    assert tl.exercises.check_recall(right, [lesson_matrix])
    assert tl.exercises.check_recall(lambda m: m.diagonal() / m.sum(dim=1), [lesson_matrix.tolist()])
    wrong = {"precision (columns)": lambda m: m.diagonal() / m.sum(dim=0),
             "accuracy for every class": lambda m: [m.diagonal().sum() / m.sum()] * len(m),
             "the lesson's numbers typed in": lambda m: [0.8, 0.9, 0.96],
             "one class only": lambda m: m[1][1] / m[1].sum(),
             "a bug": lambda m: 1 / 0, "a number, not a function": 0.9}
    for why, answer in wrong.items():
        assert _failed(tl.exercises.check_recall(answer, [lesson_matrix])), why
