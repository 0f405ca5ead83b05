"""Tests for transfer_lessons.params: head and backbone selection, stages, freezing, BatchNorm, groups."""

from __future__ import annotations

import pytest
from torch import nn

from helpers import lite0, tiny_net
from transfer_lessons import params
from transfer_lessons.params import (backbone_parameters, backbone_stages, count_parameters, freeze_backbone,
                                     head_parameters, param_groups, set_batchnorm_eval, unfreeze_backbone)


def test_all_lists_public_names():
    public = {name for name, obj in vars(params).items() if not name.startswith("_")
              and (getattr(obj, "__module__", None) == params.__name__ or name.isupper())}
    assert sorted(params.__all__) == sorted(public), f"__all__ {sorted(params.__all__)} != public {sorted(public)}"


def test_freeze_backbone_leaves_only_the_classifier_trainable():
    model = lite0()
    trainable = freeze_backbone(model)
    names = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    assert names == ["classifier.bias", "classifier.weight"], f"trainable after freeze: {names}"
    assert trainable == count_parameters(model.get_classifier()) == count_parameters(model, trainable_only=True)
    assert len(head_parameters(model)) + len(backbone_parameters(model)) == len(list(model.parameters()))


def test_unfreeze_last_stages_counts_from_the_head():
    model = lite0()
    stages = backbone_stages(model)
    assert len(stages) == 8, f"expected stem + 7 block stages, got {len(stages)}"
    freeze_backbone(model)
    unfreeze_backbone(model, last_stages=1)
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any(n.startswith("blocks.6.") for n in names) and "conv_head.weight" in names, sorted(names)
    assert not any(n.startswith(("blocks.5.", "conv_stem")) for n in names), sorted(names)
    assert unfreeze_backbone(model) == count_parameters(model), "unfreeze_backbone(None) should unfreeze all"


def test_stages_fall_back_to_children_for_plain_modules():
    model = tiny_net()
    assert [len(s) for s in backbone_stages(model)] == [2, 2], "expected conv and BN as two stages"
    assert head_parameters(model)[0] is model[-1].weight


def test_param_groups_give_the_head_ten_times_the_lr_and_skip_decay_on_biases():
    model = lite0()
    groups = {g["name"]: g for g in param_groups(model, 1e-4)}
    assert list(groups) == ["backbone", "backbone_no_decay", "head", "head_no_decay"]
    assert groups["head"]["lr"] == pytest.approx(1e-3) and groups["backbone"]["lr"] == pytest.approx(1e-4)
    assert groups["backbone_no_decay"]["weight_decay"] == 0.0 and groups["backbone"]["weight_decay"] == 0.05
    assert sum(len(g["params"]) for g in groups.values()) == len(list(model.parameters()))
    freeze_backbone(model)
    assert [g["name"] for g in param_groups(model, 1e-4)] == ["head", "head_no_decay"]
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no parameter is trainable"):
        param_groups(model, 1e-4)


def test_requires_grad_false_does_not_stop_bn_statistics_but_set_batchnorm_eval_does():
    model = lite0()
    freeze_backbone(model)
    model.train()
    assert set_batchnorm_eval(model) == sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert not any(m.training for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    model.train()  # the pitfall: train() puts them back in training mode, frozen or not
    assert all(m.training for m in model.modules() if isinstance(m, nn.BatchNorm2d))
