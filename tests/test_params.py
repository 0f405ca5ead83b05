"""Tests for transfer_lessons.params: head and backbone selection, stages, freezing, BatchNorm, groups."""

from __future__ import annotations

import pytest
import torch
from helpers import lite0, tiny_net
from torch import nn

from transfer_lessons.models import (
    backbone_parameters,
    backbone_stages,
    count_parameters,
    freeze_backbone,
    head_parameters,
    param_groups,
    set_batchnorm_eval,
    unfreeze_backbone,
    unfreeze_for_epoch,
)


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


def test_layer_decay_halves_the_rate_stage_by_stage_from_the_head_down():
    model = lite0()
    stages = backbone_stages(model)
    groups = param_groups(model, 1e-3, layer_decay=0.5)
    rate = {id(p): g["lr"] for g in groups for p in g["params"]}
    expected = [1e-3 * 0.5 ** (len(stages) - 1 - i) for i in range(len(stages))]
    observed = [rate[id(stage[0])] for stage in stages]
    assert observed == pytest.approx(expected), f"stage rates {observed} != {expected}"
    assert rate[id(model.get_classifier().weight)] == pytest.approx(1e-2), "head should stay at lr x 10"
    assert len(rate) == len(list(model.parameters())), "every parameter should be in exactly one group"
    with pytest.raises(ValueError, match="layer_decay"):
        param_groups(model, 1e-3, layer_decay=1.5)


def test_unfreeze_for_epoch_goes_from_head_only_to_everything():
    model = lite0()
    counts = [unfreeze_for_epoch(model, epoch, 3) for epoch in (1, 2, 3)]
    head = count_parameters(model.get_classifier())
    assert counts[0] == head and head < counts[1] < counts[2] == count_parameters(model), counts
    assert unfreeze_for_epoch(model, 1, 1) == count_parameters(model), "a 1-epoch run should train all"
    with pytest.raises(ValueError, match="epoch must be in 1..3"):
        unfreeze_for_epoch(model, 4, 3)


def test_set_batchnorm_eval_frozen_only_spares_trainable_layers():
    model = lite0()
    freeze_backbone(model)
    unfreeze_backbone(model, last_stages=1)
    model.train()
    set_batchnorm_eval(model, frozen_only=True)
    modes = {name: m.training for name, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)}
    assert modes["bn2"] and not modes["bn1"], "conv_head's BN (trainable) should train, the stem's should not"


@pytest.mark.usefixtures("one_thread")
def test_train_mode_puts_batchnorm_in_the_mode_asked_for():
    """The modes, and the statistics themselves: after a forward pass in train mode, the BatchNorm layers bn_mode
    freezes hold their running mean and variance, and the others have moved theirs towards the batch's."""
    from transfer_lessons.errors import UnknownName
    from transfer_lessons.models import train_mode

    model = lite0()
    freeze_backbone(model)
    unfreeze_backbone(model, last_stages=1)
    bns = {name: m for name, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)}
    trainable = {name for name, m in bns.items() if any(p.requires_grad for p in m.parameters(recurse=False))}
    assert 0 < len(trainable) < len(bns), "the test needs both frozen and trainable BatchNorm layers"
    should_move = {"train": set(bns), "frozen_layers": trainable, "frozen": set()}
    batch = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    modes = {}
    for bn_mode in ("train", "frozen_layers", "frozen"):
        train_mode(model.eval(), bn_mode)
        flags = {name: m.training for name, m in bns.items()}
        modes[bn_mode] = (flags["bn1"], flags["bn2"], model.training)
        before = {name: (m.running_mean.clone(), m.running_var.clone(), int(m.num_batches_tracked))
                  for name, m in bns.items()}
        with torch.no_grad():
            model(batch)
        moved = set()
        for name, m in bns.items():
            mean, var, count = before[name]
            changed = not (torch.equal(m.running_mean, mean) or torch.equal(m.running_var, var))
            kept = torch.equal(m.running_mean, mean) and torch.equal(m.running_var, var)
            assert changed or kept, (bn_mode, name, "the mean moved without the variance, or the reverse")
            assert changed == (int(m.num_batches_tracked) == count + 1), (bn_mode, name, "count and stats disagree")
            if changed:
                moved.add(name)
        assert moved == should_move[bn_mode], (bn_mode, "moved but should not / should but did not:",
                                               sorted(moved - should_move[bn_mode]),
                                               sorted(should_move[bn_mode] - moved))
    assert modes == {"train": (True, True, True), "frozen_layers": (False, True, True),
                     "frozen": (False, False, True)}, modes
    with pytest.raises(UnknownName, match="bn_mode"):
        train_mode(model, "freeze")
