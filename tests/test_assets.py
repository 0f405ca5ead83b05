"""The asset layer: dataset cards, the resolution order (mirror, cache, download, synthetic), weight files."""

from __future__ import annotations

import hashlib
import socket

import pytest
from helpers import FILES, write_tree, zip_bytes

from transfer_lessons import assets
from transfer_lessons.assets import (
    WEIGHTS,
    AssetSource,
    DatasetCard,
    WeightsCard,
    dataset_status,
    get_dataset_card,
    list_datasets,
    resolve_dataset,
    resolve_weights_file,
    verify_manifest,
)
from transfer_lessons.errors import AssetError, ChecksumMismatch, DatasetLayoutError, OfflineAssetMissing, UnknownName


@pytest.fixture
def tiny(tmp_path, server):
    """A tiny dataset card whose archive is served by ``server``, with its manifest in tmp_path."""
    manifest = tmp_path / "tiny.sha256"
    manifest.write_text("".join(f"{hashlib.sha256(d).hexdigest()}  {r}\n" for r, d in FILES.items()))
    archive = zip_bytes({f"tiny_data/{rel}": data for rel, data in FILES.items()})
    server.files["/tiny_data.zip"] = archive
    return DatasetCard(name="tiny", folder="tiny_data", task="classification",
                       url=f"{server.url}/tiny_data.zip", archive_sha256=hashlib.sha256(archive).hexdigest(),
                       manifest=str(manifest), synthetic_fallback="synthetic_classification")


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/nothing.zip"  # closed now: connection refused


def test_registry_and_unknown_name():
    assert list_datasets() == ["hymenoptera", "pbc_blood_cells", "pennfudan", "synthetic_classification",
                               "synthetic_detection"]
    assert get_dataset_card("pennfudan").archive_sha256 is None
    with pytest.raises(UnknownName, match=r"Did you mean 'hymenoptera'\?.*list_datasets\(\)"):
        get_dataset_card("hymenopteran")


@pytest.mark.timeout(60)
def test_download_extracts_then_cache_is_used(online, tiny, server):
    first = resolve_dataset(tiny, progress=False)
    assert (first.source, first.root) == ("download", online / "tiny_data")
    assert (first.root / "train/b/two.txt").read_bytes() == FILES["train/b/two.txt"]
    leftovers = sorted(p.name for p in online.iterdir())
    assert leftovers == ["tiny_data"], f"cache should hold only the dataset, has {leftovers}"
    second = resolve_dataset(tiny, progress=False)
    assert second.source == "cache" and len(server.hits) == 1, server.hits


def test_patched_registry_resolves_by_name(online, tiny, monkeypatch):
    monkeypatch.setitem(assets.DATASETS, "tiny", tiny)
    assert resolve_dataset("tiny", progress=False).source == "download"
    assert dataset_status("tiny") == {"available": True, "source": "cache"}


def test_wrong_archive_checksum_leaves_nothing(online, tiny):
    bad = DatasetCard(**{**tiny.__dict__, "archive_sha256": "0" * 64})
    with pytest.raises(ChecksumMismatch, match="tiny_data.zip"):
        resolve_dataset(bad, progress=False)
    assert not online.exists() or list(online.iterdir()) == [], list(online.iterdir())


def test_unreachable_server_falls_back_or_raises(online, tiny):
    card = DatasetCard(**{**tiny.__dict__, "url": _closed_port_url()})
    with pytest.warns(UserWarning, match="TRANSFER_LESSONS_DATA"):
        source = resolve_dataset(card, progress=False)
    assert source.source == "synthetic" and source.synthetic and (source.root / "train").is_dir()
    with pytest.raises(OfflineAssetMissing, match="Could not reach"):
        resolve_dataset(card, allow_synthetic=False, progress=False)


def test_offline_without_data_uses_synthetic_or_raises(isolated_assets):
    with pytest.warns(UserWarning, match=r"'hymenoptera'.*synthetic_classification.*TRANSFER_LESSONS_DATA"):
        source = resolve_dataset("hymenoptera")
    assert source.source == "synthetic" and source.root == isolated_assets / "synthetic_classification"
    with pytest.raises(OfflineAssetMissing) as info:
        resolve_dataset("pennfudan", allow_synthetic=False)
    message = str(info.value)
    assert "TRANSFER_LESSONS_DATA not set" in message and str(isolated_assets / "PennFudanPed") in message


def test_order_mirror_then_cache_then_download(online, tiny, tmp_path, monkeypatch):
    write_tree(online / "tiny_data")
    assert resolve_dataset(tiny).source == "cache"
    mirror = tmp_path / "mirror"
    write_tree(mirror / "tiny_data")
    monkeypatch.setenv("TRANSFER_LESSONS_DATA", str(mirror))
    assert resolve_dataset(tiny) == AssetSource("tiny", mirror / "tiny_data", "mirror")
    assert dataset_status(tiny) == {"available": True, "source": "mirror"}


def test_corrupt_or_missing_mirror_file_is_named(isolated_assets, tiny, tmp_path, monkeypatch):
    mirror = write_tree(tmp_path / "mirror" / "tiny_data")
    monkeypatch.setenv("TRANSFER_LESSONS_DATA", str(mirror.parent))
    (mirror / "train/a/one.txt").write_bytes(b"changed\n")
    with pytest.raises(ChecksumMismatch, match=r"train/a/one.txt.*TRANSFER_LESSONS_DATA"):
        resolve_dataset(tiny)
    (mirror / "train/a/one.txt").unlink()
    with pytest.raises(AssetError, match=r"train/a/one.txt is missing"):
        resolve_dataset(tiny)


