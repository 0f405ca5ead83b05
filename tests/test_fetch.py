"""Tests for fetch.py: real downloads from a local HTTP server, checksums, manifests, safe extraction."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest
from helpers import FILES, write_tree, zip_bytes

from transfer_lessons.assets import download, safe_extract, sha256_file, verify_manifest
from transfer_lessons.errors import AssetError, ChecksumMismatch, OfflineAssetMissing, UnsafeArchive


def test_download_wrong_checksum_removes_part(online, server, tmp_path):
    server.files["/w.bin"] = b"weights"
    dest = tmp_path / "w.bin"
    with pytest.raises(ChecksumMismatch):
        download(f"{server.url}/w.bin", dest, sha256="f" * 64, progress=False)
    assert not dest.exists() and not (tmp_path / "w.bin.part").exists()
    good = download(f"{server.url}/w.bin", dest, sha256=hashlib.sha256(b"weights").hexdigest(), progress=False)
    assert good.read_bytes() == b"weights"


@pytest.mark.timeout(60)
def test_interrupted_download_raises_and_leaves_no_file(online, server, tmp_path):
    server.files["/big.bin"] = b"x" * 50_000
    dest = tmp_path / "big.bin"
    with pytest.raises(AssetError, match=r"/short/big.bin.*run again") as info:
        download(f"{server.url}/short/big.bin", dest, progress=False)
    assert not isinstance(info.value, ChecksumMismatch)
    assert not dest.exists() and not (tmp_path / "big.bin.part").exists()


@pytest.mark.timeout(60)
def test_resumed_download_continues_with_a_range_request(online, server, tmp_path):
    body = bytes(range(256)) * 400
    server.files["/big.bin"] = body
    server.cut["/big.bin"] = 30_000  # the first transfer stops after 30 kB
    dest, digest = tmp_path / "big.bin", hashlib.sha256(body).hexdigest()
    with pytest.raises(AssetError, match="30000 of 102400 bytes"):
        download(f"{server.url}/big.bin", dest, sha256=digest, progress=False, resume=True)
    assert (tmp_path / "big.bin.part").stat().st_size == 30_000 and not dest.exists()
    assert download(f"{server.url}/big.bin", dest, sha256=digest, progress=False, resume=True).read_bytes() == body
    assert server.ranges == [None, "bytes=30000-"] and not (tmp_path / "big.bin.part").exists()


def test_resumed_download_starts_again_when_the_join_is_wrong(online, server, tmp_path):
    server.files["/w.bin"] = b"weights"
    digest, dest = hashlib.sha256(b"weights").hexdigest(), tmp_path / "w.bin"
    (tmp_path / "w.bin.part").write_bytes(b"WEIGHTS-and-more")  # longer than the file: HTTP 416
    assert download(f"{server.url}/w.bin", dest, progress=False, resume=True, sha256=digest).read_bytes() == b"weights"
    assert server.ranges == ["bytes=16-", None]
    (tmp_path / "w.bin.part").write_bytes(b"wEi")  # a stale part of another version: the join fails the sha256
    assert download(f"{server.url}/w.bin", dest, progress=False, resume=True, sha256=digest).read_bytes() == b"weights"
    assert server.ranges[2:] == ["bytes=3-", None] and not (tmp_path / "w.bin.part").exists()
    server.ignore_range = True  # a server without Range support sends the whole file: the part is overwritten
    (tmp_path / "w.bin.part").write_bytes(b"wei")
    assert download(f"{server.url}/w.bin", dest, progress=False, resume=True, sha256=digest).read_bytes() == b"weights"
    assert server.ranges[4:] == ["bytes=3-"]


def test_download_refuses_when_offline(isolated_assets, tmp_path):
    with pytest.raises(OfflineAssetMissing, match="TRANSFER_LESSONS_OFFLINE"):
        download("http://127.0.0.1:9/x", tmp_path / "x", progress=False)


def test_verify_manifest_counts(tmp_path):
    root = write_tree(tmp_path / "d")
    manifest = tmp_path / "m.sha256"
    manifest.write_text("".join(f"{sha256_file(root / r)}  {r}\n" for r in FILES))
    assert verify_manifest(root, manifest) == 2


@pytest.mark.parametrize("member", ["../evil.txt", "/tmp/evil_abs.txt", "a/../../evil.txt"])
def test_zip_with_escaping_member_is_refused(tmp_path, member):
    archive = tmp_path / "bad.zip"
    archive.write_bytes(zip_bytes({"ok.txt": b"ok", member: b"evil"}))
    target = tmp_path / "out"
    with pytest.raises(UnsafeArchive, match=rf"bad.zip.*{member[:4]}"):
        safe_extract(archive, target)
    assert not (tmp_path / "evil.txt").exists() and list(target.iterdir()) == []


def _tar(path: Path, *members: tarfile.TarInfo) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        tar.addfile(_info("data/ok.txt", size=2), io.BytesIO(b"ok"))
        for member in members:
            tar.addfile(member)
    return path


def _info(name, size=0, **fields) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    for key, value in fields.items():
        setattr(info, key, value)
    return info


@pytest.mark.parametrize("member", [
    _info("data/link", type=tarfile.SYMTYPE, linkname="../../outside"),
    _info("data/abslink", type=tarfile.SYMTYPE, linkname="/etc/passwd"),
    _info("data/hard", type=tarfile.LNKTYPE, linkname="../outside"),
    _info("data/dev", type=tarfile.CHRTYPE),
    _info("../evil.txt"),
])
def test_tar_with_unsafe_member_is_refused(tmp_path, member):
    archive = _tar(tmp_path / "bad.tar.gz", member)
    target = tmp_path / "out"
    with pytest.raises(UnsafeArchive, match=f"bad.tar.gz.*{member.name}"):
        safe_extract(archive, target)
    assert list(target.iterdir()) == [] and not (tmp_path / "evil.txt").exists()


def test_safe_tar_with_inner_link_extracts(tmp_path):
    archive = _tar(tmp_path / "good.tar.gz", _info("data/alias.txt", type=tarfile.SYMTYPE, linkname="ok.txt"))
    out = safe_extract(archive, tmp_path / "out")
    assert (out / "data/alias.txt").read_bytes() == b"ok"


def test_not_an_archive(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"not an archive")
    with pytest.raises(AssetError, match="neither a zip nor a tar"):
        safe_extract(tmp_path / "x.zip", tmp_path / "out")
