"""The recorded metrics of lesson 03_detection, checked per profile (imported by test_notebooks.py)."""

DETECTION_VARIANTS = ("pretrained", "frozen_backbone", "scratch")


def check(m):
    run = m["run"]
    assert m[f"source.{run['dataset']}"] == run["data_source"], "the data's origin is recorded where it is loaded"
    headlines = [k for k in m if k.startswith("headline.")]
    assert 3 <= len(headlines) <= 6 and all(isinstance(m[k], str) and m[k] for k in headlines), headlines
    # the detector assembled by hand = tl.build_detector: same parts, same four losses, same weights after a step
    same = m["hand_vs_helper"]
    assert same["same_parts"] and same["same_losses"] and same["step_diff"] <= 1e-5, same
    assert m["claim.pretraining_helps"] == (m["map50.pretrained"] - m["map50.scratch"] > 0.02)
    for key in ("map50.pretrained", "map.pretrained", "map75.pretrained", "map50.scratch", "map.scratch",
                "map50.frozen_backbone"):
        assert 0 <= m[key] <= 1, f"{key} = {m.get(key)}"
    for name in DETECTION_VARIANTS:
        assert m[f"train_seconds.{name}"] > 0, name
    latency = {k: v for k, v in m.items() if k.startswith("latency_ms.")}
    assert len(latency) >= 4 and all(v > 0 for v in latency.values()), latency
    assert f"latency_ms.fasterrcnn_{m['run']['backbone']}_{m['run']['min_size']}px" in latency, sorted(latency)
    if run["data_source"] != "mirror":
        return
    if run["profile"] == "smoke":  # a few tiny images, one epoch: AP is noise around 0, nothing to compare
        return
    assert m["map50.pretrained"] >= m["map50.scratch"], (m["map50.pretrained"], m["map50.scratch"])
    # cpu and gpu: real PennFudan, full test split
    assert m["map.pretrained"] <= m["map50.pretrained"], "AP averaged over stricter IoUs cannot beat AP50"
    assert m["train_seconds.frozen_backbone"] < m["train_seconds.pretrained"], "a frozen backbone has no backward pass"
    if run["profile"] == "cpu":  # the bounds: 2 cores, 192 px (256 px until 2026-12-02), 3 epochs
        assert m["map50.pretrained"] >= 0.75, m["map50.pretrained"]
        assert m["map50.pretrained"] - m["map50.scratch"] >= 0.3, (m["map50.pretrained"], m["map50.scratch"])
    else:  # gpu
        assert m["map50.pretrained"] >= 0.95 and m["map.pretrained"] >= 0.60, (m["map50.pretrained"],
                                                                                m["map.pretrained"])
