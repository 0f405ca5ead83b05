"""Figures for the lessons: each function returns a titled matplotlib Figure with labelled axes.

Figures are built with ``matplotlib.figure.Figure``, not ``pyplot``: pyplot would keep a
reference to every figure (a memory leak over a long notebook) and Jupyter's inline
backend would draw it twice, once at the end of the cell and once as the returned value.
A returned ``Figure`` is displayed by Jupyter once, and works with any backend.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

from matplotlib.figure import Figure

__all__ = ["plot_history", "plot_lr_schedule", "show_images", "bar_chart", "plot_tradeoff",
           "plot_feature_pca", "show_retrieval", "show_feature_map"]


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


def _to_hwc(image, mean, std):
    """One image as an HWC float numpy array in [0, 1], denormalised if mean/std are given."""
    import numpy as np
    import torch

    if not isinstance(image, torch.Tensor):  # PIL image or numpy array, HWC
        array = np.asarray(image)
        array = array.astype(np.float32) / 255.0 if array.dtype == np.uint8 else array.astype(np.float32)
        image = torch.from_numpy(array)
        image = image.permute(2, 0, 1) if image.ndim == 3 else image.unsqueeze(0)
    image = image.detach().cpu()
    if image.ndim == 2:
        image = image.unsqueeze(0)
    image = image.float() / 255.0 if image.dtype == torch.uint8 else image.float()
    if mean is not None and std is not None:
        # Undo Normalize: x = (pixel - mean) / std, so pixel = x * std + mean.
        image = image * torch.as_tensor(std).view(-1, 1, 1) + torch.as_tensor(mean).view(-1, 1, 1)
    image = image.clamp(0, 1).permute(1, 2, 0).numpy()
    return image[..., 0] if image.shape[-1] == 1 else image


def show_images(images, titles: Optional[Sequence[str]] = None, mean=None, std=None,
                ncols: int = 4, title: str = "Images") -> Figure:
    """A grid of images, with an optional title under each.

    Args:
        images: a ``(N, C, H, W)`` tensor, or a list of CHW tensors (uint8 0–255 or float),
            PIL images or HWC numpy arrays.
        titles: one caption per image (e.g. class names), or None.
        mean, std: the per-channel values the images were normalised with; given both,
            the images are denormalised before drawing.
        ncols: images per row.
        title: the figure's title.

    Returns:
        A Figure with one axes per image, axes hidden.

    Raises:
        ValueError: no images, or a different number of titles than images.

    Example:
        >>> images, labels = next(iter(loader))
        >>> fig = show_images(images[:8], [classes[i] for i in labels[:8]], mean=card.mean, std=card.std)

    Shown in lesson 00, *A first taste*; used wherever a lesson looks at images.
    """
    images = list(images)
    if not images:
        raise ValueError("show_images: no images given.")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"show_images: {len(titles)} titles for {len(images)} images.")
    ncols = max(1, min(ncols, len(images)))
    nrows = -(-len(images) // ncols)  # ceiling division
    fig = _LessonFigure(figsize=(2.5 * ncols, 2.5 * nrows + 0.5), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for index, ax in enumerate(axes):
        ax.axis("off")
        if index < len(images):
            ax.imshow(_to_hwc(images[index], mean, std), cmap="gray")
            if titles is not None:
                ax.set_title(str(titles[index]), fontsize=9)
    fig.suptitle(title)
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
    ax.tick_params(axis="x", labelrotation=30 if len(values) > 4 else 0)
    ax.grid(axis="y", alpha=0.3)
    return fig


def plot_tradeoff(table: Mapping[str, Mapping], front: Sequence[str] = (), x: str = "latency_ms",
                  y: str = "probe_acc", size: str = "params_m",
                  title: str = "Accuracy against latency") -> Figure:
    """One marker per backbone at (latency, accuracy), its area growing with its parameter count.

    Args:
        table: name → row with numbers under ``x``, ``y`` and ``size``.
        front: names on the Pareto front; joined by a line and drawn filled.
        x, y, size: row keys: cost (ms per image), score (fraction), parameters (millions).
        title: the figure's title.

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
    ax.set(title=title, xlabel="latency at batch 1 (ms per image)", ylabel="accuracy (%)")
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


def show_retrieval(queries: Sequence, neighbours: Sequence[Sequence], query_labels: Sequence[int],
                   neighbour_labels: Sequence[Sequence[int]], similarities, classes: Sequence[str],
                   title: str = "Nearest neighbours by cosine similarity") -> Figure:
    """A grid: each row a query image, then its nearest training images, titled green when same class.

    Args:
        queries: query images (uint8 CHW tensors, PIL images or HWC arrays).
        neighbours: per query, its neighbour images, nearest first.
        query_labels, neighbour_labels: class indices of queries and neighbours.
        similarities: per query, the cosine similarity of each neighbour (``[M, k]``).
        classes: class names, indexed by label.
        title: the figure's title.

    Returns:
        A Figure with ``M x (k + 1)`` axes, axes hidden.

    Raises:
        ValueError: no queries, or a query without neighbours.

    Example:
        >>> fig = show_retrieval(q_images, n_images, q_labels, n_labels, sims, data.classes)

    Shown in lesson 01, *Backbone selection*.
    """
    if not queries or not all(len(row) for row in neighbours):
        raise ValueError("show_retrieval: need at least one query, each with at least one neighbour.")
    k = max(len(row) for row in neighbours)
    fig = _LessonFigure(figsize=(2.2 * (k + 1), 2.3 * len(queries) + 0.5), layout="constrained")
    axes = fig.subplots(len(queries), k + 1, squeeze=False)
    for r, query in enumerate(queries):
        axes[r, 0].imshow(_to_hwc(query, None, None))
        axes[r, 0].set_title(f"query: {classes[int(query_labels[r])]}", fontsize=9, fontweight="bold")
        for c in range(k):
            ax = axes[r, c + 1]
            if c < len(neighbours[r]):
                same = int(neighbour_labels[r][c]) == int(query_labels[r])
                ax.imshow(_to_hwc(neighbours[r][c], None, None))
                ax.set_title(f"{classes[int(neighbour_labels[r][c])]} {float(similarities[r][c]):.2f}",
                             fontsize=9, color="tab:green" if same else "tab:red")
        for ax in axes[r]:
            ax.axis("off")
    fig.suptitle(title)
    return fig


def show_feature_map(image, feature_map, title: str = "Where the backbone responds") -> Figure:
    """An image beside its feature map (e.g. the channel-mean of the last stage), overlaid.

    Args:
        image: one image (uint8 CHW tensor, PIL image or HWC array).
        feature_map: ``[h, w]`` activation strength, any scale.
        title: the figure's title.

    Returns:
        A Figure with two axes, axes hidden.

    Example:
        >>> fig = show_feature_map(image, model.forward_features(x)[0].mean(0))

    Shown in lesson 01, *Backbone selection*.
    """
    import torch

    picture = _to_hwc(image, None, None)
    fmap = torch.as_tensor(feature_map, dtype=torch.float32).detach().cpu()
    fig = _LessonFigure(figsize=(7, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.imshow(picture)
    left.set_title("input", fontsize=9)
    right.imshow(picture)
    right.imshow(fmap.numpy(), cmap="inferno", alpha=0.6,
                 extent=(0, picture.shape[1], picture.shape[0], 0), interpolation="bilinear")
    right.set_title(f"feature map ({fmap.shape[0]}x{fmap.shape[1]} cells)", fontsize=9)
    for ax in (left, right):
        ax.axis("off")
    fig.suptitle(title)
    return fig
