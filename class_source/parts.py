"""A first load's metrics in several load packages, each loaded while the next part is fetched.

dlt runs a package's steps one after the other: extract every resource, then normalize, then load.
A first load of millions of events therefore ends with seconds of normalizing and loading after the
last request, with nothing in flight (benchmarks/README.md: 1.4 s at 1,000 classes, 8 s at 5,000).
Within `runner.extract_and_load`, the metrics resource instead ends its part of a package after about
`load_part_events` events and leaves its requests running (they fill a bounded queue meanwhile);
the runner loads that package, then extracts the metrics resource again, which takes up the same
requests where it stopped: a clone of the same resource, so the same table, hints and state.

Off unless `load_part_events` is set (measured in benchmarks/README.md, "Session 6": a 20 M-event
first load peaks at 602 MiB instead of 909, for ~15 % more CPU; the wall time at 1,000 and 5,000
classes / 50 ms did not improve on 2 cores, where the first package's normalize and load slow the
requests in flight). Only while the metrics table holds no row when the run starts (a first load,
a full refresh), and only into class-elt's DuckDB client, where every copy of a load file is
ledgered (copy_once.py: a rerun after a kill never copies a file twice); Postgres copies csv files
without a ledger when the ADBC driver is missing, so it loads in one package. Every later part is
appended: each class is read once per run and paging drops every event it already yielded
(paging.metrics_pages), so no event comes in two parts, and nothing stored before the run can
repeat one. (A merge would be wrong here: it replaces every value of an instant by the values in
its package, and a page boundary may leave an instant's other values in an earlier part.)

Cursors: every class's cursor and last-read time reach the state with the last part only
(`MetricsRead.commit`), so a run stopped between parts (a failure, a reading it cannot page, a kill)
moves no cursor: the next run reads those classes again, as an incremental run, and its merge
replaces what the earlier parts loaded.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Optional

import dlt

__all__ = ["LoadInParts", "loads_in_parts", "load_in_parts", "part_limit", "continue_later"]


@dataclass
class LoadInParts:
    """One run's parts: the metrics read waiting to go on in the next package, if any."""

    first_load: Callable[[], bool]  # whether no event is stored yet; asked once, only with parts configured
    waiting: Optional[Any] = None  # the metrics read (class_source.MetricsRead) that ended a part early
    _read: Optional[Any] = None  # that read, closed when the run ends, however it ends
    _first_load: Optional[bool] = None

    def is_first_load(self) -> bool:
        if self._first_load is None:
            self._first_load = self.first_load()
        return self._first_load

    def continues(self) -> bool:
        return self.waiting is not None

    def next_part(self, source: Any) -> Any:
        """The source's metrics resource alone, appending (see the module docstring), to extract next."""
        self.waiting = None
        part = source.with_resources("metrics")
        part.resources["metrics"].apply_hints(write_disposition="append")
        return part

    def close(self) -> None:
        """Stop a read left open (the run failed between parts): its requests end, the API closes."""
        if self._read is not None:
            self._read.close()  # a read that completed closed itself: closing again does nothing
        self._read = self.waiting = None


# by pipeline (id): the runs in parts now; a resource finds its own through dlt.current.pipeline(), which
# dlt keeps per extracting thread and hands to its worker threads
_active: dict[int, LoadInParts] = {}
_active_lock = threading.Lock()


def loads_in_parts(destination: Any) -> bool:
    """Whether `destination` loads a first load in parts: class-elt's DuckDB client, every copy ledgered."""
    from .duckdb_load import CopyOnceDuckDbClient

    return isinstance(destination.client_class, type) and issubclass(destination.client_class, CopyOnceDuckDbClient)


@contextlib.contextmanager
def load_in_parts(pipeline: Any, first_load: Optional[Callable[[], bool]]) -> Iterator[LoadInParts]:
    """While inside, a metrics resource extracted by `pipeline` with `load_part_events` set may end its
    part early, if `first_load` is given and says no event is stored yet. It is asked when the metrics
    resource first starts, before anything of the run has loaded, and only if parts are configured
    (a default run asks the destination nothing). Other pipelines, in other threads, are not affected."""
    parts = LoadInParts(first_load or (lambda: False))
    if first_load is not None:
        with _active_lock:
            _active[id(pipeline)] = parts
    try:
        yield parts
    finally:
        with _active_lock:
            if _active.get(id(pipeline)) is parts:
                del _active[id(pipeline)]
        parts.close()


def _current() -> Optional[LoadInParts]:
    with _active_lock:
        return _active.get(id(dlt.current.pipeline())) if _active else None


def part_limit(load_part_events: int) -> Optional[int]:
    """Events after which the metrics resource ends its part of the package: None (all of them now)
    when parts are off (0), outside `load_in_parts` of the pipeline extracting it, or when events are
    stored already."""
    if load_part_events <= 0:
        return None
    parts = _current()
    return load_part_events if parts is not None and parts.is_first_load() else None


def continue_later(read: Any) -> None:
    """Called by the metrics resource ending its part early: the runner extracts it again."""
    parts = _current()
    assert parts is not None, "a part ended outside load_in_parts"
    parts.waiting = parts._read = read
