"""Shared fixtures: an isolated asset environment, the real data mirror when present, a local HTTP server."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import os
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TRANSFER_LESSONS_TEST_MIRROR", REPO.parent / "shared" / "data"))


def pytest_configure(config):
    """Under pytest-xdist (``make test-fast``: two workers on two cores) each worker keeps to one intra-op thread:
    two workers of two spinning OpenMP threads each would take turns on the cores. Subprocesses keep the default."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


@pytest.fixture
def one_thread():
    """One intra-op thread: on a shared 2-core runner, two spinning OpenMP threads that lose
    their core to another process make tiny models up to 10x slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def isolated_assets(tmp_path, monkeypatch):
    """A fresh cache, no mirror, network forbidden: what a new offline laptop sees."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("TRANSFER_LESSONS_CACHE", str(cache))
    monkeypatch.delenv("TRANSFER_LESSONS_DATA", raising=False)
    monkeypatch.setenv("TRANSFER_LESSONS_OFFLINE", "1")
    return cache


@pytest.fixture
def shared_mirror(monkeypatch, tmp_path):
    """The real datasets (../shared/data) as the mirror; skips with a reason where absent."""
    if not (SHARED_DATA / "hymenoptera_data").is_dir():
        pytest.skip(f"real-data mirror not found at {SHARED_DATA} (set TRANSFER_LESSONS_TEST_MIRROR)")
    monkeypatch.setenv("TRANSFER_LESSONS_DATA", str(SHARED_DATA))
    monkeypatch.setenv("TRANSFER_LESSONS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TRANSFER_LESSONS_OFFLINE", "1")
    return SHARED_DATA


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files``, honouring ``Range: bytes=N-`` unless ``server.ignore_range``. ``/short/...``
    promises more bytes than it sends, then hangs up; ``server.cut[path] = n`` does that once for ``path``,
    after n bytes."""

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.server.hits.append(self.path)
        self.server.ranges.append(self.headers.get("Range"))
        short = self.path.startswith("/short/")
        body = self.server.files.get(self.path.removeprefix("/short"))
        if body is None:
            self.send_error(404)
            return
        ranged = self.headers.get("Range") and not self.server.ignore_range
        start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-")) if ranged else 0
        if start and start >= len(body):
            self.send_error(416)
            return
        cut = self.server.cut.pop(self.path, None)
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) * 2 if short else len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:start + cut] if cut is not None else body[start:])
        if short or cut is not None:
            self.close_connection = True

    def do_HEAD(self):  # noqa: N802 - what huggingface_hub asks first: the file's commit, etag (sha256) and size
        body = self.server.files.get(self.path)
        self.server.hits.append("HEAD " + self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", f'"{hashlib.sha256(body).hexdigest()}"')
        self.send_header("X-Repo-Commit", "0" * 40)
        self.end_headers()

    def log_message(self, *args):  # keep test output quiet
        pass


@contextlib.contextmanager
def http_server():
    """A real HTTP server on 127.0.0.1 (port 0) in a thread; add bytes to ``server.files``."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.hits, httpd.ranges, httpd.cut, httpd.ignore_range = {}, [], [], {}, False
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server():
    with http_server() as httpd:
        yield httpd


@pytest.fixture
def online(isolated_assets, monkeypatch):
    """Like ``isolated_assets`` but with the network allowed."""
    monkeypatch.delenv("TRANSFER_LESSONS_OFFLINE")
    return isolated_assets
