"""Before a run extracts anything: finish what an interrupted run left, or set aside what cannot load.

An interrupted or failed run may leave load packages (data and the metrics cursors that cover it).
They are loaded first, since dlt's `run()` would load them and skip extracting anything new. A
package with a job that fails terminally, or fails every retry (DuckDB rejecting a file is a
"transient" error to dlt), would otherwise fail every later run, even against a healthy API. Such a
package is aborted the dlt way (LOAD__AUTO_ABORT_ON_TERMINAL_ERROR, set by the CLI, or
`abort_packages`): it stays on disk under the pipeline's load/loaded folder with its failed jobs, and
the local state and schemas go back to where they were before it was extracted. Its cursors never
reached the destination, so extracting again loses nothing: the run says so in one line and goes on.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any


def recover_interrupted_run(pipeline: Any) -> None:
    """Complete or set aside the load packages an earlier run left behind."""
    finish_interrupted_normalize_commit(pipeline)
    if not pipeline.has_pending_data:
        return
    print("completing the load package(s) an interrupted run left behind", file=sys.stderr)
    try:
        pipeline.run()
    except Exception as exc:  # noqa: BLE001 - only a package that cannot load is handled here
        load_id = aborted_load_id(exc)
        if load_id is None and _retries_exhausted(exc):
            # a job failing the same way every retry (dlt takes a file DuckDB rejects for transient)
            plan = pipeline.abort_packages()
            load_id = plan["package_to_abort"]["load_id"] if plan and plan.get("package_to_abort") else None
        if load_id is None:
            raise
        print(
            f"class-elt: a load package left by an earlier run could not be loaded ({_job_failure(exc)}); "
            f"set aside in {set_aside_path(pipeline, load_id)}, extracting its data again",
            file=sys.stderr,
        )


def finish_interrupted_normalize_commit(pipeline: Any) -> None:
    """dlt commits a normalized package in two steps: rename it into load/normalized, then delete the
    extracted copy. A process killed between the two leaves both, and the next run would normalize
    the package again and fail on the existing directory. The rename happened, so the commit is
    done: delete the leftover copy, as dlt would have."""
    from .dlt_compat import extracted_packages, package_was_committed

    for package in extracted_packages(pipeline):
        if package_was_committed(pipeline, package.name):
            shutil.rmtree(package)


def load_failure(exc: BaseException) -> str | None:
    """One line for a run whose own package could not load (anywhere in `exc`'s chain), else None."""
    load_id = aborted_load_id(exc)
    if load_id is not None:
        return (
            f"load package {load_id} could not be loaded ({_job_failure(exc)}); it was set aside under the "
            "pipeline's load/loaded folder, and the next run extracts its data again"
        )
    if _retries_exhausted(exc):
        return (
            f"a load package could not be loaded ({_job_failure(exc)}); the next run retries it once more, "
            "then sets it aside and extracts its data again"
        )
    return None


def aborted_load_id(exc: BaseException) -> str | None:
    """The load id of the package dlt aborted, if `exc` (anywhere in its chain) reports one."""
    from .dlt_compat import LoadPackageAborted

    for current in _chain(exc):
        if isinstance(current, LoadPackageAborted):
            return current.load_id
    return None


def _retries_exhausted(exc: BaseException) -> bool:
    from .dlt_compat import LoadClientJobRetry, LoadClientJobTerminalRetry

    return any(isinstance(current, (LoadClientJobRetry, LoadClientJobTerminalRetry)) for current in _chain(exc))


def set_aside_path(pipeline: Any, load_id: str) -> Path:
    """Where dlt keeps an aborted package (its failed job files and their error messages included)."""
    from .dlt_compat import loaded_package_dir

    return loaded_package_dir(pipeline, load_id)


def _job_failure(exc: BaseException) -> str:
    """The failed job's one-line reason, without dlt's multi-line explanations."""
    from .dlt_compat import LoadClientJobException

    for current in _chain(exc):
        if isinstance(current, LoadClientJobException):
            cause = getattr(current, "client_exception", None)
            lines = [line for line in str(cause or getattr(current, "failed_message", "")).splitlines() if line.strip()]
            return f"job {getattr(current, 'job_id', '?')}: {lines[0][:300] if lines else 'failed'}"
    return "a job failed terminally"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop(0)
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        pending.extend(
            [getattr(current, "exception", None), getattr(current, "job_exception", None), current.__cause__, current.__context__]
        )
    return seen
