"""``fit``: the one-call recipe around ``train_one_epoch`` and ``evaluate``. Everything else it does comes from a
strategy or a field of ``FitOptions`` (its default beside it), so ``fit`` itself keeps a short signature.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import nn

from ..errors import TransferLessonsError, UnknownName
from ..models import (
    BN_MODES,
    apply_strategy,
    count_parameters,
    get_strategy,
    param_groups,
    unfreeze_backbone,
    unfreeze_for_epoch,
)
from ..runtime import pick_device, seed_everything
from ._checkpoint import load_checkpoint, restore_rng_states, rng_states, save_checkpoint
from ._loop import evaluate, train_one_epoch
from ._metrics import History, format_epoch
from ._schedules import make_scheduler

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}  # fit's amp names, and the speed layer's


@dataclass(frozen=True)
class FitOptions:
    """Everything ``fit`` does besides the loop. The four marked "strategy" default to the strategy's value."""

    weight_decay: float = 0.05  # AdamW's decoupled decay on matrices and kernels (biases and norm weights: 0)
    head_lr_mult: Optional[float] = None  # strategy; the head's rate over the backbone's (no strategy: 10)
    layer_decay: Optional[float] = None  # strategy; rate factor between consecutive stages (no strategy: one rate)
    gradual_unfreeze: Optional[bool] = None  # strategy; head first, then more stages each epoch (ULMFiT)
    bn_mode: Optional[str] = None  # strategy; "train", "frozen_layers" or "frozen" (no strategy: "train")
    schedule: str = "onecycle"  # "onecycle", "cosine" or "constant", stepped every batch (make_scheduler)
    warmup_epochs: int = 0  # epochs of warmup (onecycle with 0: the first 30 % of the steps)
    label_smoothing: float = 0.0  # CrossEntropyLoss's label smoothing
    amp: Optional[str] = None  # "bf16" (CPU or GPU), "fp16" (CUDA, with a GradScaler) or None (float32)
    channels_last: bool = False  # model and inputs in channels-last layout (faster convolutions on GPUs)
    compile: bool = False  # run the model through torch.compile (the checkpoint stores the plain model)
    grad_clip: Optional[float] = None  # clip the gradients' total L2 norm to this, or None
    batch_transform: Optional[Callable] = None  # applied to every training batch, e.g. an attack (lesson 05)
    keep_best: bool = True  # end with the weights of the epoch with the best val_acc (needs a val_loader)
    patience: Optional[int] = None  # stop after this many epochs without a better val_acc; None: never
    profile: Optional[dict] = None  # stored in each checkpoint, for the record

    def resolved(self, strategy) -> "FitOptions":
        """These options with every strategy field filled: from ``strategy`` (a name or card), else the default."""
        card = get_strategy(strategy) if strategy is not None else None
        plain = {"head_lr_mult": 10.0, "layer_decay": None, "gradual_unfreeze": False, "bn_mode": "train"}
        return replace(self, **{key: getattr(self, key) if getattr(self, key) is not None else
                                getattr(card, key) if card is not None else default for key, default in plain.items()})


def _amp_settings(amp: Optional[str], device: torch.device):
    if amp is None:
        return None, None
    if amp not in AMP_DTYPES:
        raise UnknownName("amp setting", amp, AMP_DTYPES, "FitOptions (amp='bf16', 'fp16' or None)")
    if amp == "fp16" and device.type != "cuda":
        raise ValueError(f"fit: amp='fp16' needs a CUDA GPU, but the device is {device}; use amp='bf16' or None.")
    # fp16 overflows easily: the scaler scales the loss up and skips steps whose gradients overflow.
    return AMP_DTYPES[amp], torch.amp.GradScaler("cuda") if amp == "fp16" else None


def _resume(path, epochs, model, optimizer, scheduler, scaler):
    if path is None:
        raise ValueError("fit: resume=True needs checkpoint_path= (the file to resume from).")
    if not Path(path).is_file():
        print(f"fit: no checkpoint at {path} yet; starting at epoch 1.")
        return History(), 1, None
    state = load_checkpoint(path)
    if state["epochs"] != epochs:
        raise TransferLessonsError(
            f"{path} was written by a run of epochs={state['epochs']}, its schedule spans that many; "
            f"resume with epochs={state['epochs']}, or start afresh with resume=False.")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    restore_rng_states(state["rng"])  # same shuffles and dropout masks as an uninterrupted run
    return History.from_dict(state["history"]), state["epoch"] + 1, state.get("best")


