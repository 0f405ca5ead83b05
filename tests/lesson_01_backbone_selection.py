"""The recorded metrics of lesson 01_backbone_selection, checked per profile (imported by test_notebooks.py).

Results are recorded per dataset under a prefix: ``hymenoptera.probe_acc.<backbone>``, ``pbc.probe_acc.<backbone>``
(pbc_blood_cells); costs per backbone: ``latency_ms.<backbone>``, ``params_m.<backbone>``, ``gflops.<backbone>``.
"""

import pytest

DATASETS = {"hymenoptera": "hymenoptera", "pbc": "pbc_blood_cells"}  # prefix -> dataset card


def check(m):
    from transfer_lessons.models import get_card

    lites = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
    compared = sorted({k.split(".", 1)[1] for k in m if k.startswith("latency_ms.")})
    assert set(lites) <= set(compared), f"compared {compared}, expected at least {lites}"
    assert sorted(m["compared"]) == compared and not set(m["skipped"]) & set(compared), (m["compared"], m["skipped"])
    for name in compared:
        assert m[f"latency_ms.{name}"] > 0 and m[f"gflops.{name}"] > 0
        card = get_card(name).params_m
        assert m[f"params_m.{name}"] == pytest.approx(card, rel=0.02), f"{m[f'params_m.{name}']} M != card {card} M"
    run = m["run"]  # the runner moves data_source out of the metrics; the lesson records it here too
    for prefix, dataset in DATASETS.items():
        assert m[f"source.{dataset}"] == run["sources"][dataset]
        random = m[f"{prefix}.probe_acc.random_init"]
        assert 0 <= random <= 1, random
        for name in compared:
            for key in ("probe_acc", "knn_acc"):
                value = m.get(f"{prefix}.{key}.{name}")
                assert value is not None and 0 <= value <= 1, f"{prefix}.{key}.{name} = {value}; recorded: {sorted(m)}"
        assert set(m[f"{prefix}.pareto_front"]) <= set(compared) and m[f"{prefix}.budget_pick"] in compared
        zero_shot = m[f"{prefix}.zero_shot_acc"]
        assert zero_shot is None or 0 <= zero_shot <= 1
        if zero_shot is not None:  # the sentence printed follows the two recorded numbers
            near = zero_shot >= m[f"{prefix}.probe_acc.efficientnet_lite0"] - 0.05
            assert m[f"claim.{prefix}_zero_shot_near_probe"] == near, (zero_shot, near)
    wrong = [key for key in m if key.endswith(".wrong_norm_probe_acc.efficientnet_lite0")]
    assert len(wrong) == 1, wrong
    normalised = m[f"{wrong[0].split('.')[0]}.probe_acc.efficientnet_lite0"]
    assert m["claim.probe_absorbs_wrong_norm"] == (m[wrong[0]] >= normalised - 0.05), (m[wrong[0]], normalised)
    if run["sources"]["hymenoptera"] == "mirror":  # real hymenoptera: ants and bees are ImageNet classes
        _check_hymenoptera(m, compared, run["profile"])
    if run["sources"]["pbc_blood_cells"] == "mirror":  # real blood cells: no ImageNet class, 8 of them
        _check_blood_cells(m, compared, run["profile"])


def _check_hymenoptera(m, compared, profile):
    assert m["hymenoptera.zero_shot_acc"] is not None
    random = m["hymenoptera.probe_acc.random_init"]
    for name in compared:
        assert m[f"hymenoptera.probe_acc.{name}"] > random, f"{name} probe <= random init {random}"
    if profile == "cpu":  # the bounds on the full data
        assert m["hymenoptera.probe_acc.efficientnet_lite0"] >= 0.90, m["hymenoptera.probe_acc.efficientnet_lite0"]
        for name in compared:
            probe = m[f"hymenoptera.probe_acc.{name}"]
            assert probe >= random + 0.2, (name, probe, random)
    elif profile == "smoke":  # 16 val images at 128 px; measured 0.75
        assert m["hymenoptera.probe_acc.efficientnet_lite0"] >= 0.6, m["hymenoptera.probe_acc.efficientnet_lite0"]


def _check_blood_cells(m, compared, profile):
    assert m["pbc.zero_shot_acc"] is None, "no blood-cell class is an ImageNet class: there is no zero-shot"
    if profile == "cpu":  # 800 train / 400 val at 128 px; measured: lite0 0.78, random init 0.54, chance 0.125
        random = m["pbc.probe_acc.random_init"]
        for name in compared:
            assert m[f"pbc.probe_acc.{name}"] >= max(0.6, random + 0.1), (name, m[f"pbc.probe_acc.{name}"], random)
