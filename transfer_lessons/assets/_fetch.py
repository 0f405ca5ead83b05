"""Fetching files safely: checksummed atomic downloads, archives checked member by member before extraction,
folders checked against ``sha256sum`` lists. Where each asset comes from is decided in ``_datasets.py`` and
``_weights.py``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import stat
import tarfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Optional, Union

from tqdm.auto import tqdm

from ..errors import AssetError, ChecksumMismatch, OfflineAssetMissing, UnsafeArchive
from ..runtime import is_offline

_CHUNK = 1 << 20  # bytes read per step when hashing and downloading


def sha256_file(path: Union[str, Path]) -> str:
    """Return the hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, dest: Union[str, Path], *, sha256: Optional[str] = None,
             progress: bool = True, resume: bool = False) -> Path:
    """Download ``url`` to ``dest`` via ``dest.part``, check its sha256, then rename atomically.

    ``resume``: keep ``dest.part`` when the transfer stops and continue it next time with an HTTP ``Range`` request (a
    server that ignores it resends the whole file); a joined file that fails the sha256 is fetched again from byte 0.
    Use it only with a ``sha256``, which is what catches a part of another version of the file. Off by default: a
    learner's cache needs no half files (the mirror builder uses it).
    Raises: OfflineAssetMissing (offline, or the server cannot be reached), AssetError (the server refused, or the
    transfer stopped early), ChecksumMismatch (the bytes differ from ``sha256``; the partial file is deleted).
    """
    dest = Path(dest)
    if is_offline():
        raise OfflineAssetMissing(f"Cannot download {url} to {dest}: TRANSFER_LESSONS_OFFLINE is set. "
                                  "Fix: unset it, or put the file in the mirror (TRANSFER_LESSONS_DATA).")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if resume and part.is_file() else 0
    response = _open(url, have)
    if have and not response.headers.get("Content-Range", "").startswith(f"bytes {have}-"):
        have = 0  # the server sent the whole file (or another range): start again
    try:
        actual = _stream(response, url, part, progress, have)
    except BaseException:
        if not resume:
            part.unlink(missing_ok=True)  # never leave half a file that looks usable
        raise
    if sha256 and actual != sha256:
        part.unlink(missing_ok=True)
        if have:  # the kept part was from another file (a stale .part, a changed upstream): once more, whole
            return download(url, dest, sha256=sha256, progress=progress, resume=resume)
        raise ChecksumMismatch(url, sha256, actual, fix="the download is corrupt or changed upstream; "
                                                        "run again, and report it if it repeats")
    os.replace(part, dest)
    return dest


def _open(url: str, have: int):
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        return urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # the kept part is as long as the file, or longer: start again
            return _open(url, 0)
        raise AssetError(f"The server refused {url}: HTTP {err.code} {err.reason}. "
                         "Fix: check the address, or run again later.") from err
    except (urllib.error.URLError, OSError) as err:
        raise OfflineAssetMissing(f"Could not reach {url} ({getattr(err, 'reason', err)}). Fix: check the "
                                  "network, or put the file in the mirror (TRANSFER_LESSONS_DATA).") from err


def _stream(response, url: str, part: Path, progress: bool, have: int = 0) -> str:
    """Copy a response into ``part`` after its first ``have`` bytes, hashing the whole; AssetError if it stops short."""
    total = int(response.headers.get("Content-Length") or 0) or None
    digest, received = hashlib.sha256(), 0
    if have:
        with open(part, "rb") as kept:
            for chunk in iter(lambda: kept.read(_CHUNK), b""):
                digest.update(chunk)
    with response, open(part, "ab" if have else "wb") as out, tqdm(
            total=total and total + have, initial=have, unit="B", unit_scale=True,
            desc=Path(url).name, disable=not progress) as bar:
        while True:
            try:
                chunk = response.read(_CHUNK)
            except (OSError, http.client.HTTPException) as err:  # the network; a full disk raises as it is
                raise AssetError(f"The download of {url} was interrupted after {have + received} bytes "
                                 f"({err!r}). Fix: run again.") from err
            if not chunk:
                break
            out.write(chunk)
            digest.update(chunk)
            received += len(chunk)
            bar.update(len(chunk))
    if total is not None and received < total:
        raise AssetError(f"The download of {url} stopped after {have + received} of {have + total} bytes. "
                         "Fix: run again.")
    return digest.hexdigest()


def _unsafe(archive: Path, member: str, why: str) -> UnsafeArchive:
    return UnsafeArchive(f"Refusing to extract {archive}: member {member!r} {why}. "
                         "Fix: do not use this archive; download it again from the official address.")


