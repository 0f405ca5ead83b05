"""Tests for transfer_lessons.finetune: the one-call recipe and its command line."""

from __future__ import annotations

import inspect

import pytest
import torch
from helpers import write_image

from transfer_lessons.data import open_rgb
from transfer_lessons.training import fine_tune, load_model


def image_folder(root, per_class=6):
    """Two classes told apart by colour: red 'apples', blue 'plums'."""
    for split in ("train", "val"):
        for name, colour in (("apples", (220, 30, 30)), ("plums", (40, 30, 200))):
            for i in range(per_class):
                write_image(root / split / name / f"{i}.jpg", size=(48, 40),
                            color=(colour[0] - 5 * i, colour[1], colour[2]))
    return root


@pytest.mark.timeout(120)
def test_fine_tune_own_folder_saves_a_model_that_predicts(tmp_path, isolated_assets, capsys, one_thread):
    result = fine_tune(image_folder(tmp_path / "fruit"), strategy="partial", profile="smoke", epochs=2,
                       output=tmp_path / "fruit.pt")
    plan = capsys.readouterr().out
    assert "strategy 'partial'" in plan, plan
    assert "12 training / 12 validation images (train/ + val/) of 2 classes" in plan, plan
    assert len(result.history) == 2 and 0 <= result.val_acc <= 1
    assert result.data.classes == ["apples", "plums"] and result.path.is_file()
    loaded = load_model(result.path)
    assert loaded.extra["strategy"]["name"] == "partial" and loaded.extra["profile"]["name"] == "smoke"
    image = write_image(tmp_path / "new.jpg", size=(48, 40), color=(210, 30, 30))
    ranked = loaded.predict(image)
    assert [c for c, _ in ranked] in (["apples", "plums"], ["plums", "apples"])
    assert sum(p for _, p in ranked) == pytest.approx(1.0, abs=1e-5)
    with torch.inference_mode():
        direct = result.model.eval()(loaded.transform(open_rgb(image)).unsqueeze(0)).softmax(-1)[0].max().item()
    assert direct == pytest.approx(ranked[0][1], abs=1e-5), "the saved model predicts unlike the trained one"


def test_docstring_lists_every_default_it_hides():
    doc = inspect.getdoc(fine_tune)
    for default in ("card's input size", "eval_size_for", "35–100%", "horizontal flip", "batch ``profile.batch_size``",
                    "label_smoothing=0.1", "AdamW", "one-cycle", "atomically"):
        assert default in doc, f"fine_tune's docstring does not mention {default!r}"


@pytest.mark.timeout(300)
def test_cli_finetune_then_predict_with_the_model(tmp_path, isolated_assets, capsys, one_thread):
    from transfer_lessons.course import main  # what `python -m transfer_lessons` runs (test_cli starts that)

    folder = image_folder(tmp_path / "fruit")
    status = main(["finetune", str(folder), "--out", str(tmp_path / "m.pt"), "--profile", "smoke",
                   "--strategy", "linear_probe", "--epochs", "1"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "model saved to" in out and (tmp_path / "m.pt").is_file()
    status = main(["predict", str(folder / "val" / "apples" / "0.jpg"), "--model", str(tmp_path / "m.pt")])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert sorted(line.split("\t")[0] for line in out.strip().splitlines()) == ["apples", "plums"]
    status = main(["finetune", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x.pt"), "--profile", "smoke"])
    assert status == 2 and "nowhere" in capsys.readouterr().err
