from __future__ import annotations

from typing import Mapping, Optional, Sequence

import torch
from matplotlib.figure import Figure
from torchvision.utils import draw_bounding_boxes

from ._figure import figure_with_axes
from ._images import images as show_images

OBJECT_COLOUR, PREDICTION_COLOUR = "lime", "orange"


def _uint8(image: torch.Tensor) -> torch.Tensor:
    image = image.detach().cpu()
    return image if image.dtype == torch.uint8 else (image.clamp(0, 1) * 255).round().to(torch.uint8)


def draw_boxes(image: torch.Tensor, objects: Optional[torch.Tensor] = None, predictions: Optional[dict] = None,
               score_threshold: float = 0.5, width: int = 2) -> torch.Tensor:
    """The image (CHW, float in [0, 1] or uint8) as uint8, with its objects and kept predictions drawn on it.

    ``objects``: ``(N, 4)`` XYXY boxes, drawn green; ``predictions``: ``{"boxes", "scores"}``, those scored >=
    ``score_threshold`` drawn orange with their score; ``width``: line width in pixels.
    """
    out = _uint8(image)
    if objects is not None and len(objects):
        out = draw_bounding_boxes(out, objects.detach().cpu().float(), colors=OBJECT_COLOUR, width=width)
    if predictions is not None:
        keep = predictions["scores"].detach().cpu() >= score_threshold
        if keep.any():
            boxes = predictions["boxes"].detach().cpu()[keep].float()
            labels = [f"{s:.2f}" for s in predictions["scores"].detach().cpu()[keep].tolist()]
            out = draw_bounding_boxes(out, boxes, labels=labels, colors=PREDICTION_COLOUR, width=width)
    return out


def detections(images: Sequence[torch.Tensor], targets: Optional[Sequence[dict]] = None,
                    predictions: Optional[Sequence[dict]] = None, score_threshold: float = 0.5,
                    titles: Optional[Sequence[str]] = None, ncols: int = 3,
                    title: str = "Objects (green) and predictions (orange)") -> Figure:
    """A grid of images with their objects and predictions (see ``draw_boxes``)."""
    drawn = [draw_boxes(image, targets[i]["boxes"] if targets else None,
                        predictions[i] if predictions else None, score_threshold)
             for i, image in enumerate(images)]
    return show_images(drawn, titles, ncols=min(ncols, len(drawn)), title=title)


def pr_curves(curves: Mapping[str, tuple], title: str = "Precision against recall") -> Figure:
    """Precision-recall curves, one per name: ``name -> (precision, recall)`` (1-D, same length)."""
    if not curves:
        raise ValueError("pr_curves: no curves given.")
    fig, ax = figure_with_axes(6, 4.5)
    for name, (precision, recall) in curves.items():
        ax.plot(torch.as_tensor(recall).tolist(), torch.as_tensor(precision).tolist(), label=name)
    ax.set(title=title, xlabel="recall (share of objects found)", ylabel="precision (share of predictions right)",
           xlim=(0, 1.02), ylim=(0, 1.02))
    ax.legend(fontsize="small", loc="lower left")
    ax.grid(alpha=0.3)
    return fig


def iou_histogram(ious: torch.Tensor, threshold: float = 0.5, title: str = "How well objects are found") -> Figure:
    """Histogram of IoUs (e.g. each object's best IoU with any prediction), with the threshold marked."""
    values = torch.as_tensor(ious).detach().cpu().float()
    if values.numel() == 0:
        raise ValueError("iou_histogram: no IoUs given (no objects?).")
    fig, ax = figure_with_axes(6, 3.5)
    ax.hist(values.tolist(), bins=20, range=(0, 1), color="tab:blue", alpha=0.8)
    ax.axvline(threshold, color="tab:red", linestyle="--", label=f"IoU threshold {threshold}")
    ax.set(title=title, xlabel="IoU of each object with its best prediction", ylabel="objects")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return fig
