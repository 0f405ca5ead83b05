"""Frozen features (tl.evaluation): extraction and its cache, linear probe, k-NN, PCA, zero-shot."""

from __future__ import annotations

import pytest
import torch
from helpers import lite0
from torch.nn import functional as F

import transfer_lessons as tl
from transfer_lessons import evaluation as features
from transfer_lessons.data import eval_transforms
from transfer_lessons.evaluation import (
    extract_features,
    fit_linear_probe,
    imagenet_class_map,
    knn_predict,
    pca,
    zero_shot_predict,
)


def _blobs(n=40, dim=16, seed=0):
    """Two Gaussian blobs, linearly separable: labels 0 and 1."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    x = torch.randn(n, dim, generator=g) + 4.0 * labels[:, None].float()
    return x, labels


@pytest.fixture
def tiny_data(isolated_assets):
    """The synthetic fallback (circles vs squares), capped like the smoke profile."""
    return tl.load_classification("hymenoptera", image_size=64, train_images=8, val_images=6, progress=False)


def test_probe_size_is_the_cards_unless_the_profile_sets_one():
    card = tl.get_card("efficientnet_lite2")
    assert tl.data.image_size_for(card, tl.get_profile("cpu").probe_image_size) == 260
    assert tl.data.image_size_for(card, tl.get_profile("smoke").probe_image_size) == 128


@pytest.mark.timeout(120)
def test_extract_features_matches_plain_forward_in_eval_mode():
    model = lite0()
    model.train()  # extract_features must switch to eval itself
    images = [torch.randint(0, 256, (3, 50, 70), dtype=torch.uint8, generator=torch.Generator().manual_seed(i))
              for i in range(5)]
    transform = eval_transforms(32)
    feats, logits = extract_features(model, images, transform, batch_size=2)
    assert not model.training, "the model was left in train mode"
    assert feats.shape == (5, 1280) and logits.shape == (5, 2), (feats.shape, logits.shape)
    with torch.no_grad():
        plain = model.forward_head(model.forward_features(torch.stack([transform(i) for i in images])),
                                   pre_logits=True)
    assert torch.allclose(feats, plain, atol=1e-4), f"max gap {(feats - plain).abs().max():.2e}"


@pytest.mark.timeout(180)
def test_backbone_features_are_cached_and_variants_differ(tiny_data):
    profile = tl.get_profile("smoke")
    features.clear_feature_cache()
    fs = tl.evaluation.backbone_features("efficientnet_lite0", tiny_data, profile)
    assert fs.train.shape == (8, 1280) and fs.val.shape == (6, 1280) and fs.val_logits.shape == (6, 1000)
    assert fs.image_size == profile.probe_image_size == 128 and fs.seconds > 0
    assert fs.train_labels.tolist() == tiny_data.train.targets
    assert tl.evaluation.backbone_features("efficientnet_lite0", tiny_data, profile) is fs, "second call was not cached"
    random = tl.evaluation.backbone_features("efficientnet_lite0", tiny_data, profile, pretrained=False)
    again = tl.evaluation.backbone_features("efficientnet_lite0", tiny_data, profile, pretrained=False)
    assert random is again and not random.pretrained
    raw = tl.evaluation.backbone_features("efficientnet_lite0", tiny_data, profile, normalize=False)
    assert not torch.allclose(raw.train, fs.train), "normalize=False gave the same features"
    assert features.clear_feature_cache() == 3


def test_linear_probe_separates_blobs_and_is_deterministic():
    x, y = _blobs()
    probe = fit_linear_probe(x, y)
    assert probe.accuracy(x, y) == 1.0
    again = fit_linear_probe(x, y)
    assert torch.equal(probe.linear.weight, again.linear.weight), "two fits on the same data differ"
    with pytest.raises(ValueError, match="3 feature rows for 2 labels"):
        fit_linear_probe(x[:3], y[:2])


def test_linear_probe_equals_the_lessons_plain_torch_snippet():
    x, y = _blobs(dim=8, seed=1)
    mu, sigma = x.mean(dim=0), x.std(dim=0) + 1e-6
    head = torch.nn.Linear(8, 2)
    torch.nn.init.zeros_(head.weight), torch.nn.init.zeros_(head.bias)
    optimizer = torch.optim.LBFGS(head.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(head((x - mu) / sigma), y) + 0.5 * head.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    probe = fit_linear_probe(x, y, weight_decay=1.0)
    assert torch.allclose(probe.linear.weight, head.weight, atol=1e-5), "helper and snippet disagree"


def test_knn_votes_by_cosine_similarity():
    train = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    labels = torch.tensor([0, 0, 1, 1])
    query = torch.tensor([[2.0, 0.1], [0.0, 3.0]])  # scale does not matter to cosine similarity
    pred, sims, idx = knn_predict(train, labels, query, k=3)
    assert pred.tolist() == [0, 1]
    assert idx[:, 0].tolist() == [0, 2] and sims.shape == (2, 3)
    assert torch.all(sims[:, :-1] >= sims[:, 1:]), "neighbours are not sorted nearest first"
    assert knn_predict(train, labels, query, k=99)[1].shape == (2, 4), "k should be capped at N"


def test_pca_finds_the_direction_of_largest_variance():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 3, generator=g) * torch.tensor([10.0, 1.0, 0.1])
    xy, ratio = pca(x, k=2)
    assert xy.shape == (200, 2)
    assert ratio[0] > 0.95 and ratio.sum() <= 1.0, ratio
    assert abs(torch.corrcoef(torch.stack([xy[:, 0], x[:, 0]]))[0, 1]) > 0.99


def test_imagenet_class_map_matches_names_not_substrings():
    labels = tl.imagenet_labels()
    mapping = imagenet_class_map(["ants", "bees"])
    assert mapping == {0: [310], 1: [309]}, mapping
    assert labels[310].startswith("ant") and labels[309] == "bee"
    assert imagenet_class_map(["bee_eaters", "no such thing"]) == {0: [92]}  # 'bee eater', plural folder


def test_zero_shot_predict_and_accuracy():
    logits = torch.zeros(3, 1000)
    logits[0, 310], logits[1, 309], logits[2, 310] = 5.0, 5.0, 1.0
    assert zero_shot_predict(logits, {0: [310], 1: [309]}).tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match="no dataset class"):
        zero_shot_predict(logits, {})
    fs = features.FeatureSet("x", True, 8, torch.zeros(1, 2), torch.zeros(1, dtype=torch.long), torch.zeros(3, 2),
                             torch.tensor([0, 1, 1]), logits, 0.0)
    assert tl.evaluation.zero_shot_accuracy(fs, ["ants", "bees"]) == pytest.approx(2 / 3)
    assert tl.evaluation.zero_shot_accuracy(fs, ["ants", "teapots?"]) is None


@pytest.mark.timeout(180)
def test_backbone_explorer_headless_and_interactive(tiny_data, monkeypatch, capsys):
    profile = tl.get_profile("smoke")
    fs = tl.evaluation.backbone_features("efficientnet_lite0", tiny_data, profile)
    probes = {"efficientnet_lite0": fit_linear_probe(fs.train, fs.train_labels)}
    table = {"efficientnet_lite0": {"probe_acc": 0.5, "latency_ms": 3.0}}
    monkeypatch.setenv("TRANSFER_LESSONS_HEADLESS", "1")
    assert tl.widgets.backbone_explorer(table, {"efficientnet_lite0": fs}, probes, tiny_data, n_images=2) is None
    out = capsys.readouterr().out
    assert out.startswith("efficientnet_lite0: probe_acc 0.5, latency_ms 3") and out.count("predicted") == 2
    monkeypatch.delenv("TRANSFER_LESSONS_HEADLESS")
    box = tl.widgets.backbone_explorer(table, {"efficientnet_lite0": fs}, probes, tiny_data, n_images=2)
    assert list(box.children[0].options) == ["efficientnet_lite0"]
