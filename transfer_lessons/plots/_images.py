from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from ._figure import figure


def _to_hwc(image, mean, std):
    """One image as an HWC float numpy array in [0, 1], denormalised if mean/std are given."""
    if not isinstance(image, torch.Tensor):  # PIL image or numpy array, HWC; a copy, as torch needs a writable one
        image = torch.from_numpy(np.array(image))
        image = image.permute(2, 0, 1) if image.ndim == 3 else image
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
    """A grid of images, ``ncols`` wide, with an optional caption above each.

    ``images``: a ``(N, C, H, W)`` tensor, or a list of CHW tensors (uint8 0–255 or float), PIL images or HWC
    arrays. ``mean``, ``std``: the per-channel values the images were normalised with; given both, it is undone.
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

    ``queries``: M images (uint8 CHW tensors, PIL images or HWC arrays); ``neighbours``: per query, nearest first;
    ``similarities``: ``[M, k]`` cosine similarities; labels are class indices into ``classes``.
    """
    if not queries or not all(len(row) for row in neighbours):
        raise ValueError("retrieval: need at least one query, each with at least one neighbour.")
    k = max(len(row) for row in neighbours)
    fig = figure(2.2 * (k + 1), 2.3 * len(queries) + 0.5)
    axes = fig.subplots(len(queries), k + 1, squeeze=False)
    for r, query in enumerate(queries):
        axes[r, 0].imshow(_to_hwc(query, None, None))
        axes[r, 0].set_title(f"query: {classes[int(query_labels[r])]}", fontsize=9, fontweight="bold")
        for c, neighbour in enumerate(neighbours[r]):
            same = int(neighbour_labels[r][c]) == int(query_labels[r])
            axes[r, c + 1].imshow(_to_hwc(neighbour, None, None))
            axes[r, c + 1].set_title(f"{classes[int(neighbour_labels[r][c])]} {float(similarities[r][c]):.2f}",
                                     fontsize=9, color="tab:green" if same else "tab:red")
        for ax in axes[r]:
            ax.axis("off")
    fig.suptitle(title)
    return fig


def feature_map(image, feature_map, title: str = "Where the backbone responds") -> Figure:
    """An image beside its ``[h, w]`` feature map (any scale, e.g. the last stage's channel mean), overlaid."""
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

    ``images``, ``mean``, ``std``: as for ``images``. ``cams``: ``N`` heat maps ``[h, w]`` in [0, 1] (from
    ``tl.evaluation.grad_cam``), stretched over the image; 1 is the strongest evidence.
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
