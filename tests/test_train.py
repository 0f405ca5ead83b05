"""Tests for transfer_lessons.train: the epoch loop, evaluation, fit."""

from __future__ import annotations

import inspect
import math

import pytest
import torch
from helpers import lite0, tiny_net
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from transfer_lessons.errors import NonFiniteLoss, TransferLessonsError, UnknownName
from transfer_lessons.models import param_groups
from transfer_lessons.runtime import get_profile
from transfer_lessons.training import FitOptions, evaluate, fit, load_checkpoint, train_one_epoch

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
    assert set(stats) == {"loss", "acc", "images", "seconds", "images_per_s", "first_loss"}
    assert math.isfinite(stats["first_loss"])
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
        fit(model, loader(), None, epochs=1, lr=1e-2, options=FitOptions(bn_mode=mode), progress=False)
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
    settings = dict(epochs=3, lr=1e-2, progress=False,
                    options=FitOptions(warmup_epochs=1, profile=get_profile("smoke").as_dict()))
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
    assert saved["options"]["profile"]["name"] == "smoke" and len(saved["history"]["rows"]) == 3


@pytest.mark.timeout(60)
def test_resume_with_other_epochs_is_refused(tmp_path):
    torch.manual_seed(0)
    fit(tiny_net(), loader(), None, epochs=1, lr=1e-2, checkpoint_path=tmp_path / "c.pt", progress=False)
    with pytest.raises(TransferLessonsError, match="epochs=1"):
        fit(tiny_net(), loader(), None, epochs=2, lr=1e-2, checkpoint_path=tmp_path / "c.pt",
            resume=True, progress=False)


def test_fit_rejects_bad_options_with_the_fix():
    with pytest.raises(UnknownName, match="bn_mode"):
        fit(tiny_net(), loader(), None, epochs=1, lr=1e-2, options=FitOptions(bn_mode="freeze"), progress=False)
    with pytest.raises(ValueError, match="bf16"):
        fit(tiny_net(), loader(), None, epochs=1, lr=1e-2, options=FitOptions(amp="fp16"), device="cpu", progress=False)
    with pytest.raises(ValueError, match="checkpoint_path"):
        fit(tiny_net(), loader(), None, epochs=1, lr=1e-2, resume=True, progress=False)
    with pytest.raises(ValueError, match="strategy"):
        fit(tiny_net(), loader(), None, epochs=1, progress=False)


def test_fit_docstring_lists_every_default_it_hides():
    doc = inspect.getdoc(fit)
    for hidden in ("AdamW", "0.9/0.999", "lr × 10", "0.05", "onecycle", "lr/25", "beta1",
                   "label_smoothing=0.0", "seed=0", "atomically", "best-validation-accuracy epoch", "patience"):
        assert hidden in doc, f"fit's docstring does not mention {hidden!r}"


@pytest.mark.timeout(60)
def test_gradual_unfreeze_trains_only_the_head_in_the_first_epoch():
    model = lite0()
    stem = model.conv_stem.weight.detach().clone()
    fit(model, loader(n=16, size=32), None, epochs=1, lr=1e-2, options=FitOptions(gradual_unfreeze=True),
        progress=False)
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
        options=FitOptions(gradual_unfreeze=True, layer_decay=0.5), progress=False)
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
    history = fit(model, loader(), loader(shuffle=False), epochs=2, lr=0.05,
                  options=FitOptions(head_lr_mult=1.0, batch_transform=swap_labels), progress=False)
    assert len(seen) == 2 * 4, f"{len(seen)} calls, expected one per batch (4 batches x 2 epochs)"
    assert all(seen), "the transform should see the model in training mode"
    # the step used the transformed batch: the model learnt the swapped rule, and validation is untouched
    assert history.last()["val_acc"] <= 0.1, history.last()


