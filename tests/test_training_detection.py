"""Tests for transfer_lessons.training's detection loop (``train_detector_one_epoch``, ``fit_detector``): losses
averaged per image, the scheduler stepped per batch, gradient clipping, NaN losses stopped before they reach the
weights, evaluation every n epochs and after the last. Most use a fake detector (a dict of losses in training
mode, fixed boxes in eval mode), so the loop is checked exactly and in milliseconds; two run a real one."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from transfer_lessons.data import collate_detection, load_detection, make_detection_loaders
from transfer_lessons.errors import NonFiniteLoss
from transfer_lessons.models import build_detector
from transfer_lessons.training import fit_detector, train_detector_one_epoch

pytestmark = pytest.mark.usefixtures("one_thread")
BOX = [10.0, 10.0, 40.0, 40.0]


class _FakeDetector(nn.Module):
    """Training mode: ``{"loss_a": w0 * mean pixel of the batch's images, "loss_b": w1 ** 2}``; eval mode: one
    box ``BOX`` of label 1, score 1, per image (perfect for targets that hold exactly that box)."""

    def __init__(self, events=None):
        super().__init__()
        self.w = nn.Parameter(torch.tensor([1.0, 2.0]))
        self.events = events if events is not None else []
        self.modes = []

    def forward(self, images, targets=None):
        self.modes.append(self.training)
        if self.training:
            assert targets is not None and len(targets) == len(images), "training needs one target per image"
            self.events.append("forward")
            return {"loss_a": self.w[0] * torch.stack([image.mean() for image in images]).mean(),
                    "loss_b": self.w[1] ** 2}
        self.events.append("predict")
        return [{"boxes": torch.tensor([BOX]), "labels": torch.tensor([1]), "scores": torch.tensor([1.0])}
                for _ in images]


class _RecordingSGD(torch.optim.SGD):
    def __init__(self, params, events, **kwargs):
        super().__init__(params, **kwargs)
        self.events = events

    def step(self, closure=None):
        self.events.append("step")
        return super().step(closure)


class _CountingScheduler:
    def __init__(self, events):
        self.events = events

    def step(self):
        self.events.append("scheduler")


def _batch(value: float, n: int):
    """n constant 3x48x48 images of ``value``, each with one object at ``BOX``."""
    return ([torch.full((3, 48, 48), value) for _ in range(n)],
            [{"boxes": torch.tensor([BOX]), "labels": torch.tensor([1])} for _ in range(n)])


def test_losses_are_averaged_per_image_and_the_scheduler_steps_once_per_batch():
    events = []
    model = _FakeDetector(events)
    loader = [_batch(1.0, 3), _batch(5.0, 1)]  # unequal batches: a per-batch mean would give loss_a 3.0
    optimizer = _RecordingSGD(model.parameters(), events, lr=0.0)
    result = train_detector_one_epoch(model.eval(), loader, optimizer, "cpu", scheduler=_CountingScheduler(events),
                                      progress=False)
    assert model.modes == [True, True], "the loop puts the model in training mode"
    assert set(result) == {"loss", "loss_a", "loss_b", "images", "seconds", "images_per_s"}
    assert result["images"] == 4
    assert result["loss_a"] == pytest.approx((3 * 1.0 + 1 * 5.0) / 4), "each term is averaged per image"
    assert result["loss_b"] == pytest.approx(4.0)
    assert result["loss"] == pytest.approx(result["loss_a"] + result["loss_b"]), "the loss is the sum of the terms"
    assert result["seconds"] > 0 and result["images_per_s"] == pytest.approx(4 / result["seconds"])
    assert events == ["forward", "step", "scheduler"] * 2, "one optimiser step, then one scheduler step, per batch"


def test_gradient_clipping_bounds_the_step():
    def step_norm(grad_clip):
        model = _FakeDetector()
        before = model.w.detach().clone()
        train_detector_one_epoch(model, [_batch(1.0, 2)], torch.optim.SGD(model.parameters(), lr=1.0), "cpu",
                                 grad_clip=grad_clip, progress=False)
        return float((model.w.detach() - before).norm())

    raw = math.sqrt(1.0**2 + 4.0**2)  # d loss / d w = (mean pixel, 2 w1) = (1, 4)
    assert step_norm(None) == pytest.approx(raw), "no clipping: plain SGD at lr 1 steps by the gradient"
    assert step_norm(10.0) == pytest.approx(raw), "a gradient under the bound is left alone"
    assert step_norm(0.5) == pytest.approx(0.5), "clipped: the gradient norm, so the step, is 0.5"


def test_a_non_finite_loss_names_its_terms_and_never_reaches_the_weights():
    model = _FakeDetector()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = [_batch(1.0, 2), _batch(float("nan"), 2)]
    with pytest.raises(NonFiniteLoss, match="boxes") as caught:
        train_detector_one_epoch(model, loader, optimizer, "cpu", epoch=7, progress=False)
    message = str(caught.value)
    assert "epoch 7, step 2" in message and "'loss_a'" in message and "'loss_b'" in message, message
    after_first = torch.tensor([1.0, 2.0]) - 0.1 * torch.tensor([1.0, 4.0])
    assert torch.allclose(model.w.detach(), after_first), "the NaN batch must not step the optimiser"


def test_nan_losses_stop_training_on_a_synthetic_loader(isolated_assets):
    """Moved from test_detection.py: a detector whose loss is NaN stops with a message about the boxes."""

    class _NanLoss(_FakeDetector):
        def forward(self, images, targets=None):
            return {"loss_a": self.w.sum() + float("nan")}

    data = load_detection("synthetic_detection", min_size=64, train_images=4, test_images=4, progress=False)
    test_loader = DataLoader(data.test, batch_size=2, collate_fn=collate_detection)
    with pytest.raises(NonFiniteLoss, match="boxes"):
        train_detector_one_epoch(_NanLoss(), test_loader, torch.optim.SGD(_NanLoss().parameters(), 0.1), "cpu",
                                 progress=False)


def test_fit_detector_evaluates_every_n_epochs_and_after_the_last_exactly():
    events = []
    model = _FakeDetector(events)
    train_loader, test_loader = [_batch(1.0, 2)] * 3, [_batch(0.5, 2)] * 2
    history = fit_detector(model, train_loader, test_loader, epochs=5, eval_every=2, lr=0.01, device="cpu",
                           progress=False)
    assert [row["epoch"] for row in history] == [1, 2, 3, 4, 5]
    assert [row["map_50"] is None for row in history] == [True, False, True, False, False]
    assert events.count("forward") == 5 * 3 and events.count("predict") == 3 * 2, "3 evaluations of 2 batches"
    for row in history:
        assert math.isfinite(row["train_loss"]) and row["seconds"] >= row["train_seconds"] > 0
        assert row["images_per_s"] > 0
        keys = ("map", "map_50", "map_75", "mar_100")
        if row["epoch"] in (2, 4, 5):
            assert all(row[key] == pytest.approx(1.0) for key in keys), ("the fake detector is perfect", row)
        else:
            assert all(row[key] is None for key in keys), row
    assert model.training is False, "the last thing fit_detector did was evaluate, in eval mode"


def test_fit_detector_without_a_test_loader_only_trains():
    model = _FakeDetector()
    history = fit_detector(model, [_batch(1.0, 2)] * 2, None, epochs=2, device="cpu", progress=False)
    assert len(history) == 2 and all(row["map_50"] is None and row["map"] is None for row in history)
    assert history[0]["train_loss"] != history[1]["train_loss"], "the weights moved between epochs"


def _tiny_loaders():
    data = load_detection("synthetic_detection", min_size=64, train_images=4, test_images=4, progress=False)
    return (DataLoader(data.train, batch_size=2, shuffle=True, collate_fn=collate_detection),
            DataLoader(data.test, batch_size=2, collate_fn=collate_detection), data)


@pytest.mark.timeout(120)
def test_fit_detector_records_map_per_epoch(isolated_assets):
    train_loader, test_loader, data = _tiny_loaders()
    assert all(len(target["boxes"]) > 0 for _, target in data.test), "every test image holds an object"
    model = build_detector("efficientnet_lite0", len(data.classes), min_size=64, trainable_levels=0)
    history = fit_detector(model, train_loader, test_loader, epochs=2, lr=0.01, device="cpu", progress=False)
    assert len(history) == 2
    for row in history:
        assert math.isfinite(row["train_loss"]) and row["seconds"] > 0
        # COCO gives -1 only where no image holds an object; here every value is a real score
        for key in ("map", "map_50", "map_75", "mar_100"):
            assert 0 <= row[key] <= 1, (key, row[key])
        assert row["map"] <= row["map_50"] + 1e-9, ("AP over IoU 0.5:0.95 cannot beat AP at IoU 0.5", row)
        assert row["map_75"] <= row["map_50"] + 1e-9, ("a stricter IoU cannot find more", row)


@pytest.mark.timeout(120)
def test_fit_detector_evaluates_every_n_epochs_and_after_the_last(isolated_assets):
    data = load_detection("synthetic_detection", min_size=64, train_images=4, test_images=2)
    train_loader, test_loader = make_detection_loaders(data, batch_size=4)
    model = build_detector("efficientnet_lite0", len(data.classes), min_size=64, trainable_levels=0)
    history = fit_detector(model, train_loader, test_loader, epochs=3, eval_every=2, device="cpu", progress=False)
    assert [row["map_50"] is None for row in history] == [True, False, False]
