"""The recorded metrics of lesson 00_tour, checked per profile (imported by test_notebooks.py)."""

CAT_LABELS = ("tabby, tabby cat", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat")
HEADLINES = ("offline", "whole_game", "pretrained", "by_hand")


def check(m):
    assert m["top1.chelsea"] in CAT_LABELS, f"chelsea labelled {m['top1.chelsea']!r}, expected a cat"
    assert 0.2 < m["top1_prob.chelsea"] <= 1.0, f"top-1 probability {m['top1_prob.chelsea']}"
    assert m["top1.coffee"] == "espresso", m["top1.coffee"]
    assert m["hand_vs_helper_same_ranking"] is True
    assert m["offline_backbones"] >= 3
    # the whole game: one fine_tune call on the learner's data source
    run = m["run"]  # the runner moves data_source out of the metrics; the lesson records it here too
    source = m[f"source.{run['dataset']}"]
    assert source == run["data_source"] and source in {"mirror", "cache", "download", "synthetic"}, (source, run)
    assert 0 <= m["whole_game.val_acc"] <= 1, m["whole_game.val_acc"]
    beats_chance = m["whole_game.val_acc"] >= m["whole_game.chance"] + 0.25
    assert m["claim.whole_game_beats_chance"] == beats_chance, "the claim said the other way"
    for key in HEADLINES:
        assert isinstance(m.get(f"headline.{key}"), str) and m[f"headline.{key}"], f"headline.{key} missing"
    if source != "mirror" or run["profile"] == "smoke":
        return
    # cpu and gpu, on real hymenoptera: a short fine-tune is far above chance
    assert m["whole_game.val_acc"] >= 0.85, m["whole_game.val_acc"]
