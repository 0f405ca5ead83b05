"""The command line, run as a learner would: doctor, predict, errors in one line."""

import json
import os
import subprocess
import sys

import pytest
from conftest import SHARED_DATA

CAT_LABELS = ("tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat")


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "transfer_lessons", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=180)


@pytest.mark.timeout(200)
def test_doctor_json(tmp_path):
    env = {"TRANSFER_LESSONS_CACHE": str(tmp_path), "TRANSFER_LESSONS_OFFLINE": "1"}
    if (SHARED_DATA / "hymenoptera_data").is_dir():
        env["TRANSFER_LESSONS_DATA"] = str(SHARED_DATA)
    result = cli("doctor", "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) >= {"device", "versions", "backbones", "datasets", "mirror"}
    built = "TRANSFER_LESSONS_DATA" in env and (SHARED_DATA / "mirror.json").is_file()  # by the mirror command
    assert (report["mirror"] is not None) == built, report["mirror"]
    coco = report["detectors"]["coco_detector"]
    assert coco["source"] in {"mirror", "cache"} or coco == {"offline": False, "available": False, "source": "download"}
    assert report["backbones"]["efficientnet_lite0"]["offline"] is True
    assert report["backbones"]["efficientnet_lite0"]["available"] is True
    if "TRANSFER_LESSONS_DATA" in env:
        for name in ("hymenoptera", "pennfudan"):
            assert report["datasets"][name] == {"available": True, "source": "mirror"}
    else:
        assert report["datasets"]["hymenoptera"]["source"] == "synthetic"
    text = cli("doctor", env=env)
    assert text.returncode == 0 and "efficientnet_lite0" in text.stdout and "coco_detector" in text.stdout


@pytest.mark.timeout(200)
def test_predict_chelsea_is_a_cat(tmp_path):
    from PIL import Image
    from skimage import data

    photo = tmp_path / "chelsea.png"
    Image.fromarray(data.chelsea()).save(photo)
    result = cli("predict", str(photo), env={"TRANSFER_LESSONS_CACHE": str(tmp_path / "c"),
                                             "TRANSFER_LESSONS_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 5
    rows = [line.split("\t") for line in lines]
    probs = [float(p) for _, p in rows]
    assert probs == sorted(probs, reverse=True) and 0 < probs[0] <= 1
    assert rows[0][0].startswith(CAT_LABELS), f"first class is {rows[0][0]!r}"


def test_predict_errors_are_one_line(tmp_path):
    missing = cli("predict", str(tmp_path / "nope.jpg"))
    assert missing.returncode == 2 and "nope.jpg" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    result = cli("predict", str(broken), env={"TRANSFER_LESSONS_CACHE": str(tmp_path / "c")})
    assert result.returncode == 2 and "broken.jpg" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    unknown = cli("predict", "chelsea", "--backbone", "resnet5")
    assert unknown.returncode == 2 and "Did you mean 'resnet50'" in unknown.stderr


def _saved_tiny_model(tmp_path):
    import torch

    from transfer_lessons.models import create_backbone
    from transfer_lessons.training import save_model

    torch.manual_seed(0)
    model = create_backbone("efficientnet_lite0", pretrained=False, num_classes=2)
    return save_model(tmp_path / "model.pt", model, backbone="efficientnet_lite0", classes=["ants", "bees"],
                      image_size=64)


@pytest.mark.timeout(120)
def test_predict_with_model_file_prints_its_classes(tmp_path, capsys):
    from helpers import write_image

    from transfer_lessons.course import main

    model_path = _saved_tiny_model(tmp_path)
    photo = write_image(tmp_path / "photo.png", size=(80, 60))
    assert main(["predict", str(photo), "--model", str(model_path)]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.strip().splitlines()]
    assert sorted(name for name, _ in rows) == ["ants", "bees"], f"printed {rows}"
    probs = [float(p) for _, p in rows]
    assert probs == sorted(probs, reverse=True) and sum(probs) == pytest.approx(1.0, abs=2e-4), f"probabilities {probs}"
    assert main(["predict", str(photo), "--model", str(model_path), "-k", "1"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1


def test_predict_with_missing_model_file_is_one_line(tmp_path, capsys):
    from helpers import write_image

    from transfer_lessons.course import main

    photo = write_image(tmp_path / "photo.png")
    assert main(["predict", str(photo), "--model", str(tmp_path / "nope.pt")]) == 2
    err = capsys.readouterr().err
    assert "nope.pt" in err and "save_model" in err and len(err.strip().splitlines()) == 1, err
