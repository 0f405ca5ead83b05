"""Figures made of images: galleries, retrieval rows, feature maps and class-activation maps; each a
``LessonFigure`` titled ``title``. Normalised tensors are shown de-normalised with the card's ``mean`` and ``std``.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from ._figure import figure


def _to_hwc(image, mean, std):
    """One image as an HWC float numpy array in [0, 1], denormalised if mean/std are given."""
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


def images(images, titles: Optional[Sequence[str]] = None, mean=None, std=None,
                ncols: int = 4, title: str = "Images") -> Figure:
    """A grid of images, with an optional caption above each.

    Args:
        images: a ``(N, C, H, W)`` tensor, or a list of CHW tensors (uint8 0–255 or float), PIL images or HWC arrays.
        titles: one caption per image (e.g. class names), or None. ncols: images per row.
        mean, std: the per-channel values the images were normalised with; given both, it is undone for drawing.
    Returns: A Figure with a grid of axes (``ncols`` wide), one image in each, axes hidden.
    Raises: ValueError: no images, or a different number of titles than images.
    Example:
        >>> images, labels = next(iter(loader))
        >>> fig = tl.plots.images(images[:8], [classes[i] for i in labels[:8]], mean=card.mean, std=card.std)
    Shown in lesson 00, *A first taste*; used wherever a lesson looks at images.
    """
    images = list(images)
    if not images:
        raise ValueError("images: no images given.")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"images: {len(titles)} titles for {len(images)} images.")
    ncols = max(1, min(ncols, len(images)))
    nrows = -(-len(images) // ncols)  # ceiling division
    fig = figure(2.5 * ncols, 2.5 * nrows + 0.5)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for index, ax in enumerate(axes):
        ax.axis("off")
        if index < len(images):
            ax.imshow(_to_hwc(images[index], mean, std), cmap="gray")
            if titles is not None:
                ax.set_title(str(titles[index]), fontsize=9)
    fig.suptitle(title)
    return fig


def retrieval(queries: Sequence, neighbours: Sequence[Sequence], query_labels: Sequence[int],
                   neighbour_labels: Sequence[Sequence[int]], similarities, classes: Sequence[str],
                   title: str = "Nearest neighbours by cosine similarity") -> Figure:
    """A grid: each row a query image, then its nearest training images, titled green when same class.

    Args:
        queries: M query images (uint8 CHW tensors, PIL images or HWC arrays). neighbours: per query, nearest first.
        query_labels, neighbour_labels: their class indices. similarities: ``[M, k]`` cosine similarities.
        classes: class names, indexed by label.
    Returns: A Figure with ``M x (k + 1)`` axes, axes hidden.
    Raises: ValueError: no queries, or a query without neighbours.
    Example: ``fig = tl.plots.retrieval(q_images, n_images, q_labels, n_labels, sims, data.classes)``
    Shown in lesson 01, *Backbone selection*.
    """
    if not queries or not all(len(row) for row in neighbours):
        raise ValueError("retrieval: need at least one query, each with at least one neighbour.")
    k = max(len(row) for row in neighbours)
    fig = figure(2.2 * (k + 1), 2.3 * len(queries) + 0.5)
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


def feature_map(image, feature_map, title: str = "Where the backbone responds") -> Figure:
    """An image beside its feature map (e.g. the channel-mean of the last stage), overlaid.

    Args: image: one image (uint8 CHW tensor, PIL image or HWC array). feature_map: ``[h, w]`` activations, any scale.
    Returns: A Figure with two axes, axes hidden.
    Example: ``fig = tl.plots.feature_map(image, model.forward_features(x)[0].mean(0))``
    Shown in lesson 01, *Backbone selection*.
    """
    picture = _to_hwc(image, None, None)
    fmap = torch.as_tensor(feature_map, dtype=torch.float32).detach().cpu()
    fig = figure(7, 3.6)
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


def cam(images, cams, titles: Optional[Sequence[str]] = None, mean=None, std=None,
             title: str = "Where the model looks (Grad-CAM)") -> Figure:
    """Each image with its class-activation heat map laid over it, in one row.

    Args:
        images: a ``(N, 3, H, W)`` tensor or CHW tensors, as for ``images``. titles: one each (e.g. "bees, 97%").
        cams: ``N`` heat maps ``[h, w]`` in [0, 1] (from ``tl.evaluation.grad_cam``), stretched over the image.
        mean, std: the per-channel values the images were normalised with, to undo it.
    Returns: A Figure with one axes per image, axes hidden; 1 on the heat map is the strongest evidence.
    Raises: ValueError: no images, or a different number of heat maps or titles than images.
    Example: ``fig = tl.plots.cam(images[:4], tl.evaluation.grad_cam(model, images[:4]), mean=card.mean, std=card.std)``
    Shown in lesson 02, *Evaluating the fine-tuned model*.
    """
    images, cams = list(images), list(cams)
    if not images:
        raise ValueError("cam: no images given.")
    for name, items in (("heat maps", cams), ("titles", images if titles is None else titles)):
        if len(items) != len(images):
            raise ValueError(f"cam: {len(items)} {name} for {len(images)} images.")
    fig = figure(2.5 * len(images), 3)
    for index, ax in enumerate(fig.subplots(1, len(images), squeeze=False).ravel()):
        picture = _to_hwc(images[index], mean, std)
        heat = torch.as_tensor(cams[index], dtype=torch.float32).detach().cpu()
        ax.imshow(picture, cmap="gray")
        ax.imshow(heat.numpy(), cmap="inferno", alpha=0.5, vmin=0, vmax=1, interpolation="bilinear",
                  extent=(0, picture.shape[1], picture.shape[0], 0))
        if titles is not None:
            ax.set_title(str(titles[index]), fontsize=9)
        ax.axis("off")
    fig.suptitle(title)
    return fig
