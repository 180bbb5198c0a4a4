"""SIGINT and SIGTERM during a run: one line, exit 130 or 143, and nothing lost.

A run ended at any instant is recovered exactly by the next one: the reliability suite SIGKILLs runs
at two dozen points of extract, normalize and load and checks the rerun (tests/test_reliability.py).
So an interrupted run is not unwound: unwinding through dlt's worker threads and generators took
seconds and printed tracebacks (or, for SIGTERM, nothing at all). The process writes one line naming
the step it was in and ends at once, as a kill would.

The signal is acted on by a watcher thread woken through `signal.set_wakeup_fd`, so it takes effect
even while the main thread is inside a long C call (a DuckDB query of the model build).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)

_step = "startup"
_exiting = threading.Lock()


def step(name: str) -> None:
    """Record the step the run is in, for the line printed if it is interrupted now."""
    global _step
    _step = name


def current_step() -> str:
    return _step


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """While inside, SIGINT/SIGTERM end the process with one line and exit code 128 + signal number.

    Only the main thread can install signal handlers: elsewhere (a run embedded in a worker thread)
    this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)  # the C signal handler must never block on it
    watcher = threading.Thread(target=_watch, args=(read_end,), name="class-elt-signals", daemon=True)
    previous_handlers = {signum: signal.signal(signum, _on_signal) for signum in SIGNALS}
    previous_wakeup = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    tracker = _DltStepTracker.install()
    watcher.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous_wakeup)
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
        os.close(write_end)  # the watcher reads end-of-file and returns
        watcher.join(timeout=5)
        os.close(read_end)
        tracker.uninstall()


def _watch(read_end: int) -> None:
    while True:
        data = os.read(read_end, 1)
        if not data:
            return
        if data[0] in SIGNALS:
            _exit(data[0])


def _on_signal(signum: int, frame: Any) -> None:
    """The Python-level handler: the watcher usually got there first."""
    _exit(signum)


def _exit(signum: int) -> None:
    if not _exiting.acquire(blocking=False):
        return  # the other thread is already ending the process
    line = f"class-elt: interrupted during {_step}; nothing was lost, run again to continue\n"
    # what the run printed so far; from a thread, briefly: the interrupted main thread may hold
    # stdout's lock, or stdout may be a pipe nobody reads (the line itself goes straight to the fd)
    flusher = threading.Thread(target=_flush_stdout, daemon=True)
    flusher.start()
    flusher.join(timeout=0.5)
    if os.isatty(2):
        line = "\r\x1b[2K" + line  # clear the live progress line
    os.write(2, line.encode())
    os._exit(128 + signum)


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 - a closed or broken stdout: nothing more to save
        pass


class _DltStepTracker:
    """A dlt tracking module (see dlt_compat.add_step_tracker) that reports each pipeline step
    (extract, normalize, load) as the current step."""

    @classmethod
    def install(cls) -> _DltStepTracker:
        from .dlt_compat import add_step_tracker

        tracker = cls()
        add_step_tracker(tracker)
        return tracker

    def uninstall(self) -> None:
        from .dlt_compat import remove_step_tracker

        remove_step_tracker(self)

    def on_start_trace(self, trace: Any, step_name: str, pipeline: Any) -> None:
        pass

    def on_start_trace_step(self, trace: Any, step_name: str, pipeline: Any) -> None:
        step(step_name)

    def on_end_trace_step(self, trace: Any, step_trace: Any, pipeline: Any, step_info: Any, send_state: bool) -> None:
        pass

    def on_end_trace(self, trace: Any, pipeline: Any, send_state: bool) -> None:
        pass
