"""The recorded metrics of lesson 04_optimization, checked per profile (imported by test_notebooks.py)."""

SPEED_RUNGS = ("baseline", "cached_data", "workers", "channels_last", "bf16", "fp16", "compile", "batch_size")


def check(m):
    run = m["run"]
    assert m[f"source.{run['dataset']}"] == run["data_source"], "the data's origin is recorded where it is loaded"
    headlines = [k for k in m if k.startswith("headline.")]
    assert 3 <= len(headlines) <= 6 and all(isinstance(m[k], str) and m[k] for k in headlines), headlines
    assert all(m[f"pipeline_ms.{part}"] >= 0 for part in ("decode", "collate", "copy", "step"))
    assert m["pipeline_ms.decode"] > 0 and m["pipeline_ms.step"] > 0
    assert m["peak_gflops"] > 0
    for name in SPEED_RUNGS:  # by hand and by speed_ladder: each rung timed by both, or skipped with its reason
        by_hand, helper, skipped = f"throughput.{name}" in m, f"ladder.{name}" in m, f"skipped.{name}" in m
        assert by_hand == helper != skipped, f"{name}: by hand {by_hand}, speed_ladder {helper}, skipped {skipped}"
        if helper:
            assert m[f"throughput.{name}"] > 0 and m[f"ladder.{name}"] > 0 and 0 < m[f"mfu.{name}"] < 1, name
        else:
            assert isinstance(m[f"skipped.{name}"], str) and m[f"skipped.{name}"].startswith("skipped"), name
    if run["device"] == "cpu":
        assert "skipped.fp16" in m, "fp16 with a GradScaler needs CUDA"
    for key in ("single_best", "ensemble", "tta", "mixup", "int8"):
        assert 0 <= m[f"val_acc.{key}"] <= 1, f"val_acc.{key} = {m.get(f'val_acc.{key}')}"
    members = [v for k, v in m.items() if k.startswith("val_acc.efficientnet_")]
    assert len(members) >= 2 and m["val_acc.single_best"] == max(members), members
    assert 0 < m["size_mb.int8"] <= 0.5 * m["size_mb.fp32"], (m["size_mb.int8"], m["size_mb.fp32"])
    assert m["latency_ms.fp32"] > 0 and m["latency_ms.int8"] > 0
    # DDP: the lesson's script in 2 processes = in 1 process, same global batch, up to float rounding (measured
    # 1e-7 after 2 epochs of its small network); at least two optimiser steps, so the weights did move
    assert m["ddp.max_param_diff"] <= 1e-5 and m["claim.ddp_equal"], m["ddp.max_param_diff"]
    assert m["claim.ddp_equal"] == (m["ddp.max_param_diff"] < 1e-4), "the printed claim follows the measured difference"
    assert m["ddp.steps"] >= 2, m["ddp.steps"]
    # the package's train_single on the script's data and model = the script in one process (same batches, steps)
    assert m["ddp.helper_max_param_diff"] <= 1e-5, m["ddp.helper_max_param_diff"]
    if run["data_source"] != "mirror" or run["profile"] == "smoke":
        return
    # cpu and gpu: real hymenoptera, every validation image
    assert abs(m["val_acc.int8"] - m["val_acc.single_best"]) <= 0.02, (m["val_acc.int8"], m["val_acc.single_best"])
    assert m["val_acc.single_best"] >= 0.85, m["val_acc.single_best"]
    cached = max(m["throughput.cached_data"], m["ladder.cached_data"])  # the better of two short timings
    baseline = min(m["throughput.baseline"], m["ladder.baseline"])
    if run["profile"] == "cpu":
        # On 2 CPU cores at 160 px the frozen backbone's forward pass dominates the step: the cache measured
        # 1.11-1.53x in four runs (decoding 10-35 % of the baseline's time, timings of 10 steps; the profile now
        # times 6), so only "the cache is not slower" is asserted, on the better of the two timings.
        assert cached >= baseline, (cached, baseline)
    else:  # gpu: the model's step is cheap, decoding a JPEG on one CPU core is not (expected, not yet measured)
        assert cached >= 2 * baseline, (cached, baseline)
