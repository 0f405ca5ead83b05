"""training.distributed: shards, the process-group error, 2 DDP processes = 1 process."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from transfer_lessons.errors import TransferLessonsError
from transfer_lessons.training import load_checkpoint
from transfer_lessons.training.distributed import (
    demo_data,
    demo_model,
    launch,
    main,
    max_param_diff,
    run_demo,
    shard_loader,
    train_ddp,
)

TINY = dict(model="tiny", n_train=32, n_val=16, size=16, global_batch=8, epochs=2, lr=0.1)
FLAGS = [f"--{key.replace('_', '-')}={value}" for key, value in TINY.items()]


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
    train_set, _ = demo_data(8, 2, size=8)
    for call in (lambda: train_ddp(demo_model("tiny"), train_set, global_batch=4),
                 lambda: shard_loader(train_set, 4)):
        with pytest.raises(TransferLessonsError) as info:
            call()
        for part in ("process group", "torchrun", "init_process_group", "train_single"):
            assert part in str(info.value), f"{part!r} not in {info.value}"


@pytest.mark.timeout(120)
def test_two_ddp_processes_equal_one_process_with_the_same_global_batch(tmp_path, one_thread):
    printed = launch("-m transfer_lessons.training.distributed", "--out", tmp_path / "ddp.pt", *FLAGS, nproc=2)
    ddp = load_checkpoint(tmp_path / "ddp.pt")  # torchrun, 2 processes, gloo on this machine
    assert "world size 2, global batch 8" in printed
    single = run_demo(tmp_path / "single.pt", **TINY)
    assert (ddp["world_size"], ddp["per_rank_batch"], single["world_size"]) == (2, 4, 1)
    moved = max_param_diff(ddp["state"], demo_model("tiny").state_dict())
    assert moved > 1e-3, f"the weights moved only {moved}: the comparison below would prove nothing"
    diff = max_param_diff(ddp["state"], single["state"])
    assert diff <= 1e-5, f"DDP and single-process parameters differ by {diff}"
    assert ddp["val_acc"] == single["val_acc"]
    assert [r["loss"] for r in ddp["train"]] == pytest.approx([r["loss"] for r in single["train"]], abs=1e-5)
    assert [r["images"] for r in ddp["train"]] == [32, 32], "every image once per epoch, over both ranks"
    other = run_demo(**{**TINY, "global_batch": 16})  # another global batch: other steps
    assert max_param_diff(other["state"], single["state"]) > 1e-3


def test_main_without_torchrun_trains_one_process_and_writes_the_result(tmp_path, capsys, one_thread):
    out = tmp_path / "single.pt"
    flags = ["--model", "tiny", "--n-train", "16", "--n-val", "8", "--size", "16", "--global-batch", "8"]
    assert main(["--out", str(out), *flags]) == 0
    saved = load_checkpoint(out)
    assert saved["world_size"] == 1 and saved["settings"]["global_batch"] == 8 and 0 <= saved["val_acc"] <= 1
    assert "world size 1, global batch 8" in capsys.readouterr().out
    assert main(["--out", str(tmp_path / "none.pt"), *flags[:-1], "64"]) == 2
    err = capsys.readouterr().err
    assert "fewer than one global batch of 64" in err and len(err.strip().splitlines()) == 1, err


def test_max_param_diff_refuses_different_models():
    assert max_param_diff(demo_model("tiny"), demo_model("tiny")) == 0.0
    with pytest.raises(ValueError, match="different tensors"):
        max_param_diff({"a": torch.zeros(2)}, {"b": torch.zeros(2)})
    with pytest.raises(ValueError, match="shape"):
        max_param_diff({"a": torch.zeros(2)}, {"a": torch.zeros(3)})
