"""Data-parallel training with PyTorch DDP: the package's own loop on every rank, one shard each.

Lesson 04 writes a whole DDP script by hand (``init_process_group``, ``DistributedSampler`` with ``set_epoch``,
``DistributedDataParallel``, rank 0 saving) and runs it with ``torchrun``; ``train_ddp`` is the same loop with the
package's ``train_one_epoch`` (NaN check, running averages), for a script of your own::

    dist.init_process_group("gloo")  # "nccl" on GPUs; the script started by torchrun --nproc_per_node 2
    history = train_ddp(model, train_set, global_batch=32, epochs=2)
    if dist.get_rank() == 0:
        torch.save(model.state_dict(), "model.pt")

``W`` processes with global batch ``B`` equal one process with batch ``B`` (``train_single``): ``DistributedSampler``
gives every rank the same permutation per epoch (``set_epoch``) and rank ``r`` its positions ``r, r + W, ...``, so a
step's shards together are the batch one process would read; the loss is a mean, so the mean of the shard gradients
is the global batch's gradient. What breaks it: BatchNorm in training mode (per-shard statistics), dropout and random
augmentation (each process draws its own numbers), a last partial batch, a missing ``set_epoch``. "Equal" is up to
float rounding, which long training amplifies.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from ..errors import TransferLessonsError
from ._loop import train_one_epoch

__all__ = ["require_process_group", "shard_loader", "train_ddp", "train_single"]


def require_process_group(caller: str = "this function") -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised process group, else TransferLessonsError saying how to get one."""
    if not (dist.is_available() and dist.is_initialized()):
        raise TransferLessonsError(
            f"{caller} needs an initialised torch.distributed process group, and there is none. Fix: "
            "start the script with torchrun (python -m torch.distributed.run --standalone --nproc_per_node 2 "
            "script.py) and call torch.distributed.init_process_group('gloo') in it ('nccl' on GPUs); "
            "for one process use train_single.")
    return dist.get_rank(), dist.get_world_size()


def shard_loader(dataset, global_batch: int, *, seed: int = 0, rank: Optional[int] = None,
                 world_size: Optional[int] = None, **loader_kwargs) -> DataLoader:
    """A loader giving this rank its ``global_batch / world_size`` images of every global batch.

    Args:
        dataset: a map-style dataset. global_batch: images per optimiser step over all ranks together.
        seed: shuffling seed, the same on every rank (call ``loader.sampler.set_epoch(e)`` each epoch).
        rank, world_size: this process's place; None reads them from the process group. ``rank=0, world_size=1``
            gives the single-process loader with the same batches.
    Returns: A ``DataLoader`` over a ``DistributedSampler`` (shuffled, ``drop_last``: equal shards).
    Raises: TransferLessonsError: ``rank``/``world_size`` not given and no process group.
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


def _epochs(runner, loader, device, epochs, lr, bn_mode, progress) -> list:
    optimizer = torch.optim.SGD([p for p in runner.parameters() if p.requires_grad], lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    rows = []
    for epoch in range(epochs):
        loader.sampler.set_epoch(epoch)  # a new permutation each epoch, the same on every rank
        rows.append(train_one_epoch(runner, loader, optimizer, loss_fn, device, bn_mode=bn_mode,
                                    epoch=epoch + 1, progress=progress))
    return rows


def _global(row: dict, device) -> dict:
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

    Call it on every rank of an initialised process group, with the same dataset and an identically seeded model.
    Args:
        dataset: the training set (every rank sees all of it; the sampler picks the shard).
        bn_mode: as in ``train_one_epoch``; ``"frozen"`` (default) keeps BatchNorm out of the way, so the
            result equals ``train_single``'s; ``"train"`` normalises per shard.
        device: this rank's device (None: cpu; on GPUs ``cuda:<LOCAL_RANK>``). progress: a bar on rank 0.
    Returns: One dict per epoch (``train_one_epoch``'s keys) over all ranks: image-weighted loss and accuracy, all
        ranks' images, the slowest rank's seconds.
    Raises: TransferLessonsError: no initialised process group. ValueError: see ``shard_loader``.
    """
    rank, world_size = require_process_group("train_ddp")
    device = torch.device(device or "cpu")
    model.to(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())  # DDP wants this rank's one GPU
    runner = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    loader = shard_loader(dataset, global_batch, seed=seed, rank=rank, world_size=world_size)
    rows = _epochs(runner, loader, device, epochs, lr, bn_mode, progress and rank == 0)
    return [_global(row, device) for row in rows]


def train_single(model: nn.Module, dataset, *, global_batch: int, epochs: int = 1, lr: float = 0.05, seed: int = 0,
                 bn_mode: str = "frozen", device=None, progress: bool = False) -> list:
    """What ``train_ddp`` does, in one process: the same batches (``global_batch`` at a time), the same steps.

    Returns one ``train_one_epoch`` dict per epoch. Raises ValueError: fewer images than ``global_batch``.
    """
    device = torch.device(device or "cpu")
    model.to(device)
    loader = shard_loader(dataset, global_batch, seed=seed, rank=0, world_size=1)
    return _epochs(model, loader, device, epochs, lr, bn_mode, progress)
