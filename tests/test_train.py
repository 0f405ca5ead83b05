"""Tests for transfer_lessons.train: the epoch loop, evaluation, fit."""

from __future__ import annotations

import inspect
import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from helpers import lite0, tiny_net
from transfer_lessons import params, train
from transfer_lessons.checkpoint import load_checkpoint
from transfer_lessons.errors import NonFiniteLoss, TransferLessonsError, UnknownName
from transfer_lessons.params import param_groups
from transfer_lessons.profiles import get_profile
from transfer_lessons.train import evaluate, fit, train_one_epoch


pytestmark = pytest.mark.usefixtures("one_thread")


def separable(n: int = 32, size: int = 32, seed: int = 0):
    """Class 0 is dark noise, class 1 bright noise: separable by mean brightness."""
    g = torch.Generator().manual_seed(seed)
    targets = torch.arange(n) % 2
    images = torch.randn(n, 3, size, size, generator=g) * 0.5 + (targets.float() * 2 - 1).view(-1, 1, 1, 1)
    return images, targets


def loader(n: int = 32, size: int = 32, batch_size: int = 8, shuffle: bool = True, seed: int = 0):
    return DataLoader(TensorDataset(*separable(n, size, seed)), batch_size=batch_size, shuffle=shuffle)


def bn_stats(model: nn.Module) -> list:
    return [b.clone() for m in model.modules() if isinstance(m, nn.BatchNorm2d)
            for b in (m.running_mean, m.running_var)]


def test_all_lists_public_names():
    # BN_MODES is imported from params, so it is params' public name, not train's.
    public = {name for name, obj in vars(train).items() if not name.startswith("_")
              and (getattr(obj, "__module__", None) == train.__name__ or name.isupper())
              and name not in params.__all__}
    assert sorted(train.__all__) == sorted(public), f"__all__ {sorted(train.__all__)} != public {sorted(public)}"


@pytest.mark.timeout(60)
def test_loss_falls_on_separable_problem_with_timm_model():
    torch.manual_seed(0)
    model = lite0()
    batch = [separable(16, 32)]
    optimizer = torch.optim.AdamW(param_groups(model, 1e-3, head_lr_mult=1.0))
    losses = [train_one_epoch(model, batch, optimizer, nn.CrossEntropyLoss(), "cpu", progress=False)["loss"]
              for _ in range(6)]
    assert losses[-1] < 0.5 * losses[0], f"loss went {losses}; expected the last below half the first"


@pytest.mark.timeout(60)
def test_train_one_epoch_returns_stats_and_steps_scheduler_per_batch():
    torch.manual_seed(0)
    model = tiny_net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    stats = train_one_epoch(model, loader(), optimizer, nn.CrossEntropyLoss(), "cpu",
                            scheduler=scheduler, grad_clip=1.0, progress=False)
    assert set(stats) == {"loss", "acc", "images", "seconds", "images_per_s"}
    assert stats["images"] == 32 and 0 <= stats["acc"] <= 1 and math.isfinite(stats["loss"])
    assert scheduler.last_epoch == 4, f"scheduler stepped {scheduler.last_epoch} times, expected 4 (one per batch)"


@pytest.mark.timeout(60)
def test_bf16_autocast_and_channels_last_run_on_cpu():
    torch.manual_seed(0)
    model = tiny_net().to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    stats = train_one_epoch(model, loader(), optimizer, nn.CrossEntropyLoss(), "cpu",
                            amp_dtype=torch.bfloat16, channels_last=True, progress=False)
    assert math.isfinite(stats["loss"])


@pytest.mark.timeout(60)
def test_nan_loss_raises_naming_epoch_step_and_fix_before_the_weights_change():
    torch.manual_seed(0)
    model = tiny_net()
    images, targets = separable(16)
    images[9] = float("nan")  # second batch of 8
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = DataLoader(TensorDataset(images, targets), batch_size=8)
    with pytest.raises(NonFiniteLoss) as info:
        train_one_epoch(model, data, optimizer, nn.CrossEntropyLoss(), "cpu", epoch=3, progress=False)
    message = str(info.value)
    for part in ("epoch 3", "step 2 of 2", "nan", "learning rate", "grad_clip", "NaN"):
        assert part in message, f"{part!r} not in message {message!r}"
    assert all(torch.isfinite(p).all() for p in model.parameters()), "a NaN step reached the weights"


