"""training.distributed: shards, the process-group error, 2 DDP processes under torchrun = 1 process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from transfer_lessons.errors import TransferLessonsError
from transfer_lessons.training.distributed import shard_loader, train_ddp, train_single

REPO = Path(__file__).resolve().parents[1]

# A script of the kind lesson 04 writes, with the package's loop: every rank builds the same model and data.
SCRIPT = textwrap.dedent("""
    import sys
    import torch
    import torch.distributed as dist
    from torch.utils.data import TensorDataset
    from test_model import tiny_model
    from transfer_lessons.training.distributed import train_ddp

    dist.init_process_group("gloo")
    images, labels = torch.load(sys.argv[1])
    model = tiny_model()
    history = train_ddp(model, TensorDataset(images, labels), global_batch=8, epochs=2, lr=0.1)
    if dist.get_rank() == 0:
        torch.save({"state": model.state_dict(), "history": history, "world_size": dist.get_world_size()}, sys.argv[2])
    dist.destroy_process_group()
""")
MODEL = textwrap.dedent("""
    import torch
    from torch import nn

    def tiny_model():
        torch.manual_seed(0)  # the same weights on every rank
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                             nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 2))
""")


def _tiny_model() -> nn.Module:
    namespace = {}
    exec(MODEL, namespace)  # the same definition the ranks import
    return namespace["tiny_model"]()


def _max_diff(a: dict, b: dict) -> float:
    assert set(a) == set(b), sorted(set(a) ^ set(b))
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a if a[k].numel())


def test_shards_of_each_step_make_up_the_single_process_batch():
    data = TensorDataset(torch.arange(20))
    ranks = [shard_loader(data, 6, seed=3, rank=r, world_size=2) for r in (0, 1)]
    single = shard_loader(data, 6, seed=3, rank=0, world_size=1)
    for epoch in (1, 2):
        for loader in (*ranks, single):
            loader.sampler.set_epoch(epoch)
        steps = list(zip(*ranks, single))
        assert len(steps) == len(single) == 3, f"{len(steps)} steps, expected 20 // 6 = 3 on every rank"
        for (a,), (b,), (whole,) in steps:
            assert len(a) == len(b) == 3 and sorted(torch.cat([a, b]).tolist()) == sorted(whole.tolist())
    first = [batch[0].tolist() for batch in single]
    single.sampler.set_epoch(1)
    assert first != [batch[0].tolist() for batch in single], "set_epoch should give each epoch its own order"


def test_shard_loader_refuses_unequal_shards_and_too_little_data():
    data = TensorDataset(torch.arange(20))
    with pytest.raises(ValueError, match="multiple of 2"):
        shard_loader(data, 7, rank=0, world_size=2)
    with pytest.raises(ValueError, match="fewer than one global batch"):
        shard_loader(data, 32, rank=0, world_size=2)


def test_ddp_without_a_process_group_names_the_fix():
    train_set = TensorDataset(torch.zeros(8, 3, 8, 8), torch.zeros(8, dtype=torch.long))
    for call in (lambda: train_ddp(_tiny_model(), train_set, global_batch=4),
                 lambda: shard_loader(train_set, 4)):
        with pytest.raises(TransferLessonsError) as info:
            call()
        for part in ("process group", "torchrun", "init_process_group", "train_single"):
            assert part in str(info.value), f"{part!r} not in {info.value}"


@pytest.mark.timeout(180)
def test_two_ddp_processes_under_torchrun_equal_one_process(tmp_path, one_thread):
    generator = torch.Generator().manual_seed(0)
    images, labels = torch.randn(32, 3, 16, 16, generator=generator), torch.arange(32) % 2
    torch.save((images, labels), tmp_path / "data.pt")
    (tmp_path / "train.py").write_text(SCRIPT)
    (tmp_path / "test_model.py").write_text(MODEL)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               str(tmp_path / "train.py"), str(tmp_path / "data.pt"), str(tmp_path / "ddp.pt")]
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(command, capture_output=True, text=True, timeout=150, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    ddp = torch.load(tmp_path / "ddp.pt", weights_only=True)
    single_model = _tiny_model()
    single = train_single(single_model, TensorDataset(images, labels), global_batch=8, epochs=2, lr=0.1)
    assert ddp["world_size"] == 2
    moved = _max_diff(ddp["state"], _tiny_model().state_dict())
    assert moved > 1e-3, f"the weights moved only {moved}: the comparison below would prove nothing"
    diff = _max_diff(ddp["state"], single_model.state_dict())
    assert diff <= 1e-5, f"DDP and single-process parameters differ by {diff}"
    assert [r["loss"] for r in ddp["history"]] == pytest.approx([r["loss"] for r in single], abs=1e-5)
    assert [r["images"] for r in ddp["history"]] == [32, 32], "every image once per epoch, over both ranks"
    other = _tiny_model()
    train_single(other, TensorDataset(images, labels), global_batch=16, epochs=2, lr=0.1)  # other steps
    assert _max_diff(other.state_dict(), single_model.state_dict()) > 1e-3
