"""Figures for the lessons: each function returns a titled matplotlib Figure with labelled axes.

Figures are built with ``matplotlib.figure.Figure``, not ``pyplot``: pyplot would keep a
reference to every figure (a memory leak over a long notebook) and Jupyter's inline
backend would draw it twice, once at the end of the cell and once as the returned value.
A returned ``Figure`` is displayed by Jupyter once, and works with any backend.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

from matplotlib.figure import Figure

__all__ = ["plot_history", "plot_lr_schedule", "show_images", "bar_chart"]


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
