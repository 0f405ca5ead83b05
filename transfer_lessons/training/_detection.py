"""Training and evaluating a detector: a loop read top to bottom, with the metrics apart.

As in torchvision's detection references: in training mode the model returns a dict of losses (classification
and box regression for each stage), whose sum SGD minimises; in eval mode it returns boxes, labels and scores,
which ``evaluation.evaluate_detector`` scores with torchmetrics' ``MeanAveragePrecision`` (COCO's, pycocotools).
"""

from __future__ import annotations

import math
import time
from typing import Optional

import torch

from ..errors import NonFiniteLoss
from ..evaluation import evaluate_detector, to_device
from ..runtime import pick_device, seed_everything
from ._loop import _progress_bar
from ._metrics import History, MetricLogger


def train_detector_one_epoch(model, loader, optimizer, device, *, scheduler=None, grad_clip: Optional[float] = 10.0,
                             epoch: int = 0, progress: bool = True) -> dict:
    """One pass over ``loader`` of (images, targets) tuples; the scheduler steps once per batch.

    ``grad_clip``: clip the gradients' norm (None: off); detectors' early box-regression losses can spike.
    Returns: ``{"loss", <each loss term>, "images", "seconds", "images_per_s"}``, averaged per image.
    Raises: NonFiniteLoss: a loss became NaN or inf (checked before the backward pass).
    """
    device = torch.device(device)
    model.train()
    log, start = MetricLogger(), time.perf_counter()
    for step, (images, targets) in enumerate(_progress_bar(loader, f"epoch {epoch} train", progress), start=1):
        images, targets = to_device(device, images, targets)
        losses = model(images, targets)  # {"loss_classifier", "loss_box_reg", "loss_objectness", ...}
        loss = sum(losses.values())
        if not math.isfinite(loss.item()):
            raise NonFiniteLoss(f"Detection loss is {loss.item()} at epoch {epoch}, step {step} "
                                f"({ {k: round(v.item(), 4) for k, v in losses.items()} }). Fix: lower the "
                                "learning rate, or check the boxes (x1 < x2, y1 < y2, inside the image).")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        log.update(n=len(images), loss=loss.item(), **{name: value.item() for name, value in losses.items()})
    seconds = time.perf_counter() - start
    seen = log["loss"].count if "loss" in log.meters else 0
    return {**log.averages(), "images": seen, "seconds": seconds,
            "images_per_s": seen / seconds if seconds else 0.0}


def fit_detector(model, train_loader, test_loader=None, *, epochs: int, lr: float = 0.02, momentum: float = 0.9,
                 weight_decay: float = 1e-4, device=None, seed: int = 0, eval_every: int = 1,
                 progress: bool = True) -> History:
    """Train a detector: SGD with momentum and a one-cycle schedule, evaluated after every epoch.

    Defaults this recipe hides: seeds everything with ``seed``; SGD (momentum 0.9, weight decay 1e-4) over the
    parameters that require gradients; a one-cycle schedule stepped every batch (peak ``lr`` after 30 % of the steps);
    gradient norm clipped at 10; mAP on ``test_loader``. ``eval_every``: measure AP (on ``test_loader``, which may be
    None) after every this many epochs and after the last, the rows in between hold None; evaluating costs about a
    fifth of an epoch on a CPU. Returns a ``History``: ``seconds`` are training and evaluation, ``train_seconds`` and
    ``images_per_s`` training only. Raises NonFiniteLoss.
    """
    seed_everything(seed)
    device = pick_device(device)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * len(train_loader),
                                                    pct_start=0.3)
    history = History()
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        train = train_detector_one_epoch(model, train_loader, optimizer, device, scheduler=scheduler,
                                         epoch=epoch, progress=progress)
        due = epoch % max(eval_every, 1) == 0 or epoch == epochs
        scores = evaluate_detector(model, test_loader, device) if test_loader is not None and due else {}
        history.append({"epoch": epoch, "train_loss": train["loss"], "images_per_s": train["images_per_s"],
                        "train_seconds": train["seconds"],
                        **{k: scores.get(k) for k in ("map", "map_50", "map_75", "mar_100")},
                        "seconds": time.perf_counter() - start})
        if progress:
            print(f"epoch {epoch}/{epochs}: loss {train['loss']:.3f}, AP50 {scores.get('map_50', float('nan')):.3f}, "
                  f"AP {scores.get('map', float('nan')):.3f}, {time.perf_counter() - start:.0f} s")
    return history

