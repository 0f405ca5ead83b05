"""Fine-tuning a classifier: the epoch loop, evaluation and ``fit``.

``train_one_epoch`` and ``evaluate`` are the two plain functions a lesson writes by hand
first; ``fit`` is the one-call recipe built only from them, the schedules in
``schedules.py`` and the parameter tools in ``params.py``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Optional

import torch
from torch import nn
from tqdm.auto import tqdm

from .checkpoint import load_checkpoint, restore_rng_states, rng_states, save_checkpoint
from .errors import NonFiniteLoss, TransferLessonsError, UnknownName
from .metrics import History, MetricLogger, accuracy, format_epoch
from .params import (BN_MODES, count_parameters, param_groups, train_mode, unfreeze_backbone,
                     unfreeze_for_epoch)
from .runtime import pick_device, seed_everything, synchronize
from .schedules import make_scheduler

__all__ = ["train_one_epoch", "evaluate", "fit"]
_AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _progress_bar(loader, desc: str, progress: bool):
    """A tqdm bar over one pass of ``loader``."""
    # Hand tqdm an iterator: tqdm.auto's asyncio layer calls iter() on an iterable when it is
    # built, which would start a second DataLoader pass (more workers, one more RNG draw).
    total = len(loader) if hasattr(loader, "__len__") else None
    return tqdm(iter(loader), total=total, desc=desc, disable=not progress, leave=False)


def _to_device(images, targets, device: torch.device, channels_last: bool):
    """Move one batch to ``device``, images in channels-last layout when asked."""
    memory_format = torch.channels_last if channels_last else torch.preserve_format
    return (images.to(device, non_blocking=True, memory_format=memory_format),
            targets.to(device, non_blocking=True))


def train_one_epoch(model, loader, optimizer, loss_fn, device, *, scheduler=None, scaler=None,
                    amp_dtype=None, grad_clip=None, channels_last=False, bn_mode="train",
                    batch_transform=None, epoch=0, progress=True) -> dict:
    """Train ``model`` for one pass over ``loader``; the scheduler steps once per batch.

    Args:
        model, loader, optimizer, loss_fn: as in any PyTorch loop; ``loader`` yields (images, targets).
        device: where batches are moved (the model must already be there).
        scheduler: stepped after every optimiser step, or None.
        scaler: a ``torch.amp.GradScaler`` for fp16 on CUDA, or None.
        amp_dtype: ``torch.bfloat16`` / ``torch.float16`` to run the forward pass under autocast.
        grad_clip: clip the gradients' total L2 norm to this value, or None.
        channels_last: move images in channels-last layout (convert the model yourself).
        bn_mode: ``"train"`` lets every BatchNorm layer normalise with batch statistics and
            update its running ones; ``"frozen_layers"`` keeps the BatchNorm layers whose
            parameters are frozen in eval mode (fixed statistics); ``"frozen"`` keeps all of them so.
        batch_transform: ``f(model, images, targets) -> (images, targets)``, applied to every batch
            on the device before the forward pass, or None. Adversarial training passes an attack
            (lesson 05); it may switch the model to eval mode and back, and must leave ``.grad`` alone.
        epoch: only used in the progress bar and error messages.
        progress: show a tqdm progress bar.

    Returns:
        ``{"loss", "acc", "images", "seconds", "images_per_s"}`` averaged over the epoch.

    Raises:
        NonFiniteLoss: the loss became NaN or inf (checked before the backward pass).
        UnknownName: ``bn_mode`` is not one of ``params.BN_MODES``.

    Example:
        >>> stats = train_one_epoch(model, train_loader, optimizer, nn.CrossEntropyLoss(), "cpu")
        >>> stats["loss"], stats["acc"]

    Shown in plain PyTorch in lesson 02, *Fine-tuning strategies*.
    """
    device = torch.device(device)
    train_mode(model, bn_mode)
    log = MetricLogger()
    synchronize(device)
    start = time.perf_counter()
    bar = _progress_bar(loader, f"epoch {epoch} train", progress)
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
                "learning rate, pass grad_clip=1.0, or check the inputs for NaN (torch.isnan(images).any())."
            )
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
        if progress:
            bar.set_postfix_str(str(log), refresh=False)
    synchronize(device)
    return _summary(log, time.perf_counter() - start)


def _summary(log: MetricLogger, seconds: float) -> dict:
    images = log["loss"].count if "loss" in log.meters else 0
    averages = log.averages()
    return {"loss": averages.get("loss", math.nan), "acc": averages.get("acc", math.nan),
            "images": images, "seconds": seconds, "images_per_s": images / seconds if seconds else 0.0}


@torch.inference_mode()
def evaluate(model, loader, loss_fn, device, *, amp_dtype=None, channels_last=False,
             progress=False, return_outputs=False) -> dict:
    """Average loss and top-1 accuracy of ``model`` over ``loader``, without gradients.

    Args:
        model, loader, loss_fn, device: as for ``train_one_epoch``.
        amp_dtype: run under autocast in this dtype, or None for full precision.
        channels_last: move images in channels-last layout.
        progress: show a tqdm progress bar.
        return_outputs: also return every ``logits`` (float32, on CPU) and ``targets``.

    Returns:
        ``{"loss", "acc", "images", "seconds", "images_per_s"}``, plus ``"logits"`` and
        ``"targets"`` tensors when ``return_outputs`` is True.

    Raises:
        Nothing of its own; a NaN loss is reported as NaN, not raised.

    Example:
        >>> evaluate(model, val_loader, nn.CrossEntropyLoss(), "cpu")["acc"]

    Shown in plain PyTorch in lesson 02, *Fine-tuning strategies*.
    """
    device = torch.device(device)
    model.eval()
    log, all_logits, all_targets = MetricLogger(), [], []
    synchronize(device)
    start = time.perf_counter()
    for images, targets in _progress_bar(loader, "evaluate", progress):
        images, targets = _to_device(images, targets, device, channels_last)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            logits = model(images)
            loss = loss_fn(logits, targets)
        log.update(n=len(targets), loss=loss.item(), acc=accuracy(logits, targets))
        if return_outputs:
            all_logits.append(logits.float().cpu())
            all_targets.append(targets.cpu())
    synchronize(device)
    result = _summary(log, time.perf_counter() - start)
    if return_outputs:
        result["logits"] = torch.cat(all_logits) if all_logits else torch.empty(0)
        result["targets"] = torch.cat(all_targets) if all_targets else torch.empty(0, dtype=torch.long)
    return result


# --- the one-call recipe --------------------------------------------------------------------


def _amp_settings(amp: Optional[str], device: torch.device):
    """(autocast dtype, GradScaler) for ``fit``'s ``amp`` argument."""
    if amp is None:
        return None, None
    if amp not in _AMP_DTYPES:
        raise UnknownName("amp setting", amp, _AMP_DTYPES, "fit's docstring (amp='bf16', 'fp16' or None)")
    if amp == "fp16" and device.type != "cuda":
        raise ValueError(f"fit: amp='fp16' needs a CUDA GPU, but the device is {device}; use amp='bf16' or None.")
    # fp16 overflows easily: the scaler scales the loss up and skips steps whose gradients overflow.
    return _AMP_DTYPES[amp], torch.amp.GradScaler("cuda") if amp == "fp16" else None


