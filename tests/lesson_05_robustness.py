"""The recorded metrics of lesson 05_robustness, checked per profile (imported by test_notebooks.py)."""

HEADLINES = ("attack", "detector", "adversarial_training", "corruptions", "calibration")


def check(m):
    from transfer_lessons.evaluation import CORRUPTIONS

    keys = ["clean_acc", "detector_auc", "squeeze_auc", "adaptive.detector_auc", "adaptive.acc", "ece.before",
            "ece.after", "adv_trained.clean_acc", "adv_trained.pgd_acc", *(f"fgsm_acc.{e}_255" for e in (1, 2, 4, 8)),
            *(f"pgd_acc.{e}_255" for e in (1, 2, 4)), *(f"corruption_acc.{name}" for name in CORRUPTIONS)]
    for key in keys:
        assert 0 <= m[key] <= 1, f"{key} = {m.get(key)}"
    # the plain-PyTorch versions agree with the helpers: FGSM, the flat-region score, the AUC
    for key in ("fgsm_by_hand_equal", "noise_score_by_hand_equal", "auc_by_hand_equal"):
        assert m[key] is True, f"{key} = {m.get(key)}"
    assert m["unsafe_pickle_blocked"] is True, "torch.load(weights_only=True) should refuse the crafted pickle"
    assert m["temperature"] > 0
    assert m["source.hymenoptera"] == m["run"]["data_source"], (m.get("source.hymenoptera"), m["run"])
    # each interpretation said is the one its numbers make true
    assert m["claim.noise_beats_squeezing"] == (m["squeeze_auc"] < m["detector_auc"])
    assert m["claim.adversarial_training_helps"] == (m["adv_trained.pgd_acc"] > m["pgd_acc.4_255"])
    assert isinstance(m["claim.pretraining_does_not_protect"], bool)
    assert isinstance(m["claim.noise_detector_flags_noise"], bool)
    assert isinstance(m["claim.smooth_attack_evades"], bool)
    for key in HEADLINES:
        assert isinstance(m.get(f"headline.{key}"), str) and m[f"headline.{key}"], f"headline.{key} missing"
    run = m["run"]
    if run["data_source"] != "mirror" or run["profile"] == "smoke":
        return
    # cpu and gpu: the bounds on real hymenoptera
    assert m["clean_acc"] - m["pgd_acc.4_255"] >= 0.3, (m["clean_acc"], m["pgd_acc.4_255"])
    assert m["detector_auc"] >= 0.85, m["detector_auc"]
    assert m["adaptive.detector_auc"] < m["detector_auc"], "the smooth attack should evade the noise detector"
    assert m["ece.after"] < m["ece.before"], (m["ece.before"], m["ece.after"])
    if run["profile"] == "cpu":
        # At 128 px a short adversarial fine-tune keeps a few images (2-4 of 48) against PGD where the
        # standard model keeps none. At the gpu profile's 224 px, 10 epochs of it measured 0.0 = 0.0
        # against 10-step PGD on an H100: no gain to assert there (lesson 05 says why).
        assert m["adv_trained.pgd_acc"] > m["pgd_acc.4_255"], (m["adv_trained.pgd_acc"], m["pgd_acc.4_255"])
