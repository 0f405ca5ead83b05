"""The backbone catalog: cards agree with timm, offline weights are real, hub weights come through
huggingface_hub (its cache and settings), errors are clear."""

import pytest
import timm
import torch
from safetensors.torch import save_file

import transfer_lessons as tl
from transfer_lessons.assets import HF_FILENAME, weights_status
from transfer_lessons.errors import ChecksumMismatch, OfflineAssetMissing, UnknownName
from transfer_lessons.models import weights_file

CAT_CLASSES = set(range(281, 286))  # tabby, tiger cat, Persian, Siamese, Egyptian cat


@pytest.mark.parametrize("name", tl.list_backbones())
def test_card_agrees_with_model(name):
    card = tl.get_card(name)
    size = 64 if "vit" not in name else 32  # ViTs need the input size at creation
    model = timm.create_model(card.timm_name, pretrained=False, **({"img_size": size} if size == 32 else {}))
    params_m = sum(p.numel() for p in model.parameters()) / 1e6
    assert abs(params_m - card.params_m) / card.params_m < 0.02, f"{name}: {params_m:.2f} M != card {card.params_m}"
    assert model.num_features == card.num_features, f"{name}: features {model.num_features} != {card.num_features}"
    assert model.pretrained_cfg["classifier"] == card.classifier
    out = model.forward_features(torch.zeros(1, 3, size, size))
    assert out.shape[1 if out.ndim == 4 else -1] == card.num_features
    if card.weights.hf_repo:  # the preprocessing on the card is the one the hub weights were trained with
        cfg = timm.models.get_pretrained_cfg(card.weights.hf_repo.split("/")[1])
        assert cfg.input_size[-1] == card.input_size and cfg.crop_pct == card.crop_pct
        assert cfg.interpolation == card.interpolation and tuple(cfg.mean) == card.mean


def test_offline_first_in_listing():
    names = tl.list_backbones()
    assert names[:3] == ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"]
    assert tl.list_backbones(offline_only=True) == names[:3]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"])
def test_offline_weights_classify_real_photos(isolated_assets, name):
    model = tl.create_backbone(name, progress=False)
    labels = tl.imagenet_labels()
    cat = tl.predict_topk(model, tl.sample_photo("chelsea"), k=1)[0][0]
    assert labels.index(cat) in CAT_CLASSES, f"{name} calls chelsea {cat!r}, expected a cat class"
    coffee = tl.predict_topk(model, tl.sample_photo("coffee"), k=1)[0][0]
    assert coffee == "espresso", f"{name} calls coffee {coffee!r}, expected 'espresso'"


def test_random_init_does_not_know_cats(isolated_assets):
    torch.manual_seed(0)
    model = tl.create_backbone("efficientnet_lite0", pretrained=False)
    label, prob = tl.predict_topk(model, tl.sample_photo("chelsea"), k=1)[0]
    assert tl.imagenet_labels().index(label) not in CAT_CLASSES and prob < 0.5, (label, prob)


def test_new_head_keeps_pretrained_body(isolated_assets):
    full = tl.create_backbone("efficientnet_lite0", progress=False)
    two = tl.create_backbone("efficientnet_lite0", num_classes=2, progress=False)
    assert two.get_classifier().out_features == 2
    assert torch.equal(full.conv_stem.weight, two.conv_stem.weight)
    feats = tl.create_backbone("efficientnet_lite0", features_only=True, out_indices=(2, 3, 4))
    assert torch.equal(feats.conv_stem.weight, full.conv_stem.weight)
    assert [f.shape[1] for f in feats(torch.zeros(1, 3, 64, 64))] == feats.feature_info.channels()


def test_model_preprocessing_is_the_cards(isolated_assets):
    for name, pretrained in (("efficientnet_lite1", True), ("vit_small_patch16_224", False)):
        cfg, card = tl.create_backbone(name, pretrained=pretrained).pretrained_cfg, tl.get_card(name)
        got = (cfg["input_size"][-1], cfg["crop_pct"], tuple(cfg["mean"]))
        assert got == (card.input_size, card.crop_pct, card.mean), (name, got)


def test_conversion_is_cached(isolated_assets):
    path = weights_file("efficientnet_lite0")
    assert path.suffix == ".safetensors" and path.is_relative_to(isolated_assets)
    assert weights_file("efficientnet_lite0") == path and weights_status("efficientnet_lite0")["source"] == "package"


