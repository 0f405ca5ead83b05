"""Tests for transfer_lessons.plots: every function returns a titled Figure with labelled axes."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from transfer_lessons import plots
from transfer_lessons.plots import bar_chart, plot_history, plot_lr_schedule, show_images

ROWS = [{"epoch": e, "train_loss": 1 / e, "train_acc": 0.5 + e / 10, "val_loss": 1.2 / e,
         "val_acc": 0.4 + e / 10} for e in (1, 2, 3)]


def test_all_lists_public_names():
    public = {name for name, obj in vars(plots).items()
              if not name.startswith("_") and getattr(obj, "__module__", None) == plots.__name__}
    assert sorted(plots.__all__) == sorted(public), f"__all__ {sorted(plots.__all__)} != public {sorted(public)}"


def assert_labelled(fig, n_axes: int):
    assert isinstance(fig, Figure), f"expected a Figure, got {type(fig).__name__}"
    assert len(fig.axes) == n_axes, f"{len(fig.axes)} axes, expected {n_axes}"
    for ax in fig.axes:
        assert ax.get_title() or fig.get_suptitle(), "an axes has no title"
        if ax.axison:
            assert ax.get_ylabel(), f"axes {ax.get_title()!r} has no y label"


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


def test_show_images_accepts_uint8_float_and_pil_and_denormalises():
    uint8 = torch.randint(0, 256, (5, 3, 8, 8), dtype=torch.uint8)
    fig = show_images(uint8, titles=list("abcde"), ncols=3)
    assert isinstance(fig, Figure) and len(fig.axes) == 6 and fig.get_suptitle() == "Images"
    assert [ax.get_title() for ax in fig.axes[:5]] == list("abcde")

    mean, std = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]
    normalised = (torch.full((1, 3, 4, 4), 0.75) - 0.5) / 0.25
    drawn = show_images(normalised, mean=mean, std=std).axes[0].images[0].get_array()
    assert float(drawn.max()) == pytest.approx(0.75), "normalised images were not denormalised"

    pil = [Image.new("RGB", (8, 6), (255, 0, 0)), Image.new("L", (8, 6), 128)]
    fig = show_images(pil, title="Photos")
    assert fig.get_suptitle() == "Photos" and fig.axes[0].images[0].get_array().shape == (6, 8, 3)


def test_show_images_rejects_mismatched_titles():
    with pytest.raises(ValueError, match="1 titles for 2 images"):
        show_images(torch.zeros(2, 3, 4, 4), titles=["one"])
    with pytest.raises(ValueError, match="no images"):
        show_images([])


def test_bar_chart_labels_bars_and_axis():
    fig = bar_chart({"frozen": 0.91, "fine-tuned": 0.953}, "Validation accuracy", "accuracy (fraction)")
    assert_labelled(fig, 1)
    ax = fig.axes[0]
    assert ax.get_title() == "Validation accuracy" and ax.get_ylabel() == "accuracy (fraction)"
    assert [t.get_text() for t in ax.texts] == ["0.91", "0.953"]
    with pytest.raises(ValueError, match="no values"):
        bar_chart({}, "t", "y")


def test_figures_display_without_pyplot():
    from transfer_lessons.plots import bar_chart

    png = bar_chart({"a": 1.0, "b": 2.0}, title="t", ylabel="y")._repr_png_()
    assert png.startswith(b"\x89PNG"), "Jupyter shows a returned figure through _repr_png_"


TABLE = {"small": {"latency_ms": 5.0, "probe_acc": 0.90, "params_m": 4.6},
         "big": {"latency_ms": 20.0, "probe_acc": 0.95, "params_m": 25.0},
         "bad": {"latency_ms": 30.0, "probe_acc": 0.80, "params_m": 11.0}}


def test_plot_tradeoff_sizes_markers_and_highlights_the_front():
    from transfer_lessons.plots import plot_tradeoff

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


def test_plot_feature_pca_one_panel_per_projection():
    from transfer_lessons.plots import plot_feature_pca

    xy, labels = torch.randn(10, 2), torch.arange(10) % 2
    fig = plot_feature_pca({"pretrained": (xy, labels), "random": (xy, labels)}, ["ants", "bees"])
    assert_labelled(fig, 2)
    assert [ax.get_title() for ax in fig.axes] == ["pretrained", "random"]
    assert [len(c.get_offsets()) for c in fig.axes[0].collections] == [5, 5]
    with pytest.raises(ValueError, match="no projections"):
        plot_feature_pca({}, ["a"])


def test_show_retrieval_colours_titles_by_class_match():
    from transfer_lessons.plots import show_retrieval

    images = [torch.randint(0, 256, (3, 8, 10), dtype=torch.uint8) for _ in range(3)]
    fig = show_retrieval(images[:1], [images[1:]], [0], [[0, 1]], torch.tensor([[0.9, 0.5]]), ["ants", "bees"])
    assert isinstance(fig, Figure) and len(fig.axes) == 3 and fig.get_suptitle()
    titles = [ax.title for ax in fig.axes]
    assert [t.get_text() for t in titles] == ["query: ants", "ants 0.90", "bees 0.50"]
    assert titles[1].get_color() == "tab:green" and titles[2].get_color() == "tab:red"
    with pytest.raises(ValueError, match="at least one query"):
        show_retrieval([], [], [], [], [], ["a"])


def test_show_feature_map_overlays_the_map():
    from transfer_lessons.plots import show_feature_map

    fig = show_feature_map(torch.rand(3, 32, 48), torch.rand(4, 6))
    assert_labelled(fig, 2)
    assert len(fig.axes[1].images) == 2 and fig.axes[1].get_title() == "feature map (4x6 cells)"
    assert fig._repr_png_().startswith(b"\x89PNG"), "the figure does not display itself in Jupyter"
