"""Data-parallel training with PyTorch DDP: the package's own loop on every rank, one shard each.

``torchrun`` starts one process per rank; each joins the process group (``gloo`` on CPUs, ``nccl`` on GPUs),
wraps its copy of the model in ``DistributedDataParallel`` and runs ``train_one_epoch`` on its shard of every
global batch. In the backward pass DDP all-reduces and averages the gradients, so every rank takes the same step.
Lesson 04 writes the same in a plain script first.

``W`` processes with global batch ``B`` equal one process with batch ``B``: ``DistributedSampler`` gives every
rank the same permutation per epoch (``set_epoch``) and rank ``r`` its positions ``r, r + W, ...``, so a step's
shards together are the batch one process would read; the loss is a mean, so the mean of the shard gradients is
the global batch's gradient. What breaks it: BatchNorm in training mode (per-shard statistics), dropout and
random augmentation (each process draws its own numbers), a last partial batch, a missing ``set_epoch``.
"Equal" is up to float rounding, which deep fine-tuning amplifies (measured with the demo, 4 full steps of
efficientnet_lite0: parameters within 2e-5; the head alone: 2e-7 after 12 steps).

The demo fine-tunes a pretrained efficientnet_lite0 for 4 steps on 64-pixel circles vs. squares
(``bn_mode="frozen"``, no dropout, no augmentation, SGD with momentum); both runs write
``{"state", "val_acc", ...}``, and ``max_param_diff`` compares them::

    torchrun --standalone --nproc_per_node 2 -m transfer_lessons.training.distributed --out ddp.pt
    python -m transfer_lessons.training.distributed --out single.pt   # one process, the same global batch
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from ..assets import SHAPES, shape_image
from ..errors import TransferLessonsError
from ..models import create_backbone, freeze_backbone
from ..runtime import seed_everything
from ._checkpoint import save_checkpoint
from ._loop import evaluate, train_one_epoch

__all__ = ["require_process_group", "shard_loader", "train_ddp", "train_single", "demo_data", "demo_model",
           "run_demo", "launch", "max_param_diff", "main"]


def require_process_group(caller: str = "this function") -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised process group; ``caller`` starts the error message.

    Raises:
        TransferLessonsError: there is no initialised process group; the message says how to get one.
    """
    if not (dist.is_available() and dist.is_initialized()):
        raise TransferLessonsError(
            f"{caller} needs an initialised torch.distributed process group, and there is none. Fix: "
            "start the script with torchrun (python -m torch.distributed.run --standalone --nproc_per_node 2 "
            "script.py) and call torch.distributed.init_process_group('gloo') in it ('nccl' on GPUs); "
            "for one process use train_single."
        )
    return dist.get_rank(), dist.get_world_size()