@pytest.mark.timeout(60)
def test_plain_loop_and_train_one_epoch_give_the_same_weights():
    def run(use_helper: bool):
        torch.manual_seed(0)
        model = tiny_net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        loss_fn = nn.CrossEntropyLoss()
        data = loader(shuffle=False)
        if use_helper:
            train_one_epoch(model, data, optimizer, loss_fn, "cpu", progress=False)
            return model
        model.train()  # the plain loop a lesson writes by hand
        for images, targets in data:
            loss = loss_fn(model(images), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return model

    plain, helper = run(False).state_dict(), run(True).state_dict()
    for name in plain:
        torch.testing.assert_close(helper[name], plain[name], msg=lambda m: f"{name}: {m}")


@pytest.mark.timeout(60)
def test_evaluate_returns_outputs_and_does_not_train():
    torch.manual_seed(0)
    model = tiny_net()
    before = bn_stats(model)
    result = evaluate(model, loader(n=20), nn.CrossEntropyLoss(), "cpu", return_outputs=True)
    assert result["logits"].shape == (20, 2) and result["targets"].shape == (20,)
    assert result["images"] == 20 and not model.training
    assert all(torch.equal(a, b) for a, b in zip(before, bn_stats(model))), "evaluate moved BN statistics"


@pytest.mark.timeout(60)
def test_frozen_bn_mode_keeps_running_stats_while_train_mode_moves_them():
    moved = {}
    for mode in ("frozen", "train"):
        torch.manual_seed(0)
        model = tiny_net()
        before = bn_stats(model)
        fit(model, loader(), None, epochs=1, lr=1e-2, bn_mode=mode, progress=False)
        moved[mode] = not all(torch.equal(a, b) for a, b in zip(before, bn_stats(model)))
    assert moved == {"frozen": False, "train": True}, f"BN stats moved: {moved}"


class PowerCut(Exception):
    """Stands in for a crash or a closed laptop in the middle of a run."""


class InterruptedLoader:
    """A loader whose iteration fails on pass number ``fail_on`` (1-based)."""

    def __init__(self, inner, fail_on: int):
        self.inner, self.fail_on, self.passes = inner, fail_on, 0

    def __len__(self):
        return len(self.inner)

    def __iter__(self):
        self.passes += 1
        if self.passes == self.fail_on:
            raise PowerCut("interrupted")
        return iter(self.inner)


@pytest.mark.timeout(60)
def test_resume_after_interruption_equals_an_uninterrupted_run(tmp_path):
    settings = dict(epochs=3, lr=1e-2, warmup_epochs=1, progress=False, profile=get_profile("smoke"))
    torch.manual_seed(0)
    whole = tiny_net()
    whole_history = fit(whole, loader(), loader(n=16, shuffle=False), checkpoint_path=tmp_path / "a.pt", **settings)

    torch.manual_seed(0)
    with pytest.raises(PowerCut):
        fit(tiny_net(), InterruptedLoader(loader(), fail_on=3), loader(n=16, shuffle=False),
            checkpoint_path=tmp_path / "b.pt", **settings)
    assert load_checkpoint(tmp_path / "b.pt")["epoch"] == 2
    torch.manual_seed(123)  # a different fresh model: every weight must come from the checkpoint
    resumed = tiny_net()
    resumed_history = fit(resumed, loader(), loader(n=16, shuffle=False), checkpoint_path=tmp_path / "b.pt",
                          resume=True, **settings)

    for name, value in whole.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], value, msg=lambda m: f"{name}: {m}")
    timing = {"seconds", "images_per_s"}
    strip = [[{k: v for k, v in row.items() if k not in timing} for row in h] for h in (whole_history, resumed_history)]
    assert len(strip[1]) == len(strip[0]) == 3, f"rows: {len(strip[1])} resumed vs {len(strip[0])}"
    for a, b in zip(*strip):
        assert b == pytest.approx(a), f"resumed row {b} != uninterrupted row {a}"
    saved = load_checkpoint(tmp_path / "b.pt")
    assert saved["profile"]["name"] == "smoke" and len(saved["history"]["rows"]) == 3


