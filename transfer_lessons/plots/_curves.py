"""Curves of training runs: loss and accuracy per epoch, data efficiency, learning-rate schedules and range
tests; each a ``LessonFigure`` titled ``title``, with labelled axes and units.
"""

from __future__ import annotations

from typing import Mapping

from matplotlib.figure import Figure

from ._figure import figure


def history(history, title: str = "Training history") -> Figure:
    """Loss and accuracy against epoch, for the training and validation sets.

    Args:
        history: a ``tl.training.History`` or a list of per-epoch dicts with ``epoch``, ``train_loss``,
            ``train_acc`` and optionally ``val_loss``, ``val_acc``.
    Returns: A Figure with two axes: loss (left) and accuracy in percent (right).
    Raises: ValueError: the history has no rows.
    Example: ``fig = tl.plots.history(history)``
    Shown in lesson 02, *Fine-tuning*.
    """
    rows = list(history)
    if not rows:
        raise ValueError("history: the history is empty; train at least one epoch first.")
    fig = figure(10, 4)
    loss_ax, acc_ax = fig.subplots(1, 2)
    epochs = [row["epoch"] for row in rows]
    for split, style in (("train", "o-"), ("val", "s--")):
        losses = [row.get(f"{split}_loss") for row in rows]
        accs = [row.get(f"{split}_acc") for row in rows]
        if any(v is not None for v in losses):
            loss_ax.plot(epochs, [float("nan") if v is None else v for v in losses], style, label=split)
        if any(v is not None for v in accs):
            acc_ax.plot(epochs, [float("nan") if v is None else 100 * v for v in accs], style, label=split)
    loss_ax.set(title="Loss", xlabel="epoch", ylabel="cross-entropy loss (nats per image)")
    acc_ax.set(title="Accuracy", xlabel="epoch", ylabel="top-1 accuracy (%)")
    for ax in (loss_ax, acc_ax):
        ax.legend()
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)  # epochs are whole numbers
    fig.suptitle(title)
    return fig


def histories(histories: Mapping[str, object], title: str = "Learning curves", metric: str = "val_acc",
                   metric_label: str = "top-1 accuracy (%)", metric_title: str = "Validation accuracy") -> Figure:
    """Several runs' learning curves side by side: training loss and validation accuracy per epoch.

    Args:
        histories: run name → ``History`` or per-epoch dicts. metric, metric_label, metric_title: the right panel's
            row key (a fraction, drawn in percent), axis label and title; e.g. ``"map_50"`` for AP50 (lesson 03).
    Returns: A Figure with two axes: training loss (left), the metric in percent (right).
    Raises: ValueError: no runs, or a run with no rows.
    Example: ``fig = tl.plots.histories({"full": full_history, "linear_probe": probe_history})``
    Shown in lesson 02, *Fine-tuning strategies*.
    """
    if not histories:
        raise ValueError("histories: no runs given.")
    fig = figure(10, 4)
    loss_ax, acc_ax = fig.subplots(1, 2)
    for name, history in histories.items():
        rows = list(history)
        if not rows:
            raise ValueError(f"histories: run {name!r} has no epochs.")
        epochs = [row["epoch"] for row in rows]
        loss_ax.plot(epochs, [row["train_loss"] for row in rows], "o-", label=name)
        values = [row.get(metric) for row in rows]
        acc_ax.plot(epochs, [float("nan") if v is None else 100 * v for v in values], "s-", label=name)
    loss_ax.set(title="Training loss", xlabel="epoch",
                ylabel="cross-entropy loss (nats per image)" if metric == "val_acc" else "training loss")
    acc_ax.set(title=metric_title, xlabel="epoch", ylabel=metric_label)
    for ax in (loss_ax, acc_ax):
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(title)
    return fig


