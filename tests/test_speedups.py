"""Tests for transfer_lessons.speedups: the decode-every-time baseline, throughput, the ladder's rules."""

from __future__ import annotations

import itertools

import pytest
import torch
from helpers import write_image
from torch import nn

from transfer_lessons.data import CachedImageDataset, DecodingImageDataset, eval_transforms
from transfer_lessons.errors import UnknownName
from transfer_lessons.speed import LADDER, measure_throughput, speed_ladder

pytestmark = pytest.mark.usefixtures("one_thread")
ROW_KEYS = {"variant", "change", "images_per_s", "speedup", "kept", "note", "setting"}


def tiny():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(8, 2))


@pytest.fixture
def images(tmp_path):
    colors = [(200, 30, 60), (20, 180, 90), (40, 40, 220), (240, 240, 20)]
    samples = [(write_image(tmp_path / f"c{i % 2}" / f"{i}.jpg", size=(48, 40), color=colors[i % 4]), i % 2)
               for i in range(8)]
    return CachedImageDataset(samples, ["c0", "c1"], eval_transforms(16), decode_size=19)


def test_decoding_dataset_gives_what_the_cache_gives(images):
    slow = DecodingImageDataset(images)
    assert len(slow) == len(images) == 8
    for index in (0, 5):
        (a, label_a), (b, label_b) = slow[index], images[index]
        assert label_a == label_b and a.shape == b.shape == (3, 16, 16)
        # the cache resizes once to 19 px, then the transform to 16 px; decoding anew resizes once: close, not equal
        assert (a - b).abs().mean() < 0.1, f"mean difference {(a - b).abs().mean():.3f}"


def test_measure_throughput_reads_on_and_counts_only_timed_steps():
    batches = iter([(torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 0, 1]))] * 5)
    model = tiny()
    speed = measure_throughput(model, batches, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                               "cpu", steps=3, warmup=1)
    assert speed > 0 and len(list(batches)) == 1, "1 warm-up + 3 timed steps should leave 1 of 5 batches"
    with pytest.raises(ValueError, match="at least 1"):
        measure_throughput(model, batches, None, None, "cpu", steps=0)


def test_ladder_rows_speedups_and_skips(images):
    rows = speed_ladder(tiny, images, batch_size=4, steps=1, warmup=1, device="cpu", workers=0, progress=False)
    assert [r["variant"] for r in rows] == list(LADDER)
    for row in rows:
        assert set(row) == ROW_KEYS, row
    by_name = {r["variant"]: r for r in rows}
    assert by_name["baseline"]["speedup"] == 1.0 and by_name["baseline"]["kept"]
    assert not by_name["baseline"]["setting"]["cached"] and by_name["cached_data"]["setting"]["cached"]
    assert "CUDA" in by_name["fp16"]["note"] and by_name["fp16"]["images_per_s"] is None
    assert "compile=False" in by_name["compile"]["note"] and not by_name["compile"]["kept"]
    fastest = max(r["images_per_s"] for r in rows if r["images_per_s"])
    assert any(r["kept"] and r["images_per_s"] == fastest for r in rows), "the fastest rung must be kept"
    for row in rows:
        if row["images_per_s"]:
            assert row["speedup"] == pytest.approx(row["images_per_s"] / by_name["baseline"]["images_per_s"])
    # each measured rung starts from the fastest setting before it: a dropped change is not carried on
    for before, after in itertools.pairwise(rows):
        if not before["kept"] and after["images_per_s"] is not None:
            changed = {k for k, v in after["setting"].items() if before["setting"][k] != v}
            assert changed <= set(LADDER[before["variant"]][1]) | set(LADDER[after["variant"]][1])


def test_ladder_runs_chosen_rungs_and_refuses_unknown_ones(images):
    rows = speed_ladder(tiny, images, batch_size=4, steps=1, device="cpu", rungs=["batch_size"], progress=False)
    assert [r["variant"] for r in rows] == ["baseline", "batch_size"]
    assert rows[1]["setting"]["batch_factor"] == 2
    with pytest.raises(UnknownName, match="Did you mean 'channels_last'"):
        speed_ladder(tiny, images, batch_size=4, steps=1, device="cpu", rungs=["channel_last"], progress=False)
