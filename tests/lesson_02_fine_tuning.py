"""The recorded metrics of lesson 02_fine_tuning, checked per profile (imported by test_notebooks.py).

The near dataset (hymenoptera) is recorded without a prefix (``val_acc.<strategy>``, ``data_efficiency.*``); the far
one (pbc_blood_cells) under ``pbc.`` (``pbc.val_acc.<strategy>``, ``pbc.data_efficiency.*``).
"""

STRATEGIES = ("scratch", "linear_probe", "partial", "full", "discriminative")


def _check_runs(m, prefix="", strategies=STRATEGIES):
    """What holds on any data: every strategy ran, the best is a pretrained one, the curves end at the runs."""
    for name in strategies:
        acc, secs = m.get(f"{prefix}val_acc.{name}"), m.get(f"{prefix}seconds.{name}")
        assert acc is not None and 0 <= acc <= 1 and secs > 0, (prefix, name, acc, secs)
    best = m[f"{prefix}best_strategy"]
    pretrained = [name for name in strategies if name != "scratch"]
    assert best in pretrained, f"{prefix}best_strategy {best!r} should be a pretrained strategy"
    assert m[f"{prefix}val_acc.{best}"] == max(m[f"{prefix}val_acc.{n}"] for n in pretrained)
    curve = f"{prefix}data_efficiency."
    percents = sorted(int(k.rsplit(".", 1)[1]) for k in m if k.startswith(curve + "pretrained."))
    assert len(percents) >= 3 and percents[-1] == 100, (prefix, percents)
    for label in ("pretrained", "scratch"):
        for pct in percents:
            assert 0 <= m[f"{curve}{label}.{pct}"] <= 1, f"{curve}{label}.{pct} missing or out of range"
    assert m[f"{curve}pretrained.100"] == m[f"{prefix}val_acc.{best}"], "the 100% point should be the strategy run"
    assert m[f"{curve}scratch.100"] == m[f"{prefix}val_acc.scratch"]
    return best


def check(m):
    best = _check_runs(m)
    far = m["pbc.strategies"]  # the profile's far_strategies: all five, or (cpu) scratch, probe and full
    assert {"scratch", "linear_probe"} < set(far) <= set(STRATEGIES), far
    _check_runs(m, "pbc.", far)
    run = m["run"]
    if run["profile"] == "gpu":
        assert len(far) == len(STRATEGIES), far
    assert m["val_acc.bn_frozen"] == m["val_acc.partial"] and 0 <= m["val_acc.bn_train"] <= 1
    assert m["resume_max_param_diff"] <= 1e-6, f"resumed run differs from uninterrupted: {m['resume_max_param_diff']}"
    for key in ("near_rule_holds", "far_rule_holds", "pretraining_clear_gain"):
        assert isinstance(m[f"claim.{key}"], bool), key
    # each claim the lesson printed agrees with the numbers it recorded (the sentences are chosen by these)
    far_best = m["pbc.best_strategy"]
    assert m["claim.far_rule_holds"] == (m[f"pbc.val_acc.{far_best}"] - m["pbc.val_acc.linear_probe"] >= 0.05)
    n_val = run["val_images"]
    near_gap = m[f"val_acc.{best}"] - m["val_acc.linear_probe"]
    assert m["claim.near_rule_holds"] == (near_gap * n_val <= 2), (near_gap, n_val)
    gain = m["val_acc.full"] - m["val_acc.scratch"]
    assert m["claim.pretraining_clear_gain"] == (gain * n_val >= 5), (gain, n_val)
    assert m[f"source.{run['dataset']}"] == run["data_source"]
    if m.get("source.pbc_blood_cells") == "mirror" and run["profile"] in ("cpu", "gpu"):
        _check_blood_cells(m)
    if run["data_source"] != "mirror":
        return
    if run["profile"] == "smoke":  # the issue: pretrained beats scratch even on 16 images
        assert m[f"val_acc.{best}"] > m["val_acc.scratch"], (m[f"val_acc.{best}"], m["val_acc.scratch"])
    else:  # cpu and gpu: the bounds on real hymenoptera
        assert m[f"val_acc.{best}"] >= 0.95, f"best pretrained strategy {best}: {m[f'val_acc.{best}']} < 0.95"
        assert m["val_acc.full"] - m["val_acc.scratch"] >= 0.25, (m["val_acc.full"], m["val_acc.scratch"])
        assert m["data_efficiency.pretrained.25"] > m["data_efficiency.scratch.100"]


def _check_blood_cells(m):
    """Issue 19's bounds on the real blood cells (8 balanced classes: chance is 0.125)."""
    acc = {name: m[f"pbc.val_acc.{name}"] for name in m["pbc.strategies"]}
    best = m["pbc.best_strategy"]
    assert acc[best] - acc["scratch"] >= 0.20, f"best {best} {acc[best]} vs scratch {acc['scratch']}: < 0.20"
    tuned = max(acc.get("full", 0), acc.get("discriminative", 0))
    assert tuned - acc["linear_probe"] >= 0.05, f"full/discriminative {tuned} vs probe {acc['linear_probe']}: < 0.05"
    assert acc[best] >= 0.85, f"best strategy {best} on blood cells: {acc[best]} < 0.85"
