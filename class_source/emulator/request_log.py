"""The emulator's request log: counts per endpoint, and the most recent requests with their faults."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class LoggedRequest:
    seq: int  # position in the whole log
    endpoint: str  # "GET /api/v1/classes"
    ordinal: int  # position among requests to this endpoint (drives fault decisions)
    query: str
    fault: str | None = None
    status: int | None = None  # None when the connection was dropped
    arrived: float = field(default_factory=time.monotonic)  # when the request reached the emulator
    answered: float | None = None  # when its response started (the benchmark's request timeline)


class RequestLog:
    """Counts per endpoint plus the most recent requests (bounded)."""

    def __init__(self, keep: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._total = 0
        self.entries: deque[LoggedRequest] = deque(maxlen=keep)

    def record(self, endpoint: str, query: str) -> LoggedRequest:
        with self._lock:
            ordinal = self._counts.get(endpoint, 0)
            self._counts[endpoint] = ordinal + 1
            entry = LoggedRequest(self._total, endpoint, ordinal, query)
            self._total += 1
            self.entries.append(entry)
            return entry

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    @property
    def total(self) -> int:
        return self._total

    def status_counts(self) -> dict[int, int]:
        """Responses per HTTP status (dropped connections have none and are not counted)."""
        with self._lock:
            out: dict[int, int] = {}
            for entry in self.entries:
                if entry.status is not None:
                    out[entry.status] = out.get(entry.status, 0) + 1
            return out

    def faults(self) -> dict[str, int]:
        """How many requests got each fault kind (among the retained entries)."""
        with self._lock:
            out: dict[str, int] = {}
            for entry in self.entries:
                if entry.fault is not None:
                    out[entry.fault] = out.get(entry.fault, 0) + 1
            return out

    def reset(self) -> None:
        """Forget counts and entries; fault decisions restart from ordinal 0 (same sequence again)."""
        with self._lock:
            self._counts.clear()
            self._total = 0
            self.entries.clear()
