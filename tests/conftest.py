"""Shared fixtures: an emulated Class school, and an isolated place for pipelines and warehouses."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

# dlt reads these at import time of some modules: keep every test's pipelines out of ~/.dlt
os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory with its own dlt data dir and DuckDB file, as a new user would have."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_data"))
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "warehouse.duckdb"))
    for name in list(os.environ):
        if name.startswith("SOURCES__CLASS_API__"):
            monkeypatch.delenv(name)
    return tmp_path


def postgres_reachable(host: str = "127.0.0.1", port: int = 5432) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The local PostgreSQL server; skipped only outside CI when no server is reachable."""
    if not postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432, and CI requires the Postgres tests to run")
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432 (these tests always run in CI)")
    yield "postgresql://postgres:unused@127.0.0.1:5432/test"  # trust auth, but dlt insists on a password
