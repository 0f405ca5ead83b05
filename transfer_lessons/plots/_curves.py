from __future__ import annotations

from typing import Mapping

from matplotlib.figure import Figure

from ._figure import figure, figure_with_axes


def history(history, title: str = "Training history") -> Figure:
    """Loss and accuracy (in percent) against epoch, for the training and validation sets, side by side.

    ``history``: a ``tl.training.History`` or a list of per-epoch dicts with ``epoch``, ``train_loss``,
    ``train_acc`` and optionally ``val_loss``, ``val_acc``. Raises: ValueError: the history has no rows.
    """
    rows = list(history)
    if not rows:
        raise ValueError("history: the history is empty; train at least one epoch first.")
    fig = figure(10, 4)
    loss_ax, acc_ax = fig.subplots(1, 2)
    epochs = [row["epoch"] for row in rows]
    for split, style in (("train", "o-"), ("val", "s--")):
        for ax, key, scale in ((loss_ax, "loss", 1), (acc_ax, "acc", 100)):
            values = [row.get(f"{split}_{key}") for row in rows]
            if any(v is not None for v in values):
                ax.plot(epochs, [float("nan") if v is None else scale * v for v in values], style, label=split)
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

    ``histories``: run name → ``History`` or per-epoch dicts. ``metric``, ``metric_label``, ``metric_title``: the
    right panel's row key (a fraction, drawn in percent), axis label and title; e.g. ``"map_50"`` for AP50.
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
    """Validation accuracy against the share of training images used (log scale), one line per method.

    ``curves``: method → {fraction in (0, 1]: accuracy in [0, 1]}; ``train_images``: images at fraction 1.
    """
    if not curves:
        raise ValueError("data_efficiency: no curves given.")
    fig, ax = figure_with_axes(6.5, 4.5)
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
    """The learning rate at every optimiser step, e.g. from ``tl.training.preview_schedule``.

    ``lrs``: a sequence of learning rates, or name → sequence, one line each (``{"backbone": [...], "head": [...]}``).
    """
    curves = dict(lrs) if isinstance(lrs, Mapping) else {"lr": list(lrs)}
    fig, ax = figure_with_axes(6, 4)
    for name, values in curves.items():
        ax.plot(range(len(values)), list(values), label=name)
    ax.set(title=title, xlabel="optimiser step", ylabel="learning rate (per step)")
    if len(curves) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    return fig


def lr_find(result: Mapping, title: str = "Learning-rate range test") -> Figure:
    """The loss against the learning rate from ``tl.training.lr_find``, with its suggested rate (if any) marked."""
    lrs, losses, raw = list(result["lrs"]), list(result["losses"]), list(result["raw_losses"])
    if not lrs:
        raise ValueError("lr_find: the result has no points; the first loss was not finite (try a lower start_lr).")
    fig, ax = figure_with_axes(6, 4)
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