def _resume(path, epochs, model, optimizer, scheduler, scaler):
    """Load a ``fit`` checkpoint into the given objects; returns (history, next epoch)."""
    if path is None:
        raise ValueError("fit: resume=True needs checkpoint_path= (the file to resume from).")
    if not Path(path).is_file():
        print(f"fit: no checkpoint at {path} yet; starting at epoch 1.")
        return History(), 1
    state = load_checkpoint(path)
    if state["epochs"] != epochs:
        raise TransferLessonsError(
            f"{path} was written by a run of epochs={state['epochs']}, its schedule spans that many; "
            f"resume with epochs={state['epochs']}, or start afresh with resume=False."
        )
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    restore_rng_states(state["rng"])  # same shuffles and dropout masks as an uninterrupted run
    return History.from_dict(state["history"]), state["epoch"] + 1


def _epoch_row(epoch: int, train: dict, val: dict, optimizer, seconds: float) -> dict:
    """One ``History`` row; ``lr`` is the backbone rate (the first group's rate over its multiplier)."""
    group = optimizer.param_groups[0]
    return {"epoch": epoch, "train_loss": train["loss"], "train_acc": train["acc"],
            "val_loss": val.get("loss"), "val_acc": val.get("acc"),
            "lr": group["lr"] / group.get("lr_mult", 1.0), "seconds": seconds,
            "images_per_s": train["images_per_s"]}


