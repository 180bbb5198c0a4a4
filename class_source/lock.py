"""One run at a time per pipeline working directory and per destination dataset.

Two OS file locks, taken by `runner.load` for the whole run: one in the pipeline's working
directory (its state and load packages), one for the destination dataset it writes (beside a
DuckDB file; for a server or a bucket, in the user's lock folder keyed by host, database and
dataset), so two working directories or two tools never write one dataset at once. The locks are
`filelock`'s native ones (flock on Unix, msvcrt on Windows): the kernel releases them when their
process exits, however it exits (SIGKILL included), so a crashed run never leaves a stale lock
behind. Its soft fallback (a marker file, for file systems without flock) is turned off, since a
marker would outlive a killed run.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from .errors import RunLockedError

_held: set[str] = set()  # lock files this process holds
_held_guard = threading.Lock()


@contextmanager
def run_lock(working_dir: str | Path, pipeline_name: str) -> Iterator[None]:
    """Hold the pipeline's working directory for one run."""
    path = Path(working_dir)
    path.mkdir(parents=True, exist_ok=True)
    with _file_lock(path / "class-elt.lock", f"run of pipeline {pipeline_name!r}"):
        yield


@contextmanager
def dataset_lock(pipeline: Any) -> Iterator[None]:
    """Hold the destination dataset `pipeline` writes, whoever else writes it (another working
    directory, another tool built on the source); on Postgres also with an advisory lock of the
    server, which covers runs on other machines."""
    path, where = dataset_lock_path(pipeline)
    with _file_lock(path, f"run writing {where}"), _postgres_advisory_lock(pipeline, where):
        yield


@contextmanager
def dataset_guard(pipeline: Any) -> Iterator[None]:
    """For code that runs inside a load (the source's resources): nothing if this process's run
    holds the dataset already, else hold it meanwhile, so a load started without `runner.load`
    (e.g. `pipeline.run(class_source())`) still refuses to extract while another run is active."""
    path, where = dataset_lock_path(pipeline)
    with _held_guard:
        held = str(path) in _held
    if held:
        yield
        return
    with _file_lock(path, f"run writing {where}"):
        yield


def dataset_lock_path(pipeline: Any) -> tuple[Path, str]:
    """The lock file of `pipeline`'s destination dataset, and how to name that dataset to a user."""
    config = pipeline.destination_client().config
    credentials = getattr(config, "credentials", None)
    dataset = pipeline.dataset_name
    database = getattr(credentials, "database", None)
    host = getattr(credentials, "host", None)
    if host is None and database and pipeline.destination.destination_name in ("duckdb",):
        database_file = Path(str(database)).resolve()
        lock_file = database_file.with_name(f".{database_file.name}.{dataset}.class-elt-lock")  # hidden, beside the file
        return lock_file, f"dataset {dataset} of {database_file}"
    bucket = getattr(config, "bucket_url", None)
    location = str(bucket) if bucket else f"{host or ''}:{getattr(credentials, 'port', '') or ''}/{database or ''}"
    name = f"{pipeline.destination.destination_name} {location} dataset {dataset}"
    digest = hashlib.sha256(name.encode()).hexdigest()[:24]
    return _lock_folder() / f"{digest}.lock", f"dataset {dataset} on {pipeline.destination.destination_name} {location}"


@contextmanager
def _postgres_advisory_lock(pipeline: Any, where: str) -> Iterator[None]:
    if pipeline.destination.destination_name != "postgres":
        yield
        return
    import psycopg2

    credentials = pipeline.destination_client().config.credentials
    key = int.from_bytes(
        hashlib.sha256(f"class-elt {credentials.database} {pipeline.dataset_name}".encode()).digest()[:8], "big", signed=True
    )
    connection = psycopg2.connect(credentials.to_native_representation())
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", (key,))
            if not cursor.fetchone()[0]:
                raise RunLockedError(
                    f"another class-elt run writing {where} is active (it holds the server's advisory lock {key}); "
                    "wait for it to finish, or stop it, then run again"
                )
        yield
    finally:
        connection.close()  # ends the session: the server releases its advisory locks


def _lock_folder() -> Path:
    folder = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "class-elt" / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def _file_lock(lock_file: Path, what: str) -> Iterator[None]:
    lock = FileLock(
        lock_file,
        blocking=False,  # a second run is refused at once, never queued behind the first
        thread_local=False,  # held for the run, whichever thread releases it
        fallback_to_soft=False,
        preserve_lock_file=True,  # the holder's pid stays readable in it
        on_acquired=_write_pid,
    )
    try:
        lock.acquire()
    except Timeout:
        raise RunLockedError(
            f"another class-elt {what} is active (pid {_holder(lock_file)}); wait for it to finish, or stop it, then run again"
        ) from None
    with _held_guard:
        _held.add(str(lock_file))
    try:
        yield
    finally:
        with _held_guard:
            _held.discard(str(lock_file))
        lock.release()


def _write_pid(descriptor: int) -> None:
    # filelock (4.x) opens the lock file without truncating it, so a run that is refused can read
    # the holder's pid from it; a pid left by a killed run is overwritten by the next holder
    os.ftruncate(descriptor, 0)
    os.lseek(descriptor, 0, os.SEEK_SET)
    os.write(descriptor, str(os.getpid()).encode())


def _holder(lock_file: Path) -> str:
    try:
        return lock_file.read_text().strip() or "unknown"
    except OSError:  # Windows: the holder's lock covers the file's bytes
        return "unknown"
