"""The two plain functions of every training run, ``train_one_epoch`` and ``evaluate``: options are explicit
arguments (``scaler=None``, ``grad_clip=None``), not callbacks [torchvision ``references/detection/engine.py``].
"""

from __future__ import annotations

import math
import time

import torch
from torch import nn
from tqdm.auto import tqdm

from ..errors import NonFiniteLoss
from ..evaluation import accuracy
from ..models import train_mode
from ..runtime import synchronize
from ._metrics import MetricLogger


def _progress_bar(loader, desc: str, progress: bool):
    # Hand tqdm an iterator: tqdm.auto's asyncio layer calls iter() on an iterable when it is
    # built, which would start a second DataLoader pass (more workers, one more RNG draw).
    # disable=None: drawn on a terminal or in Jupyter, left out of a log file or CI (fit prints a line per epoch).
    total = len(loader) if hasattr(loader, "__len__") else None
    return tqdm(iter(loader), total=total, desc=desc, disable=None if progress else True, leave=False)


def _to_device(images, targets, device: torch.device, channels_last: bool):
    memory_format = torch.channels_last if channels_last else torch.preserve_format
    return (images.to(device, non_blocking=True, memory_format=memory_format),
            targets.to(device, non_blocking=True))


def train_one_epoch(model, loader, optimizer, loss_fn, device, *, scheduler=None, scaler=None,
                    amp_dtype=None, grad_clip=None, channels_last=False, bn_mode="train",
                    batch_transform=None, epoch=0, progress=True) -> dict:
    """Train ``model`` for one pass over ``loader``; the scheduler steps once per batch.

    Args:
        device: where batches are moved (the model must already be there).
        scaler: a ``torch.amp.GradScaler`` for fp16 on CUDA. grad_clip: max total L2 norm of the gradients, or None.
        channels_last: move images in channels-last layout (convert the model yourself).
        batch_transform: ``f(model, images, targets) -> (images, targets)``, applied to every batch on the device
            before the forward pass, or None. Adversarial training passes an attack (lesson 05); it may switch
            the model to eval mode and back, and must leave ``.grad`` alone.
        epoch: only for the progress bar and error messages.
    Returns: ``{"loss", "acc", "images", "seconds", "images_per_s"}`` over the epoch, and the first batch's loss
        ``"first_loss"`` (``fit`` warns when the run ends above it).
    Raises: NonFiniteLoss: the loss became NaN or inf (checked before the backward pass). UnknownName: ``bn_mode``.
    """
    device = torch.device(device)
    train_mode(model, bn_mode)
    log = MetricLogger()
    synchronize(device)
    start = time.perf_counter()
    bar, first_loss = _progress_bar(loader, f"epoch {epoch} train", progress), math.nan
    for step, (images, targets) in enumerate(bar, start=1):
        images, targets = _to_device(images, targets, device, channels_last)
        if batch_transform is not None:
            images, targets = batch_transform(model, images, targets)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            logits = model(images)
            loss = loss_fn(logits, targets)
        # The step's one wait for the GPU: the accuracy's .item() waits for the forward pass, and the
        # loss is then ready. Backward and step are queued without waiting, and the GPU runs them
        # while Python logs and fetches the next batch (reading the accuracy after the step made
        # a second wait, for the step, and left the GPU idle meanwhile). Lesson 04, *Speed*.
        acc = accuracy(logits.detach(), targets)
        loss_value = loss.item()
        # Stop before backward: one NaN gradient step would overwrite every weight with NaN.
        if not math.isfinite(loss_value):
            raise NonFiniteLoss(
                f"Loss is {loss_value} at epoch {epoch}, step {step} of {bar.total}. Fix: lower the "
                "learning rate, pass grad_clip=1.0, or check the inputs for NaN (torch.isnan(images).any()).")
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
        else:
            loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        if scheduler is not None:
            scheduler.step()
        log.update(n=len(targets), loss=loss_value, acc=acc)
        first_loss = loss_value if step == 1 else first_loss
        if progress:
            bar.set_postfix_str(str(log), refresh=False)
    synchronize(device)
    return {**_summary(log, time.perf_counter() - start), "first_loss": first_loss}


def _summary(log: MetricLogger, seconds: float) -> dict:
    images = log["loss"].count if "loss" in log.meters else 0
    averages = log.averages()
    return {"loss": averages.get("loss", math.nan), "acc": averages.get("acc", math.nan),
            "images": images, "seconds": seconds, "images_per_s": images / seconds if seconds else 0.0}


@torch.inference_mode()
def evaluate(model, loader, loss_fn, device, *, amp_dtype=None, channels_last=False,
             progress=False, return_outputs=False) -> dict:
    """Average loss and top-1 accuracy of ``model`` over ``loader``, without gradients.

    Arguments as for ``train_one_epoch``. A NaN loss is reported as NaN, not raised. Returns ``{"loss", "acc",
    "images", "seconds", "images_per_s", "num_classes"}``, plus ``"logits"`` (float32, on CPU) and ``"targets"`` when
    ``return_outputs``.
    """
    device = torch.device(device)
    model.eval()
    log, all_logits, all_targets, num_classes = MetricLogger(), [], [], None
    synchronize(device)
    start = time.perf_counter()
    for images, targets in _progress_bar(loader, "evaluate", progress):
        images, targets = _to_device(images, targets, device, channels_last)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            logits = model(images)
            loss = loss_fn(logits, targets)
        log.update(n=len(targets), loss=loss.item(), acc=accuracy(logits, targets))
        num_classes = logits.shape[-1]
        if return_outputs:
            all_logits.append(logits.float().cpu())
            all_targets.append(targets.cpu())
    synchronize(device)
    result = {**_summary(log, time.perf_counter() - start), "num_classes": num_classes}
    if return_outputs:
        result["logits"] = torch.cat(all_logits) if all_logits else torch.empty(0)
        result["targets"] = torch.cat(all_targets) if all_targets else torch.empty(0, dtype=torch.long)
    return result