def fit(model, train_loader, val_loader, *, epochs, lr, device=None, head_lr_mult=10.0,
        weight_decay=0.05, layer_decay=None, gradual_unfreeze=False, schedule="onecycle", warmup_epochs=0, label_smoothing=0.0, amp=None,
        channels_last=False, compile=False, grad_clip=None, bn_mode="train", batch_transform=None,
        checkpoint_path=None, resume=False, profile=None, seed=0, progress=True) -> History:
    """Fine-tune ``model``: ``train_one_epoch`` then ``evaluate``, once per epoch, with a checkpoint each.

    Defaults this recipe hides (all are arguments you can change):
        - seeds Python, NumPy and torch with ``seed=0`` before building anything;
        - moves the model to ``device`` (None: cuda, then mps, then cpu);
        - optimiser ``AdamW`` (betas 0.9/0.999, eps 1e-8) over ``param_groups``: only
          trainable parameters, head at ``lr × 10``, weight decay 0.05 except on biases
          and norm weights (0), one rate for the whole backbone (``layer_decay=None``);
        - ``schedule="onecycle"``, stepped every batch: starts at lr/25, peaks after
          ``warmup_epochs`` (0: after 30% of all steps), ends at lr/25/1e4, and cycles
          AdamW's beta1 between 0.95 and 0.85;
        - loss ``CrossEntropyLoss(label_smoothing=0.0)``; no gradient clipping; full precision;
        - ``bn_mode="train"``: BatchNorm running statistics update, even in frozen layers;
        - ``gradual_unfreeze=False``: which parameters train is left as you set it;
        - with ``checkpoint_path``, the file is overwritten atomically after every epoch
          (model, optimizer, scheduler, scaler, epoch, history, profile, RNG states);
        - prints its plan and one line per epoch; a tqdm bar per epoch (``progress=False``: silent).

    Args:
        model: a classifier (timm, or any model whose head is its last ``nn.Linear``).
        train_loader, val_loader: yield (images, targets); ``val_loader`` may be None.
        epochs, lr: epochs to train; the backbone's peak learning rate.
        device: where to train; None picks one.
        head_lr_mult, weight_decay, layer_decay: see ``param_groups``.
        gradual_unfreeze: ULMFiT's schedule: epoch 1 trains the head only, and each later
            epoch unfreezes more backbone stages, from the head down, until the last epoch
            trains them all (``unfreeze_for_epoch``); frozen stages keep their learning
            rates in the optimiser and simply get no gradient.
        schedule, warmup_epochs: see ``make_scheduler`` (``"onecycle"``, ``"cosine"``, ``"constant"``).
        label_smoothing: passed to ``CrossEntropyLoss``.
        amp: ``"bf16"`` (CPU or GPU), ``"fp16"`` (CUDA, with a GradScaler) or None.
        channels_last: convert the model and inputs to channels-last (faster convs on GPU).
        compile: wrap the model with ``torch.compile`` (the checkpoint stores the plain model).
        grad_clip: clip gradient norm to this value, or None.
        bn_mode: ``"train"``, ``"frozen_layers"`` or ``"frozen"`` (see ``train_one_epoch``).
        batch_transform: applied to every training batch (see ``train_one_epoch``), e.g. an attack.
        checkpoint_path: file to save after every epoch, or None.
        resume: continue from ``checkpoint_path`` at the epoch after the saved one; the
            result equals an uninterrupted run. A missing file starts from epoch 1.
        profile: a ``Profile`` (or dict) stored in the checkpoint.
        seed: the seed for ``seed_everything``.
        progress: print the plan and per-epoch lines, and show progress bars.

    Returns:
        A ``History`` with one row per epoch (resumed runs include the earlier rows).

    Raises:
        UnknownName: unknown ``schedule``, ``bn_mode`` or ``amp``.
        ValueError: ``amp="fp16"`` without CUDA; ``resume`` without ``checkpoint_path``.
        NonFiniteLoss: the loss became NaN or inf.
        TransferLessonsError: the checkpoint to resume was written for another ``epochs``.

    Example:
        >>> history = fit(model, train_loader, val_loader, epochs=3, lr=1e-4, checkpoint_path="runs/last.pt")
        >>> history.best("val_acc")

    Shown step by step in lesson 02, *Fine-tuning strategies*.
    """
    if bn_mode not in BN_MODES:
        raise UnknownName("bn_mode", bn_mode, BN_MODES, "fit's docstring")
    seed_everything(seed)
    device = pick_device(device)
    amp_dtype, scaler = _amp_settings(amp, device)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if gradual_unfreeze:
        unfreeze_backbone(model)  # every stage gets its optimiser group now; epochs freeze them below
    optimizer = torch.optim.AdamW(param_groups(model, lr, head_lr_mult=head_lr_mult, weight_decay=weight_decay,
                                               layer_decay=layer_decay))
    steps = len(train_loader)
    scheduler = make_scheduler(optimizer, schedule, total_steps=epochs * steps, warmup_steps=warmup_epochs * steps)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    history, first_epoch = _resume(checkpoint_path, epochs, model, optimizer, scheduler, scaler) if resume else (History(), 1)
    runner = torch.compile(model) if compile else model  # shares its parameters with model
    if progress:
        print(f"fit: epochs {first_epoch}..{epochs} × {steps} steps on {device}; AdamW lr {lr:g} (head "
              f"{lr * head_lr_mult:g}, layer decay {layer_decay}, gradual unfreeze {gradual_unfreeze}), {schedule} schedule, warmup {warmup_epochs * steps} steps, amp {amp}, "
              f"bn_mode {bn_mode}, {count_parameters(model, trainable_only=True):,} trainable parameters")
    for epoch in range(first_epoch, epochs + 1):
        start = time.perf_counter()
        if gradual_unfreeze:
            unfreeze_for_epoch(model, epoch, epochs)
        train = train_one_epoch(runner, train_loader, optimizer, loss_fn, device, scheduler=scheduler,
                                scaler=scaler, amp_dtype=amp_dtype, grad_clip=grad_clip, channels_last=channels_last,
                                bn_mode=bn_mode, batch_transform=batch_transform, epoch=epoch, progress=progress)
        val = {} if val_loader is None else evaluate(runner, val_loader, loss_fn, device, amp_dtype=amp_dtype,
                                                     channels_last=channels_last)
        history.append(_epoch_row(epoch, train, val, optimizer, time.perf_counter() - start))
        if checkpoint_path is not None:
            save_checkpoint(
                checkpoint_path, model=model.state_dict(), optimizer=optimizer.state_dict(),
                scheduler=scheduler.state_dict(), scaler=scaler.state_dict() if scaler else None,
                epoch=epoch, epochs=epochs, history=history.to_dict(), rng=rng_states(),
                profile=profile.as_dict() if hasattr(profile, "as_dict") else profile,
            )
        if progress:
            print(format_epoch(history.last(), epochs))
    return history