def shard_loader(dataset, global_batch: int, *, seed: int = 0, rank: Optional[int] = None,
                 world_size: Optional[int] = None, **loader_kwargs) -> DataLoader:
    """A loader giving this rank its ``global_batch / world_size`` images of every global batch.

    Args:
        dataset: a map-style dataset. global_batch: images per optimiser step over all ranks together.
        seed: shuffling seed, the same on every rank (call ``loader.sampler.set_epoch(e)`` each epoch).
        rank, world_size: this process's place; None reads them from the process group. ``rank=0, world_size=1``
            gives the single-process loader with the same batches.
        **loader_kwargs: passed to ``DataLoader`` (e.g. ``num_workers``).
    Returns:
        A ``DataLoader`` over a ``DistributedSampler`` (shuffled, ``drop_last``: equal shards).
    Raises:
        ValueError: ``global_batch`` is not a multiple of ``world_size``, or the dataset holds fewer images
            than one global batch.
        TransferLessonsError: ``rank``/``world_size`` not given and no process group.
    Example:
        >>> loader = shard_loader(train_set, global_batch=32)  # 16 per rank on 2 ranks
    Shown in lesson 04, *More than one machine*.
    """
    if rank is None or world_size is None:
        rank, world_size = require_process_group("shard_loader")
    if global_batch % world_size:
        nearest = world_size * max(1, global_batch // world_size)
        raise ValueError(f"shard_loader: global_batch={global_batch} does not split into {world_size} equal "
                         f"shards; use a multiple of {world_size}, e.g. {nearest}.")
    if len(dataset) < global_batch:
        raise ValueError(f"shard_loader: {len(dataset)} images are fewer than one global batch of {global_batch}; "
                         "use a smaller global_batch or more data.")
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=True)
    return DataLoader(dataset, batch_size=global_batch // world_size, sampler=sampler, drop_last=True, **loader_kwargs)


def _epochs(runner, loader, optimizer, device, epochs, bn_mode, progress) -> list:
    loss_fn = nn.CrossEntropyLoss()
    rows = []
    for epoch in range(1, epochs + 1):
        loader.sampler.set_epoch(epoch)  # a new permutation each epoch, the same on every rank
        rows.append(train_one_epoch(runner, loader, optimizer, loss_fn, device, bn_mode=bn_mode,
                                    epoch=epoch, progress=progress))
    return rows


def _global(row: dict, device) -> dict:
    """One epoch's stats over all ranks: image-weighted loss and accuracy, the slowest rank's time."""
    sums = torch.tensor([row["loss"] * row["images"], row["acc"] * row["images"], row["images"]],
                        dtype=torch.float64, device=device)
    seconds = torch.tensor([row["seconds"]], dtype=torch.float64, device=device)
    dist.all_reduce(sums)
    dist.all_reduce(seconds, op=dist.ReduceOp.MAX)
    images, seconds = int(sums[2].item()), seconds.item()
    return {"loss": sums[0].item() / images, "acc": sums[1].item() / images, "images": images,
            "seconds": seconds, "images_per_s": images / seconds if seconds else 0.0}


def train_ddp(model: nn.Module, dataset, *, global_batch: int, epochs: int = 1, lr: float = 0.05, seed: int = 0,
              bn_mode: str = "frozen", device=None, progress: bool = False) -> list:
    """Train ``model`` in place with DDP, this rank on its shard: SGD (momentum 0.9) and ``train_one_epoch``.

    Call it on every rank of an initialised process group, with the same model and dataset.
    Args:
        model: the model, built identically on every rank (same seed).
        dataset: the training set (every rank sees all of it; the sampler picks the shard).
        global_batch: images per step over all ranks (``global_batch / world_size`` per rank).
        epochs, lr, seed: epochs, SGD learning rate, shuffling seed.
        bn_mode: as in ``train_one_epoch``; ``"frozen"`` (default) keeps BatchNorm out of the way, so the
            result equals ``train_single``'s; ``"train"`` normalises per shard.
        device: this rank's device (None: cpu; on GPUs ``cuda:<LOCAL_RANK>``). progress: a bar on rank 0.
    Returns:
        One dict per epoch (``train_one_epoch``'s keys) over all ranks: image-weighted loss and accuracy,
        all ranks' images, the slowest rank's seconds.
    Raises:
        TransferLessonsError: no initialised process group.
        ValueError: see ``shard_loader``.
    Example:
        >>> dist.init_process_group("gloo")  # in a script started by torchrun
        >>> train_ddp(model, train_set, global_batch=32, epochs=2)
    Shown in lesson 04, *More than one machine*.
    """
    rank, world_size = require_process_group("train_ddp")
    device = torch.device(device or "cpu")
    model.to(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())  # DDP wants this rank's one GPU
    runner = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    loader = shard_loader(dataset, global_batch, seed=seed, rank=rank, world_size=world_size)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr, momentum=0.9)
    rows = _epochs(runner, loader, optimizer, device, epochs, bn_mode, progress and rank == 0)
    return [_global(row, device) for row in rows]


def train_single(model: nn.Module, dataset, *, global_batch: int, epochs: int = 1, lr: float = 0.05, seed: int = 0,
                 bn_mode: str = "frozen", device=None, progress: bool = False) -> list:
    """What ``train_ddp`` does, in one process: the same batches (``global_batch`` at a time), the same steps.

    Returns one ``train_one_epoch`` dict per epoch. Raises ValueError: fewer images than ``global_batch``.
    """
    device = torch.device(device or "cpu")
    model.to(device)
    loader = shard_loader(dataset, global_batch, seed=seed, rank=0, world_size=1)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr, momentum=0.9)
    return _epochs(model, loader, optimizer, device, epochs, bn_mode, progress)