def _check_name(archive: Path, name: str) -> None:
    """Refuse absolute paths, drive letters and '..' parts, on any platform."""
    posix = name.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        raise _unsafe(archive, name, "has an absolute path")
    if ".." in PurePosixPath(posix).parts:
        raise _unsafe(archive, name, "has a '..' part")


def _check_tar(archive: Path, tar: tarfile.TarFile, target: Path) -> None:
    for member in tar.getmembers():
        _check_name(archive, member.name)
        if member.isdev():  # char/block devices and fifos
            raise _unsafe(archive, member.name, "is a device file")
        if member.issym() or member.islnk():
            base = target / Path(member.name).parent if member.issym() else target
            inside = os.path.commonpath([target, os.path.realpath(base / member.linkname)]) == str(target)
            if os.path.isabs(member.linkname) or not inside:
                raise _unsafe(archive, member.name, f"links outside the target to {member.linkname!r}")


def safe_extract(archive: Union[str, Path], target: Union[str, Path]) -> Path:
    """Extract a .zip or .tar(.gz) into ``target`` (created) after checking every member first; returns ``target``.

    Raises UnsafeArchive, writing nothing, for a member with an absolute path, a '..' part, a link leading outside
    ``target``, or a device file; AssetError for a file that is not a zip or tar archive, or is damaged.
    """
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    try:
        _extract(archive, Path(os.path.realpath(target)))
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError) as err:  # truncated, bad CRC, ...
        raise AssetError(f"{archive} is damaged ({type(err).__name__}: {err}). "
                         "Fix: delete it and download it again.") from err
    return target


def _extract(archive: Path, real: Path) -> None:
    """Check every member, then extract (``safe_extract``'s body; damaged archives raise as they are)."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _check_name(archive, info.filename)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
                    raise _unsafe(archive, info.filename, "is a link or device file")
            zf.extractall(real)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tar:
            _check_tar(archive, tar, real)  # same checks on every Python, with or without filters
            if hasattr(tarfile, "data_filter"):
                try:
                    tar.extractall(real, filter="data")
                except tarfile.FilterError as err:
                    raise _unsafe(archive, getattr(err.tarinfo, "name", "?"), str(err)) from err
            else:
                tar.extractall(real)
    else:
        raise AssetError(f"{archive} is neither a zip nor a tar archive. Fix: delete it and run again.")


def read_manifest(path: Union[str, Path]) -> dict[str, str]:
    """``{relative path: sha256}`` from a ``sha256sum`` list (``<hex>  <path>``); empty if there is none."""
    path = Path(path)
    if not path.is_file():
        return {}
    entries = {}
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        parts = line.split(maxsplit=1)
        if not parts:
            continue
        if len(parts) != 2 or len(parts[0]) != 64 or not all(c in "0123456789abcdefABCDEF" for c in parts[0]):
            raise AssetError(f"{path} line {number} is not '<sha256>  <path>': {line[:80]!r}. "
                             "Fix: restore the file (a mirror's is rewritten by running the mirror command again).")
        entries[parts[1].strip().lstrip("*")] = parts[0].lower()
    return entries


def verify_manifest(root: Union[str, Path], manifest_path: Union[str, Path], *,
                    fix: str = "delete it and run again") -> int:
    """Check every file listed in a ``sha256sum`` manifest under ``root``; returns how many were checked."""
    root, manifest_path = Path(root), Path(manifest_path)
    if not manifest_path.is_file():
        raise AssetError(f"Manifest {manifest_path} is missing. Fix: reinstall transfer_lessons.")
    entries = read_manifest(manifest_path)
    problems = manifest_problems(root, entries)
    missing = [row for row in problems if row["actual"] is None]
    if missing:
        raise AssetError(f"{root / missing[0]['path']} is missing ({len(missing)} of {len(entries)} files listed in "
                         f"{manifest_path.name} are). Fix: {fix}.")
    if problems:
        raise ChecksumMismatch(root / problems[0]["path"], problems[0]["expected"], problems[0]["actual"], fix=fix)
    return len(entries)


def manifest_problems(root: Union[str, Path], entries: dict[str, str]) -> list[dict]:
    """Every file of ``entries`` (``{relative path: sha256}``, as ``read_manifest`` gives) missing or changed under
    ``root``: ``[{"path", "expected", "actual"}]``, ``actual`` None when missing."""
    root = Path(root)
    rows = [{"path": rel, "expected": expected, "actual": sha256_file(root / rel) if (root / rel).is_file() else None}
            for rel, expected in entries.items()]
    return [row for row in rows if row["actual"] != row["expected"]]
