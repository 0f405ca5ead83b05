"""Figures for the lessons: each function returns a titled matplotlib Figure with labelled axes.

Figures are built with ``matplotlib.figure.Figure``, not ``pyplot``: pyplot would keep a
reference to every figure (a memory leak over a long notebook) and Jupyter's inline
backend would draw it twice, once at the end of the cell and once as the returned value.
A returned ``Figure`` is displayed by Jupyter once, and works with any backend.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from matplotlib.figure import Figure

__all__ = ["plot_history", "plot_histories", "plot_data_efficiency", "plot_lr_schedule", "bar_chart", "plot_tradeoff", "plot_feature_pca", "plot_confusion_matrix", "plot_lr_find",
           "plot_attack_curves", "plot_roc", "plot_reliability"]


class _LessonFigure(Figure):
    """A Figure that Jupyter shows by itself: it renders to PNG without pyplot being imported."""

    def _repr_png_(self) -> bytes:
        import io

        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


def plot_history(history, title: str = "Training history") -> Figure:
    """Loss and accuracy against epoch, for the training and validation sets.

    Args:
        history: a ``metrics.History`` or a list of per-epoch dicts with ``epoch``,
            ``train_loss``, ``train_acc`` and optionally ``val_loss``, ``val_acc``.
        title: the figure's title.

    Returns:
        A Figure with two axes: loss (left) and accuracy in percent (right).

    Raises:
        ValueError: the history has no rows.

    Example:
        >>> fig = plot_history(history)  # or history.plot()

    Shown in lesson 02, *Fine-tuning*.
    """
    rows = list(history)
    if not rows:
        raise ValueError("plot_history: the history is empty; train at least one epoch first.")
    fig = _LessonFigure(figsize=(10, 4), layout="constrained")
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


def plot_histories(histories: Mapping[str, object], title: str = "Learning curves", metric: str = "val_acc",
                   metric_label: str = "top-1 accuracy (%)", metric_title: str = "Validation accuracy") -> Figure:
    """Several runs' learning curves side by side: training loss and validation accuracy per epoch.

    Args:
        histories: run name → ``History`` (or list of per-epoch dicts).
        title: the figure's title.
        metric, metric_label, metric_title: the right panel's row key (a fraction, drawn in percent),
            its axis label and title; e.g. ``"map_50"`` for a detector's AP50 (lesson 03).

    Returns:
        A Figure with two axes: training loss (left), the metric in percent (right).

    Raises:
        ValueError: no runs, or a run with no rows.

    Example:
        >>> fig = plot_histories({"full": full_history, "linear_probe": probe_history})

    Shown in lesson 02, *Fine-tuning strategies*.
    """
    if not histories:
        raise ValueError("plot_histories: no runs given.")
    fig = _LessonFigure(figsize=(10, 4), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    for name, history in histories.items():
        rows = list(history)
        if not rows:
            raise ValueError(f"plot_histories: run {name!r} has no epochs.")
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


def plot_data_efficiency(curves: Mapping[str, Mapping[float, float]], train_images: int,
                         title: str = "Accuracy against training-set size") -> Figure:
    """Validation accuracy against the fraction of training images used, one line per method.

    Args:
        curves: method name → {fraction in (0, 1]: validation accuracy in [0, 1]}.
        train_images: the number of images at fraction 1, for the top axis.
        title: the figure's title.

    Returns:
        A Figure with one axes: accuracy (%) against percent of the training set (log scale).

    Raises:
        ValueError: no curves.

    Example:
        >>> fig = plot_data_efficiency({"pretrained": {0.1: 0.9, 1.0: 0.95}, "scratch": {0.1: 0.5, 1.0: 0.6}}, 245)

    Shown in lesson 02, *Data efficiency*.
    """
    if not curves:
        raise ValueError("plot_data_efficiency: no curves given.")
    fig = _LessonFigure(figsize=(6.5, 4.5), layout="constrained")
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


def plot_lr_schedule(lrs, title: str = "Learning-rate schedule") -> Figure:
    """The learning rate at every optimiser step.

    Args:
        lrs: a sequence of learning rates, or a dict of name → sequence (one line each,
            e.g. ``{"backbone": [...], "head": [...]}``).
        title: the figure's title.

    Returns:
        A Figure with one axes: learning rate against optimiser step.

    Example:
        >>> fig = plot_lr_schedule(preview_schedule("cosine", total_steps=100, warmup_steps=10))

    Shown in lesson 02, *Fine-tuning*.
    """
    curves = dict(lrs) if isinstance(lrs, Mapping) else {"lr": list(lrs)}
    fig = _LessonFigure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    for name, values in curves.items():
        ax.plot(range(len(values)), list(values), label=name)
    ax.set(title=title, xlabel="optimiser step", ylabel="learning rate (per step)")
    if len(curves) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    return fig


def bar_chart(values: Mapping[str, float], title: str, ylabel: str) -> Figure:
    """One bar per named value, each labelled with its number.

    Args:
        values: name → number, drawn in the dict's order.
        title: the figure's title.
        ylabel: the value axis label, with its unit, e.g. ``"latency (ms per image)"``.

    Returns:
        A Figure with one axes.

    Raises:
        ValueError: ``values`` is empty.

    Example:
        >>> fig = bar_chart({"frozen": 0.91, "fine-tuned": 0.95}, "Validation accuracy", "accuracy (fraction)")

    Shown in lesson 04, *Comparing backbones*.
    """
    if not values:
        raise ValueError("bar_chart: no values given.")
    fig = _LessonFigure(figsize=(max(4, 1.2 * len(values)), 4), layout="constrained")
    ax = fig.subplots()
    bars = ax.bar([str(name) for name in values], [float(v) for v in values.values()])
    ax.bar_label(bars, fmt="%.3g")
    ax.set(title=title, xlabel="", ylabel=ylabel)
    long_labels = len(values) > 4 or max(len(str(name)) for name in values) > 12
    ax.tick_params(axis="x", labelrotation=25 if long_labels else 0)
    if long_labels:
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
    ax.grid(axis="y", alpha=0.3)
    return fig


def plot_tradeoff(table: Mapping[str, Mapping], front: Sequence[str] = (), x: str = "latency_ms",
                  y: str = "probe_acc", size: str = "params_m",
                  title: str = "Accuracy against latency", ylabel: str = "accuracy (%)",
                  xlabel: str = "latency at batch 1 (ms per image)") -> Figure:
    """One marker per backbone at (latency, accuracy), its area growing with its parameter count.

    Args:
        table: name → row with numbers under ``x``, ``y`` and ``size``.
        front: names on the Pareto front; joined by a line and drawn filled.
        x, y, size: row keys: cost (ms per image), score (fraction), parameters (millions).
        title, ylabel, xlabel: the figure's title and axis labels.

    Returns:
        A Figure with one axes, each marker labelled with its name.

    Raises:
        ValueError: the table is empty.

    Example:
        >>> fig = plot_tradeoff(table, front=pareto_front(points))

    Shown in lesson 01, *Backbone selection*.
    """
    if not table:
        raise ValueError("plot_tradeoff: the table is empty; measure at least one backbone.")
    fig = _LessonFigure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    for name, row in table.items():
        on_front = name in front
        ax.scatter(row[x], 100 * row[y], s=40 * float(row[size]), alpha=0.8 if on_front else 0.4,
                   facecolor="tab:orange" if on_front else "none", edgecolor="tab:orange" if on_front else "gray")
        ax.annotate(f"{name}\n{float(row[size]):.1f} M", (row[x], 100 * row[y]), fontsize=8,
                    xytext=(6, 6), textcoords="offset points")
    if front:
        ordered = sorted(front, key=lambda n: table[n][x])
        ax.plot([table[n][x] for n in ordered], [100 * table[n][y] for n in ordered], "--",
                color="tab:orange", label="Pareto front")
        ax.legend(loc="lower right")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.margins(0.25)
    ax.grid(alpha=0.3)
    return fig


def plot_feature_pca(projections: Mapping[str, tuple], classes: Sequence[str],
                     title: str = "Features projected on their first two principal components") -> Figure:
    """Side-by-side 2-D scatter plots of features, coloured by class.

    Args:
        projections: panel title → ``(xy [N, 2], labels [N])`` (from ``features.pca``).
        classes: class names, indexed by label.
        title: the figure's title.

    Returns:
        A Figure with one axes per panel.

    Raises:
        ValueError: no projections.

    Example:
        >>> fig = plot_feature_pca({"pretrained": (xy, y), "random init": (xy0, y)}, data.classes)

    Shown in lesson 01, *Backbone selection*.
    """
    if not projections:
        raise ValueError("plot_feature_pca: no projections given.")
    fig = _LessonFigure(figsize=(5 * len(projections), 4.5), layout="constrained")
    axes = fig.subplots(1, len(projections), squeeze=False).ravel()
    for ax, (name, (xy, labels)) in zip(axes, projections.items()):
        for index, cls in enumerate(classes):
            chosen = labels == index
            ax.scatter(xy[chosen, 0], xy[chosen, 1], s=12, alpha=0.7, label=cls)
        ax.set(title=name, xlabel="principal component 1 (feature units)",
               ylabel="principal component 2 (feature units)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return fig


def plot_confusion_matrix(matrix, classes: Sequence[str],
                          title: str = "Confusion matrix (validation)") -> Figure:
    """A class-by-class grid of counts: row = true class, column = predicted class.

    Args:
        matrix: ``[C, C]`` counts (from ``interpret.confusion_matrix``), rows = true class.
        classes: the C class names, indexed by label.
        title: the figure's title.

    Returns:
        A Figure with one axes, each cell labelled with its count; right answers lie on the diagonal.

    Raises:
        ValueError: the matrix is not C x C for the C class names.

    Example:
        >>> matrix = confusion_matrix(out["logits"], out["targets"])
        >>> fig = plot_confusion_matrix(matrix, data.classes)

    Shown in lesson 02, *Evaluating the fine-tuned model*.
    """
    import torch

    counts, n = torch.as_tensor(matrix).detach().cpu(), len(classes)
    if tuple(counts.shape) != (n, n):
        raise ValueError(f"plot_confusion_matrix: matrix {tuple(counts.shape)} for {n} classes; "
                         f"expected ({n}, {n}).")
    fig = _LessonFigure(figsize=(max(4, 0.7 * n + 2.5), max(3.5, 0.7 * n + 2)), layout="constrained")
    ax = fig.subplots()
    ax.imshow(counts.float().numpy(), cmap="Blues", vmin=0)
    middle = float(counts.max()) / 2  # white text on dark cells, black on light ones
    for row in range(n):
        for col in range(n):
            value = counts[row, col].item()
            ax.text(col, row, f"{value:.2f}" if counts.is_floating_point() else str(value), ha="center",
                    va="center", color="white" if value > middle else "black")
    ax.set_xticks(range(n), labels=[str(c) for c in classes], rotation=30 if n > 4 else 0)
    ax.set_yticks(range(n), labels=[str(c) for c in classes])
    ax.set(title=title, xlabel="predicted class", ylabel="true class")
    return fig


def plot_lr_find(result: Mapping, title: str = "Learning-rate range test") -> Figure:
    """The loss against the learning rate from ``lr_find``, with its suggested rate marked.

    Args:
        result: the dict ``lr_find`` returns (``lrs``, ``losses``, ``raw_losses``, ``suggestion``).
        title: the figure's title.

    Returns:
        A Figure with one axes, learning rate on a log scale: the smoothed loss, the raw
        loss faint behind it, and a marker at the suggestion (when there is one).

    Raises:
        ValueError: the result has no points (the very first loss was not finite).

    Example:
        >>> fig = plot_lr_find(lr_find(model, train_loader, nn.CrossEntropyLoss()))

    Shown in lesson 02, *Finding a learning rate*.
    """
    lrs, losses, raw = list(result["lrs"]), list(result["losses"]), list(result["raw_losses"])
    if not lrs:
        raise ValueError("plot_lr_find: the result has no points; the first loss was not finite (try a lower start_lr).")
    fig = _LessonFigure(figsize=(6, 4), layout="constrained")
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


def plot_attack_curves(curves: Mapping[str, Mapping[float, float]], title: str = "Accuracy under attack") -> Figure:
    """Accuracy against the attack budget ε, one line per model (or attack).

    Args:
        curves: name → {ε in pixel units (4/255): accuracy in [0, 1]}; ε = 0 is the clean accuracy.
        title: the figure's title.
    Returns:
        A Figure with one axes; ε is shown in grey levels (ε × 255).
    Raises:
        ValueError: ``curves`` is empty.
    Example:
        >>> fig = plot_attack_curves({"full": {0: 0.9, 4 / 255: 0.1}})
    Shown in lesson 05, *Accuracy against the attack budget*.
    """
    if not curves:
        raise ValueError("plot_attack_curves: no curves given.")
    fig = _LessonFigure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.subplots()
    for name, points in curves.items():
        eps = sorted(points)
        ax.plot([255 * e for e in eps], [100 * points[e] for e in eps], "o-", label=name)
    ax.set(title=title, xlabel="attack budget ε (grey levels out of 255, per pixel)", ylabel="accuracy (%)",
           ylim=(-3, 103))
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def plot_roc(detectors: Mapping[str, tuple], title: str = "Detecting attacked images") -> Figure:
    """ROC curves of detectors: true-positive rate (attacked flagged) against false-positive rate.

    Args:
        detectors: name → (scores on clean images [N], scores on attacked images [M]); higher
            means "attacked". The legend gives each one's area under the curve.
        title: the figure's title.
    Returns:
        A Figure with one axes, with the chance diagonal.
    Raises:
        ValueError: ``detectors`` is empty.
    Example:
        >>> fig = plot_roc({"noise": (clean_scores, attacked_scores)})
    Shown in lesson 05, *Detecting attacks*.
    """
    from torchmetrics.functional.classification import binary_roc

    from .robustness import detector_scores, roc_auc

    if not detectors:
        raise ValueError("plot_roc: no detectors given.")
    fig = _LessonFigure(figsize=(5.5, 5), layout="constrained")
    ax = fig.subplots()
    for name, (clean, attacked) in detectors.items():
        fpr, tpr, _ = binary_roc(*detector_scores(clean, attacked))
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc(clean, attacked):.2f})")
    ax.plot([0, 1], [0, 1], ":", color="grey", label="chance (AUC 0.50)")
    ax.set(title=title, xlabel="false-positive rate (clean images flagged)",
           ylabel="true-positive rate (attacked images flagged)", aspect="equal")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return fig


def plot_reliability(bins: Mapping[str, Mapping], title: str = "Reliability diagram") -> Figure:
    """Accuracy against confidence per confidence bin, one line per model; the diagonal is perfect.

    Args:
        bins: name → ``calibration.reliability_bins(...)`` (edges, confidence, accuracy, count);
            empty bins (NaN) are left out.
        title: the figure's title.
    Returns:
        A Figure with one axes; marker area grows with the images in the bin.
    Raises:
        ValueError: ``bins`` is empty.
    Example:
        >>> fig = plot_reliability({"before": reliability_bins(logits, targets)})
    Shown in lesson 05, *Is the model's confidence honest?*
    """
    import math

    if not bins:
        raise ValueError("plot_reliability: no bins given.")
    fig = _LessonFigure(figsize=(5.5, 5), layout="constrained")
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfectly calibrated")
    for name, b in bins.items():
        kept = [i for i, c in enumerate(b["count"]) if c and not math.isnan(b["confidence"][i])]
        ax.plot([b["confidence"][i] for i in kept], [b["accuracy"][i] for i in kept], "-", alpha=0.6)
        ax.scatter([b["confidence"][i] for i in kept], [b["accuracy"][i] for i in kept],
                   s=[12 + 4 * b["count"][i] for i in kept], label=name, alpha=0.8)
    ax.set(title=title, xlabel="confidence (mean top-class probability in the bin)",
           ylabel="accuracy in the bin", xlim=(0, 1.02), ylim=(-0.02, 1.02), aspect="equal")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return fig