@pytest.mark.timeout(60)
def test_adversarial_batch_transform_with_pgd_leaves_parameter_grads_to_the_step():
    from transfer_lessons.evaluation import pgd

    def attack(model, images, targets):
        return pgd(model, images, targets, 4 / 255, mean=(0.5,) * 3, std=(0.5,) * 3, steps=2), targets

    torch.manual_seed(0)
    model = tiny_net()
    before = [p.detach().clone() for p in model.parameters()]
    history = fit(model, loader(), None, epochs=1, lr=0.05, options=FitOptions(batch_transform=attack), progress=False)
    assert math.isfinite(history.last()["train_loss"])
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters())), "the weights should have moved"


class Scripted(nn.Module):
    """A model whose validation accuracy per epoch is scripted: it predicts class 1 on the images of
    the validation loader for the epochs named in ``right``, else class 0 (all labels there are 1)."""

    def __init__(self, right):
        super().__init__()
        self.linear = nn.Linear(1, 2)
        self.right, self.epoch = right, 0

    def forward(self, x):
        logits = self.linear(x.flatten(1)[:, :1])
        if not self.training:
            wanted = torch.tensor([0.0, 9.0] if self.epoch in self.right else [9.0, 0.0])
            return logits * 0 + wanted
        return logits


def _scripted_fit(right, epochs, **options):
    model = Scripted(right)
    train = TensorDataset(torch.randn(8, 1), torch.tensor([0, 1] * 4))
    val = TensorDataset(torch.randn(4, 1), torch.ones(4, dtype=torch.long))

    class Counting(DataLoader):
        def __iter__(self):
            model.epoch += 1
            return super().__iter__()

    history = fit(model, Counting(train, batch_size=4), DataLoader(val, batch_size=4), epochs=epochs, lr=1e-3,
                  options=FitOptions(**options), progress=False)
    return model, history


def test_fit_keeps_the_best_epoch_and_says_which():
    model, history = _scripted_fit({2}, epochs=4)
    assert [row["val_acc"] for row in history] == [0.0, 1.0, 0.0, 0.0], "the history still shows every epoch"
    assert history.kept_epoch == 2 and history.kept()["val_acc"] == 1.0
    model, last = _scripted_fit({2}, epochs=4, keep_best=False)
    assert last.kept_epoch == 4 and last.kept()["val_acc"] == 0.0


def test_fit_keeps_the_best_weights_not_the_last():
    torch.manual_seed(0)
    model, train_loader, val_loader = tiny_net(), loader(), loader(n=16, shuffle=False)
    history = fit(model, train_loader, val_loader, epochs=3, lr=3.0, progress=False)  # a rate that wrecks later epochs
    kept = evaluate(model, val_loader, nn.CrossEntropyLoss(), "cpu")["acc"]
    assert kept == pytest.approx(history.kept()["val_acc"]) == pytest.approx(max(r["val_acc"] for r in history))


def test_patience_stops_early():
    _, history = _scripted_fit({1}, epochs=6, patience=2)
    assert len(history) == 3 and history.kept_epoch == 1, [row["val_acc"] for row in history]


def test_nonsense_runs_end_with_a_clear_warning():
    with pytest.warns(UserWarning, match="at or below chance"):
        _scripted_fit(set(), epochs=2)
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match="ended above where it started"):
        fit(tiny_net(), loader(), None, epochs=2, lr=5e2, options=FitOptions(grad_clip=None), progress=False)


def test_a_log_gets_one_line_per_epoch_and_no_progress_bars(capsys):
    """Output that is not a terminal (a job log, CI): no tqdm bars, no carriage returns; one line per epoch."""
    torch.manual_seed(0)
    fit(tiny_net(), loader(), loader(n=16, shuffle=False), epochs=3, lr=1e-2, progress=True)
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "\r" not in text and "it/s" not in text, text[:500]
    epoch_lines = [line for line in captured.out.splitlines() if line.lstrip().startswith("epoch")]
    assert len(epoch_lines) == 3, captured.out
