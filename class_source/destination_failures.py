"""Destination failures the CLI prints as one line instead of a traceback: the destination cannot
be reached, or another program holds the DuckDB file."""

from __future__ import annotations

import re
from typing import Optional


def destination_failure(exc: BaseException) -> Optional[str]:
    """One line for an expected destination failure (it cannot be reached), else None; the CLI
    prints it instead of a traceback."""
    from .dlt_compat import DestinationConnectionError

    locked = _DUCKDB_FILE_LOCKED.search(str(exc))
    if locked:
        # DuckDB allows one writer or many readers per file: another program has the warehouse open
        return (
            f"the warehouse file {locked['file']} is open in another program ({locked['program']}, pid {locked['pid']}): "
            "close it and run again, or point dashboards at a copy made with `class-elt run --publish PATH` "
            "(README 'Dashboards')"
        )
    kind = type(exc)
    if isinstance(exc, DestinationConnectionError) or (kind.__module__.split(".")[0] == "psycopg2" and kind.__name__ == "OperationalError"):
        return f"cannot reach the destination: {first_line(exc)}"
    return None


_DUCKDB_FILE_LOCKED = re.compile(
    r'Could not set lock on file "(?P<file>[^"]+)": Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)'
)


def first_line(exc: BaseException) -> str:
    """The first line of `exc`'s message (its type when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__