def _epoch_row(epoch: int, train: dict, val: dict, optimizer, seconds: float) -> dict:
    """One ``History`` row; ``lr`` is the backbone rate (the first group's rate over its multiplier)."""
    group = optimizer.param_groups[0]
    return {"epoch": epoch, "train_loss": train["loss"], "train_acc": train["acc"], "val_loss": val.get("loss"),
            "val_acc": val.get("acc"), "lr": group["lr"] / group.get("lr_mult", 1.0), "seconds": seconds,
            "images_per_s": train["images_per_s"], "first_loss": train["first_loss"]}


def _warn_if_nonsense(history: History, num_classes: Optional[int]) -> None:
    start, end = history[0]["first_loss"], history.last()["train_loss"]
    if math.isfinite(start) and end > start:
        warnings.warn(f"fit: the training loss ended above where it started ({start:.3f} -> {end:.3f}): the run "
                      "diverged. Fix: lower the learning rate (lr), or check the labels.", UserWarning, stacklevel=3)
    accuracy = history.kept().get("val_acc")
    if accuracy is not None and num_classes and accuracy <= 1 / num_classes + 0.02:
        warnings.warn(f"fit: validation accuracy {accuracy:.3f} is at or below chance ({num_classes} classes: "
                      f"{1 / num_classes:.3f}); the model learned nothing. Fix: lower the learning rate, train "
                      "longer, or check that the images and labels match.", UserWarning, stacklevel=3)


