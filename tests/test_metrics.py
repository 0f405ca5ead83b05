"""Tests for transfer_lessons.metrics: running averages, accuracy, log lines, History."""

from __future__ import annotations

import math

import pytest
import torch

from transfer_lessons.evaluation import accuracy
from transfer_lessons.plots import history as history_figure
from transfer_lessons.training import AverageMeter, History, MetricLogger, format_epoch

ROWS = [
    {"epoch": 1, "train_loss": 0.9, "train_acc": 0.6, "val_loss": 0.7, "val_acc": 0.70, "lr": 1e-3,
     "seconds": 2.0, "images_per_s": 50.0},
    {"epoch": 2, "train_loss": 0.5, "train_acc": 0.8, "val_loss": 0.4, "val_acc": 0.90, "lr": 5e-4,
     "seconds": 2.1, "images_per_s": 48.0},
    {"epoch": 3, "train_loss": 0.3, "train_acc": 0.9, "val_loss": 0.5, "val_acc": 0.85, "lr": 1e-6,
     "seconds": 1.9, "images_per_s": 52.0},
]


def test_average_meter_weighs_by_batch_size():
    meter = AverageMeter("loss")
    assert math.isnan(meter.avg)
    meter.update(1.0, n=3)
    meter.update(5.0, n=1)
    assert meter.avg == pytest.approx(2.0) and meter.count == 4 and meter.val == 5.0


def test_metric_logger_averages_and_formats():
    log = MetricLogger()
    log.update(n=2, loss=1.0, acc=0.5)
    log.update(n=2, loss=0.0, acc=1.0)
    assert log.averages() == {"loss": pytest.approx(0.5), "acc": pytest.approx(0.75)}
    assert str(log) == "loss 0.5000  acc 0.7500" and log["loss"].count == 4


def test_accuracy_is_top1_fraction_and_checks_shapes():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1, 1])) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="3 rows of logits but 2 targets"):
        accuracy(logits[:3], torch.tensor([0, 1]))


def test_accuracy_takes_mixed_soft_targets_as_their_larger_share():
    """Mixup/cutmix targets are (N, C) probabilities; the dominant class is the one to predict."""
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]])
    soft = torch.tensor([[0.7, 0.3], [0.2, 0.8], [0.4, 0.6], [0.1, 0.9]])
    assert accuracy(logits, soft) == pytest.approx(0.75)
    assert accuracy(logits, soft) == accuracy(logits, soft.argmax(1))


def test_format_epoch_names_every_number_with_its_unit():
    line = format_epoch(ROWS[0], epochs=3)
    for part in ("epoch 1/3", "train loss 0.9000 acc 60.0%", "val loss 0.7000 acc 70.0%", "lr 1.00e-03",
                 "2.0 s", "50 img/s"):
        assert part in line, f"{part!r} not in {line!r}"


def test_history_best_last_and_round_trip():
    history = History()
    for row in ROWS:
        history.append(row)
    assert len(history) == 3 and history.last()["epoch"] == 3
    assert history.best("val_acc")["epoch"] == 2 and history.best("val_loss")["epoch"] == 2
    assert history.best("train_loss")["epoch"] == 3 and history.best("val_acc", mode="min")["epoch"] == 1
    assert history.column("lr") == [1e-3, 5e-4, 1e-6] and history.keys() == list(ROWS[0])
    again = History.from_dict(history.to_dict())
    assert again.rows == history.rows and again.rows is not history.rows


def test_history_errors_say_what_is_missing():
    with pytest.raises(IndexError, match="empty"):
        History().last()
    with pytest.raises(KeyError, match="test_acc"):
        History(ROWS).best("test_acc")
    with pytest.raises(ValueError, match="'max' or 'min'"):
        History(ROWS).best("val_acc", mode="up")


def test_history_plot_returns_a_figure():
    fig = history_figure(History(ROWS))
    assert fig.get_suptitle() == "Training history" and len(fig.axes) == 2
