"""Shared fixtures: an isolated asset environment, and the real data mirror when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TRANSFER_LESSONS_TEST_MIRROR", REPO.parent / "shared" / "data"))


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
