"""Tests for transfer_lessons.model_file: save, load, predict, and the errors of a wrong file."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import write_image
from PIL import Image

from transfer_lessons.errors import BadImage, TransferLessonsError, UnknownName
from transfer_lessons.models import create_backbone
from transfer_lessons.training import MODEL_FORMAT, load_model, save_checkpoint, save_model

CLASSES = ["ants", "bees", "wasps"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def saved(tmp_path):
    """A random 3-class efficientnet_lite0 whose BatchNorm statistics moved, saved at 64 px."""
    torch.manual_seed(0)
    model = create_backbone("efficientnet_lite0", pretrained=False, num_classes=len(CLASSES)).train()
    with torch.no_grad():
        model(torch.randn(4, 3, 64, 64) * 3 + 1)  # running statistics away from their 0/1 start
    model.eval()
    path = save_model(tmp_path / "runs" / "model.pt", model, backbone="efficientnet_lite0", classes=CLASSES,
                      image_size=64, extra={"val_acc": 0.5, "profile": {"epochs": 1}})
    return path, model


@pytest.mark.timeout(60)
def test_round_trip_gives_identical_logits(saved):
    path, model = saved
    loaded = load_model(path)
    assert not loaded.model.training, "the loaded model should be in eval mode"
    assert (loaded.classes, loaded.backbone, loaded.image_size) == (CLASSES, "efficientnet_lite0", 64)
    assert loaded.extra == {"val_acc": 0.5, "profile": {"epochs": 1}}, f"extra came back as {loaded.extra}"
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected, got = model(x), loaded.model(x)
    assert torch.equal(expected, got), f"logits differ by up to {(expected - got).abs().max():.3g}"


@pytest.mark.timeout(60)
def test_file_is_plain_data_for_weights_only_load(saved):
    path, _ = saved
    state = torch.load(path, weights_only=True)
    assert state["format"] == MODEL_FORMAT and state["classes"] == CLASSES and state["image_size"] == 64
    assert set(state) == {"format", "backbone", "classes", "image_size", "state_dict", "extra"}, sorted(state)
    assert all(t.device.type == "cpu" for t in state["state_dict"].values())
    assert not list(path.parent.glob(".*.tmp")), "a temporary file was left beside the model"


@pytest.mark.timeout(60)
def test_predict_sorted_probabilities_from_pil_path_and_tensor(saved, tmp_path):
    loaded = load_model(saved[0])
    photo = write_image(tmp_path / "photo.png", size=(90, 70), color=(30, 160, 90))
    pil = Image.open(photo).convert("RGB")
    tensor = torch.from_numpy(np.array(pil)).permute(2, 0, 1).contiguous()
    results = [loaded.predict(pil), loaded.predict(photo), loaded.predict(str(photo)), loaded.predict(tensor)]
    for result in results:
        probs = [p for _, p in result]
        assert sorted(name for name, _ in result) == sorted(CLASSES), f"classes {result}"
        assert probs == sorted(probs, reverse=True), f"not best first: {result}"
        assert sum(probs) == pytest.approx(1.0, abs=1e-5), f"probabilities sum to {sum(probs)}"
    assert [n for n, _ in results[1]] == [n for n, _ in results[0]], "a path and its PIL image disagree"
    assert [p for _, p in results[3]] == pytest.approx([p for _, p in results[0]], abs=1e-5), "tensor != PIL"
    assert len(loaded.predict(pil, k=1)) == 1 and len(loaded.predict(pil, k=10)) == 3


@pytest.mark.timeout(60)
def test_predict_bad_images(saved, tmp_path):
    loaded = load_model(saved[0])
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not a JPEG")
    with pytest.raises(BadImage, match="broken.jpg"):
        loaded.predict(broken)
    with pytest.raises(BadImage, match="uint8 tensor"):
        loaded.predict(torch.rand(3, 32, 32))
    with pytest.raises(TypeError, match="got int"):
        loaded.predict(3)


def test_missing_file_names_path_and_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No model file at .*nope\.pt.*save_model\("):
        load_model(tmp_path / "nope.pt")


def test_wrong_format_names_path_and_what_it_found(tmp_path):
    checkpoint = save_checkpoint(tmp_path / "last.pt", model={"w": torch.zeros(1)}, epoch=3)
    with pytest.raises(TransferLessonsError, match=r"last\.pt is not a transfer_lessons model file.*"
                                                   r"found format None, keys \['epoch', 'model'\]"):
        load_model(checkpoint)
    bare = tmp_path / "bare.pt"
    torch.save(torch.zeros(2), bare)
    with pytest.raises(TransferLessonsError, match=r"bare\.pt is not a transfer_lessons model file.*found a Tensor"):
        load_model(bare)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(TransferLessonsError, match=r"notes\.pt"):
        load_model(text)


@pytest.mark.timeout(60)
def test_weights_that_do_not_fit_and_bad_save_arguments(saved, tmp_path):
    path, model = saved
    state = torch.load(path, weights_only=True)
    state["classes"] = ["ants", "bees"]  # the head has 3 outputs
    save_checkpoint(tmp_path / "edited.pt", **state)
    with pytest.raises(TransferLessonsError, match=r"edited\.pt: its weights do not fit efficientnet_lite0 with 2"):
        load_model(tmp_path / "edited.pt")
    with pytest.raises(ValueError, match="2 classes for 3 outputs"):
        save_model(tmp_path / "x.pt", model, backbone="efficientnet_lite0", classes=["a", "b"], image_size=64)
    with pytest.raises(UnknownName, match="Did you mean 'efficientnet_lite0'"):
        save_model(tmp_path / "x.pt", model, backbone="efficientnet_lit0", classes=CLASSES, image_size=64)
    with pytest.raises(TypeError, match="extra"):
        save_model(tmp_path / "x.pt", model, backbone="efficientnet_lite0", classes=CLASSES, image_size=64,
                   extra={"when": object()})
    assert not (tmp_path / "x.pt").exists(), "a refused save left a file behind"
