from __future__ import annotations

import math
from typing import Mapping, Optional, Sequence

import torch
from matplotlib.figure import Figure
from torchmetrics.functional.classification import binary_roc

from ..evaluation import detector_scores, roc_auc
from ._figure import figure, figure_with_axes


def bars(values: Mapping[str, float], title: str, ylabel: str) -> Figure:
    """One bar per named value, in the dict's order, each labelled with its number.

    ``ylabel``: the value axis label, with its unit, e.g. ``"latency (ms per image)"``.
    """
    if not values:
        raise ValueError("bars: no values given.")
    fig, ax = figure_with_axes(max(4, 1.2 * len(values)), 4)
    bars = ax.bar([str(name) for name in values], [float(v) for v in values.values()])
    ax.bar_label(bars, fmt="%.3g")
    ax.set(title=title, xlabel="", ylabel=ylabel)
    if len(values) > 4 or max(len(str(name)) for name in values) > 12:  # long labels: slanted
        ax.tick_params(axis="x", labelrotation=25)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
    ax.grid(axis="y", alpha=0.3)
    return fig


def _draw_tradeoff(ax, table: Mapping[str, Mapping], front: Sequence[str], x: str, y: str, size: str) -> None:
    """One marker per row of ``table`` on ``ax``; the front's members filled and joined."""
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
    ax.margins(0.25)
    ax.grid(alpha=0.3)


def tradeoff(table: Mapping[str, Mapping], front: Sequence[str] = (), x: str = "latency_ms",
             y: str = "probe_acc", size: str = "params_m", title: str = "Accuracy against latency",
             ylabel: str = "accuracy (%)", xlabel: str = "latency at batch 1 (ms per image)") -> Figure:
    """One marker per backbone at (latency, accuracy), its area growing with its parameter count.

    ``table``: name → row with numbers under ``x`` (cost, ms per image), ``y`` (score, a fraction) and ``size``
    (parameters, millions); ``front``: Pareto-front names, filled and joined by a line.
    """
    if not table:
        raise ValueError("tradeoff: the table is empty; measure at least one backbone.")
    fig, ax = figure_with_axes(7, 4.5)
    _draw_tradeoff(ax, table, front, x, y, size)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return fig


def tradeoffs(panels: Mapping[str, tuple], title: str = "Accuracy against latency", y: str = "probe_acc",
              ylabel: str = "accuracy (%)", xlabel: str = "latency at batch 1 (ms per image)") -> Figure:
    """``tradeoff`` side by side, one panel per dataset: the same backbones, each dataset's accuracy.

    ``panels``: panel title → ``(table, front)`` as ``tradeoff`` takes them.
    """
    if not panels or not all(table for table, _ in panels.values()):
        raise ValueError("tradeoffs: give at least one panel, each with a non-empty table.")
    fig = figure(6 * len(panels), 4.5)
    for ax, (name, (table, front)) in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels.items()):
        _draw_tradeoff(ax, table, front, "latency_ms", y, "params_m")
        ax.set(title=name, xlabel=xlabel, ylabel=ylabel)
    fig.suptitle(title)
    return fig


def feature_pca(projections: Mapping[str, tuple], classes: Sequence[str],
                     title: str = "Features projected on their first two principal components") -> Figure:
    """Side-by-side 2-D scatter plots of features, coloured by class.

    ``projections``: panel title → ``(xy [N, 2], labels [N])``, ``xy`` from ``tl.evaluation.pca``.
    """
    if not projections:
        raise ValueError("feature_pca: no projections given.")
    fig = figure(5 * len(projections), 4.5)
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


def confusion_matrix(matrix, classes: Sequence[str], title: str = "Confusion matrix (validation)") -> Figure:
    """A class-by-class grid of counts: row = true class, column = predicted class; each cell labelled.

    ``matrix``: ``[C, C]`` counts from ``tl.evaluation.confusion_matrix``; right answers lie on the diagonal.
    """
    counts, n = torch.as_tensor(matrix).detach().cpu(), len(classes)
    if tuple(counts.shape) != (n, n):
        raise ValueError(f"confusion_matrix: matrix {tuple(counts.shape)} for {n} classes; expected ({n}, {n}).")
    fig, ax = figure_with_axes(max(4, 0.7 * n + 2.5), max(3.5, 0.7 * n + 2))
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