def demo_data(n_train: int = 128, n_val: int = 64, size: int = 64, seed: int = 0) -> tuple:
    """Circles vs. squares (classes alternate), in memory: two ``TensorDataset``s of ``[N, 3, size, size]``
    floats in [-1, 1] and labels; the same arguments give the same tensors in every process."""
    rng = np.random.default_rng(seed)

    def split(n):
        targets = torch.arange(n) % len(SHAPES)
        images = np.stack([shape_image(rng, SHAPES[int(t)], size) for t in targets])
        return TensorDataset(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1, targets)

    return split(n_train), split(n_val)


def demo_model(name: str = "efficientnet_lite0", *, pretrained: bool = True, seed: int = 0) -> nn.Module:
    """A 2-class model without dropout: a catalog backbone (``drop_rate`` and ``drop_path_rate`` 0), or
    ``"tiny"`` (two conv layers with BatchNorm); ``seed`` makes every rank build the same weights."""
    torch.manual_seed(seed)
    if name == "tiny":
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                             nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 2))
    return create_backbone(name, pretrained=pretrained, num_classes=2, drop_rate=0.0, drop_path_rate=0.0)


def run_demo(out=None, *, model: str = "efficientnet_lite0", pretrained: bool = True, head_only: bool = False,
             n_train: int = 128, n_val: int = 64, size: int = 64, global_batch: int = 32, epochs: int = 1,
             lr: float = 0.003, seed: int = 0, bn_mode: str = "frozen", device=None, progress: bool = False) -> dict:
    """Train ``demo_model`` on ``demo_data``: with DDP under a process group, else in one process.

    Args:
        out: file for rank 0 to write the result to (atomically, ``save_checkpoint``), or None.
        model, pretrained: see ``demo_model``; ``model="tiny"`` is a few times faster, but barely learns.
        head_only: train the classifier only (``freeze_backbone``); try ``lr=0.1, epochs=3``.
        n_train, n_val, size: see ``demo_data``. The defaults reach a validation accuracy of 0.98 in 4 steps
            (about 3 s of one CPU core; 15 s for two ranks under torchrun).
        global_batch, epochs, lr, seed, bn_mode, device, progress: see ``train_ddp``.
    Returns:
        ``{"world_size", "global_batch", "per_rank_batch", "train", "val_acc", "val_loss", "state", "settings"}``;
        ``state`` is the trained model's ``state_dict`` on the CPU.
    Example:
        >>> single = run_demo("single.pt")  # one process; two: launch("-m transfer_lessons.training.distributed", ...)
        >>> max_param_diff(single["state"], load_checkpoint("ddp.pt")["state"])
    Shown in lesson 04, *More than one machine*.
    """
    settings = dict(model=model, pretrained=pretrained, head_only=head_only, n_train=n_train, n_val=n_val, size=size,
                    global_batch=global_batch, epochs=epochs, lr=lr, seed=seed, bn_mode=bn_mode)
    seed_everything(seed)
    train_set, val_set = demo_data(n_train, n_val, size, seed)
    net = demo_model(model, pretrained=pretrained, seed=seed)
    if head_only:
        freeze_backbone(net)
    distributed = dist.is_available() and dist.is_initialized()
    rank, world_size = require_process_group("run_demo") if distributed else (0, 1)
    trainer = train_ddp if distributed else train_single
    history = trainer(net, train_set, global_batch=global_batch, epochs=epochs, lr=lr, seed=seed,
                      bn_mode=bn_mode, device=device, progress=progress)
    val = evaluate(net, DataLoader(val_set, batch_size=64), nn.CrossEntropyLoss(), device or "cpu")
    result = {"world_size": world_size, "global_batch": global_batch, "per_rank_batch": global_batch // world_size,
              "train": history, "val_acc": val["acc"], "val_loss": val["loss"],
              "state": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}, "settings": settings}
    if out is not None and rank == 0:
        save_checkpoint(out, **result)
    return result


