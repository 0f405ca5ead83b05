"""The command line, run as a learner would: doctor, predict, errors in one line.

One test starts ``python -m transfer_lessons`` in a fresh process (the entry point itself); the others call
``main(argv)``, the function that entry point runs, in this process: the same code, without paying for a
new interpreter importing torch each time (a few seconds per call on 2 cores)."""

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


@pytest.fixture
def run(monkeypatch, capsys):
    """``run(*argv, env={...})`` -> (exit status, stdout, stderr) of ``main(argv)`` in this process."""
    from transfer_lessons.course import main

    def call(*argv, env=None):
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        status = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return status, out, err
    return call


@pytest.mark.timeout(200)
def test_doctor_json(tmp_path, run, monkeypatch):
    env = {"TRANSFER_LESSONS_CACHE": str(tmp_path), "TRANSFER_LESSONS_OFFLINE": "1"}
    monkeypatch.delenv("TRANSFER_LESSONS_DATA", raising=False)
    if (SHARED_DATA / "hymenoptera_data").is_dir():
        env["TRANSFER_LESSONS_DATA"] = str(SHARED_DATA)
    status, out, err = run("doctor", "--json", env=env)
    assert status == 0, err
    report = json.loads(out)
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
    status, out, _ = run("doctor", env=env)
    assert status == 0 and "efficientnet_lite0" in out and "coco_detector" in out


@pytest.mark.timeout(200)
def test_predict_chelsea_is_a_cat(tmp_path, run):
    from PIL import Image
    from skimage import data

    photo = tmp_path / "chelsea.png"
    Image.fromarray(data.chelsea()).save(photo)
    status, out, err = run("predict", photo, env={"TRANSFER_LESSONS_CACHE": str(tmp_path / "c"),
                                                  "TRANSFER_LESSONS_OFFLINE": "1"})
    assert status == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 5
    rows = [line.split("\t") for line in lines]
    probs = [float(p) for _, p in rows]
    assert probs == sorted(probs, reverse=True) and 0 < probs[0] <= 1
    assert rows[0][0].startswith(CAT_LABELS), f"first class is {rows[0][0]!r}"


def test_entry_point_error_is_one_line(tmp_path):
    missing = cli("predict", str(tmp_path / "nope.jpg"))
    assert missing.returncode == 2 and "nope.jpg" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1, missing.stderr


def test_predict_errors_are_one_line(tmp_path, run):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    status, _, err = run("predict", broken, env={"TRANSFER_LESSONS_CACHE": str(tmp_path / "c")})
    assert status == 2 and "broken.jpg" in err, err
    assert len(err.strip().splitlines()) == 1
    status, _, err = run("predict", "chelsea", "--backbone", "resnet5")
    assert status == 2 and "Did you mean 'resnet50'" in err


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