def test_cache_is_hashed_once_then_stamped(isolated_assets, tiny):
    root = write_tree(isolated_assets / "tiny_data")
    assert resolve_dataset(tiny).source == "cache" and (root / ".verified").is_file()
    (root / ".verified").unlink()
    (root / "train/a/one.txt").write_bytes(b"changed\n")
    with pytest.raises(ChecksumMismatch, match="delete the folder"):
        resolve_dataset(tiny)


def test_dataset_status_is_cheap_and_honest(isolated_assets, monkeypatch):
    assert dataset_status("hymenoptera") == {"available": False, "source": "synthetic"}
    assert dataset_status("synthetic_detection") == {"available": True, "source": "synthetic"}
    monkeypatch.delenv("TRANSFER_LESSONS_OFFLINE")
    assert dataset_status("pennfudan") == {"available": True, "source": "download"}
    assert not isolated_assets.exists(), "dataset_status must not write anything"


def test_user_folder_and_missing_path(tmp_path):
    assert resolve_dataset(tmp_path).source == "user"
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        resolve_dataset(tmp_path / "nope")


def test_weights_file_order_mirror_cache_download(online, server, tmp_path, monkeypatch):
    data = b"weights!"
    digest = hashlib.sha256(data).hexdigest()
    server.files["/w.pth"] = data
    monkeypatch.setitem(WEIGHTS, "w", WeightsCard("w", "w.pth", "test", kind="detector", url=f"{server.url}/w.pth",
                                                  sha256=digest))
    path, source = resolve_weights_file("w", progress=False)
    assert (path, source) == (online / "weights/w.pth", "download")
    assert resolve_weights_file("w") == (path, "cache")
    mirror = tmp_path / "mirror"
    (mirror / "weights").mkdir(parents=True)
    (mirror / "weights/w.pth").write_bytes(b"tampered")
    monkeypatch.setenv("TRANSFER_LESSONS_DATA", str(mirror))
    with pytest.raises(ChecksumMismatch, match="w.pth"):
        resolve_weights_file("w")
    (mirror / "weights/w.pth").write_bytes(data)
    assert resolve_weights_file("w")[1] == "mirror"
    monkeypatch.setenv("TRANSFER_LESSONS_OFFLINE", "1")
    monkeypatch.setitem(WEIGHTS, "v", WeightsCard("v", "v.pth", "test", url=f"{server.url}/v.pth"))
    with pytest.raises(OfflineAssetMissing, match="v.pth"):
        resolve_weights_file("v")


def test_real_mirror_is_verified(shared_mirror):
    assert resolve_dataset("hymenoptera").source == "mirror"
    assert resolve_dataset("pennfudan").root == shared_mirror / "PennFudanPed"
    assert verify_manifest(shared_mirror / "PennFudanPed", assets.MANIFEST_DIR / "pennfudan.sha256") == 512


@pytest.fixture
def subset_card(tmp_path):
    """A card like pbc_blood_cells': no download address, only a larger archive a person downloads from a page."""
    manifest = tmp_path / "cells.sha256"
    manifest.write_text("".join(f"{hashlib.sha256(d).hexdigest()}  {r}\n" for r, d in FILES.items()))
    return DatasetCard(name="cells", folder="cells_data", task="classification", manifest=str(manifest),
                       page="https://example.org/record", archive_name="FULL_release.zip",
                       synthetic_fallback="synthetic_classification")


def _full_release(files: dict) -> bytes:
    """The whole release: every class folder under another top folder, with more files than the subset."""
    members = {f"FULL_release/{rel.split('/', 1)[1]}": data for rel, data in files.items()}
    members["FULL_release/a/extra.txt"] = b"not in the subset\n"
    return zip_bytes(members)


def test_subset_is_taken_from_the_full_release_a_person_put_in_the_cache(isolated_assets, subset_card):
    isolated_assets.mkdir(parents=True, exist_ok=True)
    (isolated_assets / "FULL_release.zip").write_bytes(_full_release(FILES))
    source = resolve_dataset(subset_card, progress=False)
    assert source.source == "cache" and source.root == isolated_assets / "cells_data"
    assert {str(p.relative_to(source.root)) for p in source.root.rglob("*.txt")} == set(FILES)
    assert (isolated_assets / "FULL_release.zip").is_file(), "the person's own download is kept"


def test_a_different_release_is_refused_naming_the_files(isolated_assets, subset_card):
    isolated_assets.mkdir(parents=True, exist_ok=True)
    changed = {**FILES, "train/b/two.txt": b"another version\n"}
    (isolated_assets / "FULL_release.zip").write_bytes(_full_release(changed))
    with pytest.raises(AssetError, match=r"lacks 1 of the 2 files of cells .*train/b/two.txt.*example.org/record"):
        resolve_dataset(subset_card, progress=False)
    assert not (isolated_assets / "cells_data").exists()


def test_without_the_release_the_fallback_says_where_to_get_it_and_where_to_put_it(isolated_assets, subset_card):
    with pytest.raises(OfflineAssetMissing, match=r"no download address.*FULL_release.zip from "
                                                  r"https://example.org/record and put it in"):
        resolve_dataset(subset_card, allow_synthetic=False, progress=False)
    assert dataset_status(subset_card) == {"available": False, "source": "synthetic"}
