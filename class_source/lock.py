"""One run at a time per pipeline: an OS file lock in the pipeline's working directory.

The kernel releases the lock when the holding process exits, however it exits (SIGKILL
included), so a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path

from .client import ClassApiError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, runs are not serialized
    fcntl = None  # type: ignore[assignment]


class RunLockedError(ClassApiError):
    """Another run of the same pipeline is active."""


@contextmanager
def run_lock(working_dir: str | Path, pipeline_name: str) -> Iterator[None]:
    path = Path(working_dir)
    path.mkdir(parents=True, exist_ok=True)
    lock_file = path / "class-elt.lock"
    with open(lock_file, "a+") as handle:
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                raise RunLockedError(
                    f"another class-elt run of pipeline {pipeline_name!r} is active (pid {holder}); "
                    "wait for it to finish, or stop it, then run again"
                ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