def data_efficiency(curves: Mapping[str, Mapping[float, float]], train_images: int,
                         title: str = "Accuracy against training-set size") -> Figure:
    """Validation accuracy against the fraction of training images used, one line per method.

    Args: curves: method → {fraction in (0, 1]: accuracy in [0, 1]}. train_images: images at fraction 1 (tick labels).
    Returns: A Figure with one axes: accuracy (%) against percent of the training set (log scale).
    Raises: ValueError: no curves.
    Example: ``fig = tl.plots.data_efficiency({"pretrained": {0.1: 0.9, 1.0: 0.95}, "scratch": {0.1: 0.5}}, 245)``
    Shown in lesson 02, *Data efficiency*.
    """
    if not curves:
        raise ValueError("data_efficiency: no curves given.")
    fig = figure(6.5, 4.5)
    ax = fig.subplots()
    for name, points in curves.items():
        fractions = sorted(points)
        ax.plot([100 * f for f in fractions], [100 * points[f] for f in fractions], "o-", label=name)
        for f in fractions:
            ax.annotate(f"{100 * points[f]:.0f}", (100 * f, 100 * points[f]), textcoords="offset points",
                        xytext=(0, 6), ha="center", fontsize="small")
    ax.set_xscale("log")
    ticks = sorted({f for points in curves.values() for f in points})
    ax.set_xticks([100 * f for f in ticks], [f"{100 * f:.0f}%\n({round(f * train_images)} img)" for f in ticks])
    ax.minorticks_off()
    ax.set(title=title, xlabel="share of the training images (log scale)", ylabel="validation accuracy (%)")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def lr_schedule(lrs, title: str = "Learning-rate schedule") -> Figure:
    """The learning rate at every optimiser step.

    Args: lrs: a sequence of learning rates, or name → sequence, one line each (``{"backbone": [...], "head": [...]}``).
    Returns: A Figure with one axes: learning rate against optimiser step.
    Example: ``fig = tl.plots.lr_schedule(tl.training.preview_schedule("cosine", total_steps=100, warmup_steps=10))``
    Shown in lesson 02, *Fine-tuning*.
    """
    curves = dict(lrs) if isinstance(lrs, Mapping) else {"lr": list(lrs)}
    fig = figure(6, 4)
    ax = fig.subplots()
    for name, values in curves.items():
        ax.plot(range(len(values)), list(values), label=name)
    ax.set(title=title, xlabel="optimiser step", ylabel="learning rate (per step)")
    if len(curves) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    return fig


def lr_find(result: Mapping, title: str = "Learning-rate range test") -> Figure:
    """The loss against the learning rate from ``tl.training.lr_find``, with its suggested rate (if any) marked.

    Args: result: the dict ``lr_find`` returns (``lrs``, ``losses``, ``raw_losses``, ``suggestion``).
    Returns: A Figure with one axes, learning rate on a log scale: the smoothed loss, the raw loss faint behind it.
    Raises: ValueError: the result has no points (the very first loss was not finite).
    Example: ``fig = tl.plots.lr_find(tl.training.lr_find(model, train_loader, nn.CrossEntropyLoss()))``
    Shown in lesson 02, *Finding a learning rate*.
    """
    lrs, losses, raw = list(result["lrs"]), list(result["losses"]), list(result["raw_losses"])
    if not lrs:
        raise ValueError("lr_find: the result has no points; the first loss was not finite (try a lower start_lr).")
    fig = figure(6, 4)
    ax = fig.subplots()
    ax.plot(lrs, raw, color="tab:blue", alpha=0.25, label="raw loss")
    ax.plot(lrs, losses, color="tab:blue", label="smoothed loss")
    suggestion = result.get("suggestion")
    if suggestion is not None:
        nearest = min(range(len(lrs)), key=lambda i: abs(lrs[i] - suggestion))
        ax.plot(suggestion, losses[nearest], "o", color="tab:red", label=f"steepest descent: {suggestion:.2g}")
    # A diverging raw loss can be 1000x the rest; cut the axis at the smoothed curve's top.
    low, high = min(raw + losses), max(losses)
    ax.set_ylim(low - 0.1 * (high - low) - 1e-9, high + 0.1 * (high - low) + 1e-9)
    ax.set_xscale("log")
    ax.set(title=title, xlabel="learning rate (log scale)", ylabel="training loss (per batch)")
    ax.legend()
    ax.grid(alpha=0.3)
    return fig

