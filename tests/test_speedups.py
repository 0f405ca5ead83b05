"""Tests for the speed ladder (transfer_lessons.speed): the decode-every-time baseline, throughput, the rules."""

from __future__ import annotations

import pytest
import torch
from helpers import write_image
from torch import nn

from transfer_lessons.data import CachedImageDataset, DecodingImageDataset, eval_transforms
from transfer_lessons.errors import UnknownName
from transfer_lessons.speed import LADDER, measure_throughput, speed_ladder

pytestmark = pytest.mark.usefixtures("one_thread")
ROW_KEYS = {"variant", "change", "images_per_s", "speedup", "helped", "note", "setting"}


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


def test_ladder_rows_speedups_and_skips(images, monkeypatch):
    from transfer_lessons.speed import _ladder

    speeds = {"baseline": 10.0, "cached_data": 20.0, "workers": 15.0, "channels_last": 30.0, "bf16": 18.0,
              "batch_size": 25.0}
    measured = []

    def fake_measure(make_model, dataset, setting, *args):
        measured.append(setting)
        changed = {k for k, v in setting.items() if v != _ladder._CACHED[k]}
        names = [n for n, (_, update) in LADDER.items() if set(update) == changed and changed]
        return 40.0 if len(changed) > 1 else speeds[names[0] if names else "cached_data"]

    monkeypatch.setattr(_ladder, "_measure", fake_measure)
    monkeypatch.setattr(_ladder, "skip_reason", lambda amp, *args: "skipped: needs CUDA" if amp == "fp16" else None)
    rows = speed_ladder(tiny, images, batch_size=4, steps=1, warmup=1, device="cpu", workers=2, progress=False)
    assert [r["variant"] for r in rows] == [*LADDER, "combined"]
    for row in rows:
        assert set(row) == ROW_KEYS, row
    by_name = {r["variant"]: r for r in rows}
    assert by_name["baseline"]["speedup"] == 1.0 and not by_name["baseline"]["setting"]["cached"]
    assert "CUDA" in by_name["fp16"]["note"] and by_name["fp16"]["images_per_s"] is None
    assert "compile=False" in by_name["compile"]["note"] and not by_name["compile"]["helped"]
    # every rung is the cached data plus its own change, whatever the rungs before it measured
    for name, (_, update) in LADDER.items():
        setting = by_name[name]["setting"]
        assert {k for k, v in setting.items() if v != _ladder._CACHED[k]} == set(update) - {"cached"} | (
            {"cached"} if name == "baseline" else set()), name
    assert [n for n, r in by_name.items() if r["helped"]] == ["channels_last", "batch_size"]
    combined = by_name["combined"]["setting"]
    assert combined["channels_last"] and combined["batch_factor"] == 2 and combined["workers"] == 0
    assert by_name["combined"]["speedup"] == pytest.approx(4.0) and "channels_last, batch_size" in by_name[
        "combined"]["change"]
    assert len(measured) == 7, "all but fp16 (CUDA) and compile (not asked for) are timed, then the combination"


def test_ladder_times_real_steps_and_combines_nothing_when_nothing_helped(images, monkeypatch):
    rows = speed_ladder(tiny, images, batch_size=4, steps=1, warmup=1, device="cpu", workers=0, progress=False,
                        rungs=["channels_last"])
    assert [r["variant"] for r in rows][:3] == ["baseline", "cached_data", "channels_last"]
    assert all(r["images_per_s"] > 0 for r in rows)
    for row in rows[1:]:
        assert row["speedup"] == pytest.approx(row["images_per_s"] / rows[0]["images_per_s"])
    assert len(rows) == 3, "one change cannot be combined with anything"


def test_ladder_runs_chosen_rungs_and_refuses_unknown_ones(images):
    rows = speed_ladder(tiny, images, batch_size=4, steps=1, device="cpu", rungs=["batch_size"], progress=False)
    assert [r["variant"] for r in rows] == ["baseline", "cached_data", "batch_size"]
    assert rows[2]["setting"]["batch_factor"] == 2 and rows[2]["setting"]["cached"]
    with pytest.raises(UnknownName, match="Did you mean 'channels_last'"):
        speed_ladder(tiny, images, batch_size=4, steps=1, device="cpu", rungs=["channel_last"], progress=False)