@pytest.mark.timeout(60)
def test_resume_with_other_epochs_is_refused(tmp_path):
    torch.manual_seed(0)
    fit(tiny_net(), loader(), None, epochs=1, lr=1e-2, checkpoint_path=tmp_path / "c.pt", progress=False)
    with pytest.raises(TransferLessonsError, match="epochs=1"):
        fit(tiny_net(), loader(), None, epochs=2, lr=1e-2, checkpoint_path=tmp_path / "c.pt",
            resume=True, progress=False)


def test_fit_rejects_bad_options_with_the_fix():
    with pytest.raises(UnknownName, match="bn_mode"):
        fit(tiny_net(), loader(), None, epochs=1, lr=1e-2, bn_mode="freeze", progress=False)
    with pytest.raises(ValueError, match="bf16"):
        fit(tiny_net(), loader(), None, epochs=1, lr=1e-2, amp="fp16", device="cpu", progress=False)
    with pytest.raises(ValueError, match="checkpoint_path"):
        fit(tiny_net(), loader(), None, epochs=1, lr=1e-2, resume=True, progress=False)


def test_fit_docstring_lists_every_default_it_hides():
    doc = inspect.getdoc(fit)
    for hidden in ("AdamW", "0.9/0.999", "lr × 10", "0.05", "onecycle", "lr/25", "beta1",
                   "label_smoothing=0.0", "bn_mode=\"train\"", "seed=0", "atomically"):
        assert hidden in doc, f"fit's docstring does not mention {hidden!r}"


@pytest.mark.timeout(60)
def test_gradual_unfreeze_trains_only_the_head_in_the_first_epoch():
    model = lite0()
    stem = model.conv_stem.weight.detach().clone()
    fit(model, loader(n=16, size=32), None, epochs=1, lr=1e-2, gradual_unfreeze=True, progress=False)
    assert not torch.equal(model.conv_stem.weight, stem), "a 1-epoch gradual run trains everything"
    model = lite0()
    stem = model.conv_stem.weight.detach().clone()
    head = model.get_classifier().weight.detach().clone()
    epochs_seen = []

    class Watch(DataLoader):
        def __iter__(self):
            epochs_seen.append((torch.equal(model.conv_stem.weight, stem),
                                model.conv_stem.weight.requires_grad))
            return super().__iter__()

    images, targets = separable(16, 32)
    fit(model, Watch(TensorDataset(images, targets), batch_size=8), None, epochs=3, lr=1e-2,
        gradual_unfreeze=True, layer_decay=0.5, progress=False)
    assert epochs_seen[0] == (True, False) and epochs_seen[1] == (True, False), \
        f"stem (unchanged, trainable) per epoch: {epochs_seen}; epochs 1-2 should leave it frozen"
    assert epochs_seen[2] == (True, True) and not torch.equal(model.conv_stem.weight, stem), \
        "epoch 3 should unfreeze and change the stem"
    assert not torch.equal(model.get_classifier().weight, head)


@pytest.mark.timeout(60)
def test_batch_transform_replaces_every_training_batch_before_the_forward_pass():
    seen = []

    def swap_labels(model, images, targets):
        seen.append(model.training)
        return images, 1 - targets  # teaches the opposite rule: bright is class 0

    torch.manual_seed(0)
    model = tiny_net()
    history = fit(model, loader(), loader(shuffle=False), epochs=2, lr=0.05, head_lr_mult=1.0, batch_transform=swap_labels,
                  progress=False)
    assert len(seen) == 2 * 4, f"{len(seen)} calls, expected one per batch (4 batches x 2 epochs)"
    assert all(seen), "the transform should see the model in training mode"
    # the step used the transformed batch: the model learnt the swapped rule, and validation is untouched
    assert history.last()["val_acc"] <= 0.1, history.last()


@pytest.mark.timeout(60)
def test_adversarial_batch_transform_with_pgd_leaves_parameter_grads_to_the_step():
    from transfer_lessons.robustness import pgd

    def attack(model, images, targets):
        return pgd(model, images, targets, 4 / 255, mean=(0.5,) * 3, std=(0.5,) * 3, steps=2), targets

    torch.manual_seed(0)
    model = tiny_net()
    before = [p.detach().clone() for p in model.parameters()]
    history = fit(model, loader(), None, epochs=1, lr=0.05, batch_transform=attack, progress=False)
    assert math.isfinite(history.last()["train_loss"])
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters())), "the weights should have moved"
