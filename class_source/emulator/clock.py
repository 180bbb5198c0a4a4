"""The emulator's controllable clock: every time-dependent answer is computed from `Clock.now`."""

from __future__ import annotations

import threading


class Clock:
    """Integer unix seconds that only move when told to (tests need a frozen, settable now)."""

    def __init__(self, now: int) -> None:
        self._lock = threading.Lock()
        self._now = _as_seconds(now)

    @property
    def now(self) -> int:
        return self._now

    def set(self, ts: int) -> int:
        with self._lock:
            self._now = _as_seconds(ts)
            return self._now

    def advance(self, seconds: int) -> int:
        with self._lock:
            self._now = self._now + _as_seconds(seconds)
            return self._now


def _as_seconds(value: int) -> int:
    # bool is an int subclass; a clock set to True is a bug, not 1970-01-01T00:00:01Z.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"clock values are integer unix seconds, got {value!r}")
    return value