def fit(model, train_loader, val_loader=None, *, epochs: int, lr: Optional[float] = None, strategy=None,
        options: Optional[FitOptions] = None, device=None, checkpoint_path=None, resume: bool = False,
        seed: int = 0, progress: bool = True) -> History:
    """Fine-tune ``model``: ``train_one_epoch`` then ``evaluate`` once per epoch; keep the best epoch's weights.

    Defaults this recipe hides (all are ``FitOptions`` fields or arguments you can change):
        - seeds Python, NumPy and torch with ``seed=0`` before building anything; moves the model to ``device``
          (None: cuda, then mps, then cpu);
        - with ``strategy``, sets which parameters train (``apply_strategy``) and takes its BatchNorm mode, head and
          layer rates, gradual unfreezing and suggested ``lr``;
        - optimiser ``AdamW`` (betas 0.9/0.999) over ``param_groups``: trainable parameters only, head at ``lr × 10``,
          weight decay 0.05 except on biases and norm weights (0);
        - ``schedule="onecycle"``, stepped every batch: from lr/25 to the peak after 30 % of the steps, down to
          lr/25/1e4, cycling AdamW's beta1 between 0.95 and 0.85;
        - loss ``CrossEntropyLoss(label_smoothing=0.0)``; no gradient clipping; full precision;
        - evaluates after every epoch and ends with the weights of the best-validation-accuracy epoch (``keep_best``;
          ``history.kept_epoch`` says which): later epochs can overfit a small set. That accuracy was chosen on the
          validation set, so it is slightly optimistic; the history shows every epoch. ``patience`` stops early;
        - with ``checkpoint_path``, the file is overwritten atomically after every epoch (model, optimizer,
          scheduler, scaler, epoch, history, best weights, options, RNG states);
        - prints its plan and one line per epoch (progress bars on a terminal or in Jupyter only); warns when the
          training loss ends above its start or the kept model is at chance; raises ``NonFiniteLoss`` on a NaN or
          infinite loss.
    Args:
        model: a classifier (timm, or any model whose head is its last ``nn.Linear``).
        val_loader: may be None (nothing is kept). lr: the backbone's peak learning rate (None: the strategy's).
        strategy: a name from ``list_strategies()`` or a ``Strategy``, or None (train as the model is set).
        resume: continue from ``checkpoint_path`` at the epoch after the saved one; the result equals an uninterrupted
            run (a missing file starts at epoch 1).
    Returns: A ``History`` with one row per epoch (resumed runs include the earlier ones) and ``kept_epoch``.
    Raises:
        UnknownName: unknown strategy, schedule, ``bn_mode`` or ``amp``.
        ValueError: no ``lr`` and no strategy; ``amp="fp16"`` without CUDA; ``resume`` without a path.
        TransferLessonsError: the checkpoint to resume was written for another ``epochs``.
    """
    opts = (options or FitOptions()).resolved(strategy)
    if opts.bn_mode not in BN_MODES:
        raise UnknownName("bn_mode", opts.bn_mode, BN_MODES, "FitOptions")
    if lr is None and strategy is None:
        raise ValueError("fit: give lr=..., or a strategy=... whose suggested learning rate to use.")
    lr = lr if lr is not None else get_strategy(strategy).lr
    seed_everything(seed)
    device = pick_device(device)
    amp_dtype, scaler = _amp_settings(opts.amp, device)
    if strategy is not None:
        apply_strategy(model, strategy)
    model.to(device, memory_format=torch.channels_last if opts.channels_last else torch.preserve_format)
    if opts.gradual_unfreeze:
        unfreeze_backbone(model)  # every stage gets its optimiser group now; epochs freeze them below
    optimizer = torch.optim.AdamW(param_groups(model, lr, head_lr_mult=opts.head_lr_mult,
                                               weight_decay=opts.weight_decay, layer_decay=opts.layer_decay))
    steps = len(train_loader)
    scheduler = make_scheduler(optimizer, opts.schedule, total_steps=epochs * steps,
                               warmup_steps=opts.warmup_epochs * steps)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=opts.label_smoothing)
    history, first_epoch, best = (_resume(checkpoint_path, epochs, model, optimizer, scheduler, scaler) if resume
                                  else (History(), 1, None))
    runner = torch.compile(model) if opts.compile else model  # shares its parameters with model
    if progress:
        print(f"fit: epochs {first_epoch}..{epochs} × {steps} steps on {device}; AdamW lr {lr:g} (head "
              f"{lr * opts.head_lr_mult:g}, layer decay {opts.layer_decay}, gradual unfreeze {opts.gradual_unfreeze}), "
              f"{opts.schedule} schedule, amp {opts.amp}, bn_mode {opts.bn_mode}, "
              f"{count_parameters(model, trainable_only=True):,} trainable parameters")
    num_classes = None
    for epoch in range(first_epoch, epochs + 1):
        start = time.perf_counter()
        if opts.gradual_unfreeze:
            unfreeze_for_epoch(model, epoch, epochs)
        train = train_one_epoch(runner, train_loader, optimizer, loss_fn, device, scheduler=scheduler, scaler=scaler,
                                amp_dtype=amp_dtype, grad_clip=opts.grad_clip, channels_last=opts.channels_last,
                                bn_mode=opts.bn_mode, batch_transform=opts.batch_transform, epoch=epoch,
                                progress=progress)
        val = {} if val_loader is None else evaluate(runner, val_loader, loss_fn, device, amp_dtype=amp_dtype,
                                                     channels_last=opts.channels_last)
        num_classes = val.get("num_classes", num_classes)
        history.append(_epoch_row(epoch, train, val, optimizer, time.perf_counter() - start))
        if val and (best is None or val["acc"] > best["val_acc"]):
            best = {"epoch": epoch, "val_acc": val["acc"], "state": None}
            if opts.keep_best:  # a copy on the CPU: the best weights survive later epochs
                best["state"] = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        if checkpoint_path is not None:
            save_checkpoint(checkpoint_path, model=model.state_dict(), optimizer=optimizer.state_dict(),
                            scheduler=scheduler.state_dict(), scaler=scaler.state_dict() if scaler else None,
                            epoch=epoch, epochs=epochs, history=history.to_dict(), rng=rng_states(), best=best,
                            options={k: v for k, v in asdict(opts).items() if k != "batch_transform"})
        if progress:
            print(format_epoch(history.last(), epochs))
        if opts.patience is not None and best is not None and epoch - best["epoch"] >= opts.patience:
            if progress:
                print(f"fit: no better validation accuracy for {opts.patience} epochs: stopping after epoch {epoch}.")
            break
    history.kept_epoch = history.last()["epoch"]
    if opts.keep_best and best is not None and best["epoch"] != history.kept_epoch:
        model.load_state_dict(best["state"])
        history.kept_epoch = best["epoch"]
    if progress and best is not None:
        print(f"fit: kept epoch {history.kept_epoch} (val acc {history.kept()['val_acc']:.4f}"
              f"{', the best' if opts.keep_best else ', the last'}).")
    _warn_if_nonsense(history, num_classes)
    return history