def test_hub_backbone_offline_is_a_clear_error(isolated_assets, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert tl.doctor_report()["backbones"]["resnet18"] == {"offline": False, "available": False, "source": "download"}
    with pytest.raises(OfflineAssetMissing) as err:
        tl.create_backbone("resnet18")
    message = str(err.value)
    assert "resnet18" in message and "efficientnet_lite0" in message and "mirror" in message


def _resnet18_on(server) -> timm.models.ResNet:
    """A resnet18 state dict served where huggingface_hub looks for timm/resnet18.tv_in1k."""
    reference = timm.create_model("resnet18", pretrained=False)
    blob = server.tmp / "model.safetensors"
    save_file(reference.state_dict(), str(blob))
    server.files[f"/{tl.get_card('resnet18').weights.hf_repo}/resolve/main/{HF_FILENAME}"] = blob.read_bytes()
    return reference


def test_hub_weights_through_huggingface_hub_and_its_cache(isolated_assets, server, tmp_path, monkeypatch):
    server.tmp = tmp_path
    reference = _resnet18_on(server)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # a learner's Hugging Face cache
    monkeypatch.setenv("HF_ENDPOINT", server.url)  # a regional mirror of the Hub
    monkeypatch.delenv("TRANSFER_LESSONS_OFFLINE")
    assert weights_status("resnet18")["source"] == "download"
    model = tl.create_backbone("resnet18", num_classes=3, progress=False)
    assert torch.equal(model.conv1.weight, reference.conv1.weight)
    assert any(hit.endswith(HF_FILENAME) for hit in server.hits), server.hits
    assert list((tmp_path / "hf" / "hub").glob("models--timm--resnet18.tv_in1k/blobs/*")), "not in HF_HOME's cache"
    hits = len(server.hits)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # reused from the cache: no request at all
    assert weights_status("resnet18") == {"offline": False, "available": True, "source": "hf-cache"}
    again = tl.create_backbone("resnet18", progress=False)
    assert torch.equal(again.conv1.weight, reference.conv1.weight) and len(server.hits) == hits
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty"))
    with pytest.raises(OfflineAssetMissing, match="resnet18"):
        tl.create_backbone("resnet18")


def test_hub_weights_from_mirror(isolated_assets, tmp_path, monkeypatch):
    card = tl.get_card("resnet18")
    reference = timm.create_model("resnet18", pretrained=False)
    (tmp_path / "mirror" / "weights").mkdir(parents=True)
    save_file(reference.state_dict(), tmp_path / "mirror" / "weights" / card.weights.file)
    monkeypatch.setenv("TRANSFER_LESSONS_DATA", str(tmp_path / "mirror"))
    assert weights_status("resnet18")["source"] == "mirror"
    model = tl.create_backbone("resnet18", num_classes=3)
    assert torch.equal(model.conv1.weight, reference.conv1.weight)


def test_corrupt_weights_are_named(isolated_assets, tmp_path, monkeypatch):
    card = tl.get_card("efficientnet_lite0")
    (tmp_path / "mirror" / "weights").mkdir(parents=True)
    bad = tmp_path / "mirror" / "weights" / card.weights.file
    bad.write_bytes(b"not a checkpoint")
    monkeypatch.setenv("TRANSFER_LESSONS_DATA", str(tmp_path / "mirror"))
    with pytest.raises(ChecksumMismatch, match=card.weights.file):
        tl.create_backbone("efficientnet_lite0")


def test_unknown_backbone_suggests():
    with pytest.raises(UnknownName, match=r"Unknown backbone 'resnet5'\. Did you mean 'resnet50'\?"):
        tl.get_card("resnet5")


def test_a_new_head_on_pretrained_weights_starts_at_zero(isolated_assets):
    create_backbone = tl.create_backbone
    zero = create_backbone("efficientnet_lite0", num_classes=2).get_classifier()
    assert not zero.weight.any() and not zero.bias.any(), "the new head should be all zeros (BiT)"
    timm_init = create_backbone("efficientnet_lite0", num_classes=2, zero_head=False).get_classifier()
    scratch = create_backbone("efficientnet_lite0", pretrained=False, num_classes=2).get_classifier()
    assert timm_init.weight.abs().sum() > 0 and scratch.weight.abs().sum() > 0, "zero_head=False, scratch: timm's init"
    imagenet = create_backbone("efficientnet_lite0").get_classifier()
    assert imagenet.out_features == 1000 and imagenet.weight.abs().sum() > 0, "the ImageNet head must stay"