def attack_curves(curves: Mapping[str, Mapping[float, float]], title: str = "Accuracy under attack") -> Figure:
    """Accuracy against the attack budget ε, one line per model (or attack).

    ``curves``: name → {ε in pixel units (4/255): accuracy in [0, 1]}; ε = 0 is the clean accuracy.
    """
    if not curves:
        raise ValueError("attack_curves: no curves given.")
    fig, ax = figure_with_axes(6.5, 4.5)
    for name, points in curves.items():
        eps = sorted(points)
        ax.plot([255 * e for e in eps], [100 * points[e] for e in eps], "o-", label=name)
    ax.set(title=title, xlabel="attack budget ε (grey levels out of 255, per pixel)", ylabel="accuracy (%)",
           ylim=(-3, 103))
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def roc(detectors: Mapping[str, tuple], title: str = "Detecting attacked images") -> Figure:
    """ROC curves of detectors: true-positive rate (attacked flagged) against false-positive rate.

    ``detectors``: name → (scores on clean images [N], on attacked images [M]); higher means "attacked".
    """
    if not detectors:
        raise ValueError("roc: no detectors given.")
    fig, ax = figure_with_axes(5.5, 5)
    for name, (clean, attacked) in detectors.items():
        fpr, tpr, _ = binary_roc(*detector_scores(clean, attacked))
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc(clean, attacked):.2f})")
    ax.plot([0, 1], [0, 1], ":", color="grey", label="chance (AUC 0.50)")
    ax.set(title=title, xlabel="false-positive rate (clean images flagged)",
           ylabel="true-positive rate (attacked images flagged)", aspect="equal")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return fig


def score_histograms(scores: Mapping[str, torch.Tensor], threshold: Optional[float] = None,
                     title: str = "Detector scores", xlabel: str = "score (higher: more suspicious)") -> Figure:
    """Overlaid histograms of a detector's scores, one per set of images, and a threshold line.

    ``scores``: name → scores [N], e.g. ``{"clean": c, "attacked": a}``. ``threshold``: flag above it; the legend
    then gives each set's share above it (false- and true-positive rates).
    """
    if not scores:
        raise ValueError("score_histograms: no scores given.")
    values = {name: torch.as_tensor(s).detach().cpu().double().flatten() for name, s in scores.items()}
    every = torch.cat(list(values.values()))
    low, high = float(every.min()), float(every.max())
    fig, ax = figure_with_axes(6.5, 4)
    for name, v in values.items():
        above = "" if threshold is None else f", {(v > threshold).double().mean():.0%} above the threshold"
        ax.hist(v.numpy(), bins=30, range=(low, max(high, low + 1e-12)), alpha=0.55, label=f"{name}: {len(v)}{above}")
    if threshold is not None:
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3g}: flagged right of it")
    ax.set(title=title, xlabel=xlabel, ylabel="images")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def reliability(bins: Mapping[str, Mapping], title: str = "Reliability diagram") -> Figure:
    """Accuracy against confidence per confidence bin, one line per model; the diagonal is perfect.

    ``bins``: name → the dict of ``tl.evaluation.reliability_bins(...)``; empty bins (NaN) are left out.
    """
    if not bins:
        raise ValueError("reliability: no bins given.")
    fig, ax = figure_with_axes(5.5, 5)
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfectly calibrated")
    for name, b in bins.items():
        kept = [i for i, c in enumerate(b["count"]) if c and not math.isnan(b["confidence"][i])]
        confidence, accuracy = [b["confidence"][i] for i in kept], [b["accuracy"][i] for i in kept]
        ax.plot(confidence, accuracy, "-", alpha=0.6)
        ax.scatter(confidence, accuracy, s=[12 + 4 * b["count"][i] for i in kept], label=name, alpha=0.8)
    ax.set(title=title, xlabel="confidence (mean top-class probability in the bin)",
           ylabel="accuracy in the bin", xlim=(0, 1.02), ylim=(-0.02, 1.02), aspect="equal")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return fig

