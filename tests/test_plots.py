"""Tests for transfer_lessons.plots: every function returns a titled Figure with labelled axes."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_labelled

from transfer_lessons.plots import bars as bar_chart
from transfer_lessons.plots import history as plot_history
from transfer_lessons.plots import lr_schedule as plot_lr_schedule

ROWS = [{"epoch": e, "train_loss": 1 / e, "train_acc": 0.5 + e / 10, "val_loss": 1.2 / e,
         "val_acc": 0.4 + e / 10} for e in (1, 2, 3)]


def test_plot_history_draws_loss_and_accuracy_with_units():
    fig = plot_history(ROWS)
    assert_labelled(fig, 2)
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_xlabel() == "epoch" and "loss" in loss_ax.get_ylabel()
    assert "(%)" in acc_ax.get_ylabel() and len(acc_ax.lines) == 2
    assert max(acc_ax.lines[0].get_ydata()) == pytest.approx(80.0), "accuracy should be drawn in percent"
    with pytest.raises(ValueError, match="empty"):
        plot_history([])


def test_plot_history_skips_missing_validation():
    fig = plot_history([{k: v for k, v in row.items() if not k.startswith("val")} for row in ROWS])
    assert [len(ax.lines) for ax in fig.axes] == [1, 1]


def test_plot_lr_schedule_one_or_several_curves():
    fig = plot_lr_schedule([0.1, 0.2, 0.1])
    assert_labelled(fig, 1)
    assert fig.axes[0].get_xlabel() == "optimiser step" and "learning rate" in fig.axes[0].get_ylabel()
    assert len(plot_lr_schedule({"backbone": [1, 2], "head": [10, 20]}).axes[0].lines) == 2


def test_bar_chart_labels_bars_and_axis():
    fig = bar_chart({"frozen": 0.91, "fine-tuned": 0.953}, "Validation accuracy", "accuracy (fraction)")
    assert_labelled(fig, 1)
    ax = fig.axes[0]
    assert ax.get_title() == "Validation accuracy" and ax.get_ylabel() == "accuracy (fraction)"
    assert [t.get_text() for t in ax.texts] == ["0.91", "0.953"]
    with pytest.raises(ValueError, match="no values"):
        bar_chart({}, "t", "y")


def test_figures_display_without_pyplot():
    from transfer_lessons.plots import bars as bar_chart

    png = bar_chart({"a": 1.0, "b": 2.0}, title="t", ylabel="y")._repr_png_()
    assert png.startswith(b"\x89PNG"), "Jupyter shows a returned figure through _repr_png_"


TABLE = {"small": {"latency_ms": 5.0, "probe_acc": 0.90, "params_m": 4.6},
         "big": {"latency_ms": 20.0, "probe_acc": 0.95, "params_m": 25.0},
         "bad": {"latency_ms": 30.0, "probe_acc": 0.80, "params_m": 11.0}}


def test_plot_tradeoff_sizes_markers_and_highlights_the_front():
    from transfer_lessons.plots import tradeoff as plot_tradeoff

    fig = plot_tradeoff(TABLE, front=["small", "big"])
    assert_labelled(fig, 1)
    ax = fig.axes[0]
    assert "ms" in ax.get_xlabel() and "(%)" in ax.get_ylabel()
    sizes = [float(c.get_sizes()[0]) for c in ax.collections]
    assert sizes == sorted(sizes, key=lambda s: [4.6 * 40, 25 * 40, 11 * 40].index(s)) and sizes[1] > sizes[0]
    assert len(ax.lines) == 1 and list(ax.lines[0].get_ydata()) == pytest.approx([90.0, 95.0])
    assert [t.get_text().split("\n")[0] for t in ax.texts] == ["small", "big", "bad"]
    with pytest.raises(ValueError, match="empty"):
        plot_tradeoff({})


def test_plot_tradeoffs_draws_one_panel_per_dataset():
    from transfer_lessons.plots import tradeoffs

    other = {name: {**row, "probe_acc": row["probe_acc"] / 2} for name, row in TABLE.items()}
    fig = tradeoffs({"near": (TABLE, ["small", "big"]), "far": (other, ["small"])}, title="Backbones on each dataset")
    assert fig._suptitle.get_text() == "Backbones on each dataset"
    assert [ax.get_title() for ax in fig.axes] == ["near", "far"]
    assert all("ms" in ax.get_xlabel() and "(%)" in ax.get_ylabel() for ax in fig.axes)
    assert list(fig.axes[1].lines[0].get_ydata()) == pytest.approx([45.0]), "each panel its own front and accuracies"
    with pytest.raises(ValueError, match="panel"):
        tradeoffs({"near": ({}, [])})


def test_plot_feature_pca_one_panel_per_projection():
    from transfer_lessons.plots import feature_pca as plot_feature_pca

    xy, labels = torch.randn(10, 2), torch.arange(10) % 2
    fig = plot_feature_pca({"pretrained": (xy, labels), "random": (xy, labels)}, ["ants", "bees"])
    assert_labelled(fig, 2)
    assert [ax.get_title() for ax in fig.axes] == ["pretrained", "random"]
    assert [len(c.get_offsets()) for c in fig.axes[0].collections] == [5, 5]
    with pytest.raises(ValueError, match="no projections"):
        plot_feature_pca({}, ["a"])


def test_plot_confusion_matrix_writes_counts_in_cells():
    from transfer_lessons.plots import confusion_matrix as plot_confusion_matrix

    fig = plot_confusion_matrix(torch.tensor([[5, 1], [0, 7]]), ["ants", "bees"])
    assert_labelled(fig, 1)
    ax = fig.axes[0]
    assert ax.get_title() == "Confusion matrix (validation)", f"title {ax.get_title()!r}"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted class", "true class")
    assert [t.get_text() for t in ax.texts] == ["5", "1", "0", "7"], "cells should read row by row"
    assert [t.get_position() for t in ax.texts][1] == (1, 0), "row = true class, column = predicted"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ants", "bees"]
    assert fig._repr_png_().startswith(b"\x89PNG"), "the figure does not render"
    with pytest.raises(ValueError, match=r"matrix \(2, 2\) for 3 classes"):
        plot_confusion_matrix(torch.zeros(2, 2, dtype=torch.long), ["a", "b", "c"])


def test_plot_lr_find_log_x_smoothed_raw_and_suggestion():
    from transfer_lessons.plots import lr_find as plot_lr_find

    lrs = [1e-5 * 10 ** (i / 4) for i in range(17)]
    losses = [1.0 - 0.04 * i if i < 13 else 0.5 + 0.5 * (i - 12) for i in range(17)]
    result = {"lrs": lrs, "losses": losses, "raw_losses": [v + 0.05 for v in losses],
              "suggestion": lrs[6], "min_loss_lr": lrs[12] / 10, "stopped_early": True}
    fig = plot_lr_find(result)
    assert_labelled(fig, 1)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log", f"x axis is {ax.get_xscale()}, expected log"
    assert "learning rate" in ax.get_xlabel(), f"x label {ax.get_xlabel()!r}"
    smoothed, raw, marker = [[line for line in ax.lines if line.get_label().startswith(k)][0]
                             for k in ("smoothed", "raw", "steepest")]
    assert list(smoothed.get_ydata()) == losses and raw.get_alpha() < 0.5, "smoothed curve or faint raw curve missing"
    where = (list(marker.get_xdata()), list(marker.get_ydata()))
    assert where == ([lrs[6]], [losses[6]]), f"marker at {where}, expected the suggestion ({lrs[6]}, {losses[6]})"
    assert len(plot_lr_find({**result, "suggestion": None}).axes[0].lines) == 2
    with pytest.raises(ValueError, match="no points"):
        plot_lr_find({"lrs": [], "losses": [], "raw_losses": [], "suggestion": None})


def test_plot_histories_one_line_per_run_on_both_axes():
    from transfer_lessons.plots import histories as plot_histories

    runs = {"a": [{"epoch": 1, "train_loss": 0.7, "val_acc": 0.6}, {"epoch": 2, "train_loss": 0.5, "val_acc": 0.8}],
            "b": [{"epoch": 1, "train_loss": 0.6, "val_acc": 0.9}]}
    fig = plot_histories(runs, title="runs")
    assert_labelled(fig, 2)
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.lines) == len(acc_ax.lines) == 2
    assert list(acc_ax.lines[0].get_ydata()) == pytest.approx([60.0, 80.0]), "accuracy should be in percent"
    with pytest.raises(ValueError, match="'b' has no epochs"):
        plot_histories({"b": []})


def test_plot_data_efficiency_log_x_in_percent_with_image_counts():
    from transfer_lessons.plots import data_efficiency as plot_data_efficiency

    fig = plot_data_efficiency({"pretrained": {0.1: 0.9, 1.0: 0.95}, "scratch": {1.0: 0.6, 0.1: 0.5}}, 200)
    assert_labelled(fig, 1)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.lines) == 2
    assert list(ax.lines[1].get_xdata()) == [10.0, 100.0], "fractions should be sorted and in percent"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10%\n(20 img)", "100%\n(200 img)"]
    with pytest.raises(ValueError, match="no curves"):
        plot_data_efficiency({}, 10)


def test_robustness_figures_are_labelled_and_reject_empty_input():
    from transfer_lessons.evaluation import reliability_bins
    from transfer_lessons.plots import attack_curves as plot_attack_curves
    from transfer_lessons.plots import reliability as plot_reliability
    from transfer_lessons.plots import roc as plot_roc
    from transfer_lessons.plots import score_histograms as plot_score_histograms

    fig = plot_score_histograms({"clean": torch.tensor([0.1, 0.2, 0.3, 0.4]), "FGSM": torch.tensor([0.5, 0.9])},
                                threshold=0.25)
    assert_labelled(fig, 1)
    legend = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    assert "clean: 4, 50% above the threshold" in legend and "FGSM: 2, 100% above the threshold" in legend, legend
    fig = plot_attack_curves({"a": {0: 0.9, 4 / 255: 0.1}, "b": {0: 0.8, 4 / 255: 0.5}})
    assert_labelled(fig, 1)
    assert list(fig.axes[0].lines[0].get_xdata()) == pytest.approx([0, 4]), "ε drawn in grey levels"
    fig = plot_roc({"perfect": (torch.tensor([0.1, 0.2]), torch.tensor([0.8, 0.9]))})
    assert_labelled(fig, 1)
    assert "AUC 1.00" in fig.axes[0].get_legend().get_texts()[0].get_text()
    logits = torch.tensor([[3.0, 0.0], [0.0, 2.0], [1.0, 0.5], [0.2, 0.1]])
    fig = plot_reliability({"model": reliability_bins(logits, torch.tensor([0, 1, 1, 0]))})
    assert_labelled(fig, 1)
    for plot in (plot_attack_curves, plot_roc, plot_reliability, plot_score_histograms):
        with pytest.raises(ValueError, match="no"):
            plot({})


def test_plot_histories_draws_another_metric_and_tradeoff_takes_labels():
    from transfer_lessons.plots import histories as plot_histories
    from transfer_lessons.plots import tradeoff as plot_tradeoff

    rows = [{"epoch": 1, "train_loss": 1.0, "map_50": 0.4}, {"epoch": 2, "train_loss": 0.5, "map_50": 0.6}]
    fig = plot_histories({"a": rows},
                         metric="map_50", metric_label="AP50 (%)", metric_title="AP at IoU 0.5")
    right = fig.axes[1]
    assert right.get_ylabel() == "AP50 (%)" and right.get_title() == "AP at IoU 0.5"
    assert list(right.lines[0].get_ydata()) == [40.0, 60.0]
    fig = plot_tradeoff({"x": {"latency_ms": 5.0, "map_50": 0.5, "params_m": 1.0}}, y="map_50", ylabel="AP50 (%)")
    assert fig.axes[0].get_ylabel() == "AP50 (%)"