def launch(script, *args, nproc: int = 2, timeout: float = 300) -> str:
    """Run ``script`` (a ``.py`` file, or ``"-m module"``) in ``nproc`` processes with torchrun; return its output.

    Args:
        script: the training script each rank runs. args: its command-line arguments.
        nproc: processes (ranks) to start on this machine. timeout: seconds before the run is stopped.
    Raises:
        TransferLessonsError: the run failed or timed out; the message holds the failing rank's error.
    Example:
        >>> launch("-m transfer_lessons.training.distributed", "--out", "ddp.pt")  # then load_checkpoint("ddp.pt")
    Shown in lesson 04, *More than one machine*.
    """
    target = ["-m", script[3:]] if str(script).startswith("-m ") else [str(script)]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *target,
               *map(str, args)]
    package_root = str(Path(__file__).resolve().parents[2])  # importable without an install
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    env.setdefault("OMP_NUM_THREADS", "1")  # one thread per rank: ranks share the cores
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as err:
        raise TransferLessonsError(f"torchrun did not finish in {timeout:g} s; pass a larger timeout= "
                                   "or train less.") from err
    if done.returncode != 0:
        raise TransferLessonsError(f"torchrun exited with status {done.returncode}: "
                                   f"{_reason(done.stderr + done.stdout)}. Fix that, then run again; the command was: "
                                   f"{' '.join(command)}")
    return done.stdout


def _reason(output: str) -> str:
    """The first ``error:`` line a rank printed, else the last exception line, else the last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    ours = [line for line in lines if line.startswith("error: ")]
    raised = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Interrupt)\b", line)]
    return (ours or raised or lines or ["no output"])[0 if ours else -1][:500].rstrip(".")


def max_param_diff(a, b) -> float:
    """The largest absolute difference between two models' matching tensors (state dicts or modules).

    Raises:
        ValueError: the two hold different tensor names or shapes.
    Example:
        >>> max_param_diff(single["state"], ddp["state"])  # 1.2e-07
    Shown in lesson 04, *More than one machine*.
    """
    a, b = (x.state_dict() if isinstance(x, nn.Module) else x for x in (a, b))
    if set(a) != set(b):
        raise ValueError(f"max_param_diff: different tensors, e.g. {sorted(set(a) ^ set(b))[:3]}; "
                         "compare two runs of the same model.")
    diffs = [0.0]
    for name in a:
        if a[name].shape != b[name].shape:
            raise ValueError(f"max_param_diff: {name} has shape {tuple(a[name].shape)} vs {tuple(b[name].shape)}.")
        if a[name].numel():
            diffs.append((a[name].double().cpu() - b[name].double().cpu()).abs().max().item())
    return max(diffs)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m transfer_lessons.training.distributed",
                                     description="Train the DDP demo (under torchrun: one process per rank).")
    parser.add_argument("--out", required=True, help="result file written by rank 0 (.pt)")
    parser.add_argument("--model", default="efficientnet_lite0", help="a catalog backbone name, or tiny")
    parser.add_argument("--pretrained", action=argparse.BooleanOptionalAction, default=True,
                        help="ImageNet weights for a catalog backbone (default; --no-pretrained: random)")
    parser.add_argument("--head-only", action="store_true", help="train the classifier only")
    for name, kind, default in (("n-train", int, 128), ("n-val", int, 64), ("size", int, 64),
                                ("global-batch", int, 32), ("epochs", int, 1), ("lr", float, 0.003), ("seed", int, 0)):
        parser.add_argument(f"--{name}", type=kind, default=default)
    parser.add_argument("--bn-mode", default="frozen", help="frozen (default), frozen_layers or train")
    parser.add_argument("--device", default="cpu", help="cpu (gloo) or cuda (nccl, one GPU per rank)")
    return parser


def main(argv=None) -> int:
    """Entry point: joins the process group when started by torchrun, runs ``run_demo``, prints one line.

    Example:
        >>> main(["--out", "single.pt"])  # one process; under torchrun, one call per rank
    Shown in lesson 04, *More than one machine*.
    """
    args = _parser().parse_args(argv)
    launched = "LOCAL_RANK" in os.environ  # torchrun sets it for every process it starts
    device = torch.device(args.device)
    if launched and device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    try:
        if launched:
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        options = {k: v for k, v in vars(args).items() if k not in ("out", "device")}
        result = run_demo(args.out, device=device, **options)
    except (TransferLessonsError, ValueError) as err:  # bad flags: one line, not a traceback per rank
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        if launched and dist.is_initialized():
            dist.destroy_process_group()
    if not launched or int(os.environ.get("RANK", "0")) == 0:
        share = "one process" if result["world_size"] == 1 else f"{result['per_rank_batch']} per rank"
        print(f"world size {result['world_size']}, global batch {result['global_batch']} ({share}): "
              f"val acc {result['val_acc']:.4f}; saved to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
