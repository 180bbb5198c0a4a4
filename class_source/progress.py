"""Live progress of a load: classes fetched and rows extracted per resource."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import TextIO


@dataclass
class ResourceProgress:
    classes_done: int = 0
    classes_total: int | None = None
    rows: int = 0
    classes_not_asked: int = 0  # skipped by the activity rule (activity.py); counted in classes_done too


class Progress:
    """Counts per resource; `render()` gives one status line. The base class only counts."""

    def __init__(self) -> None:
        self.resources: dict[str, ResourceProgress] = {}
        self.retries: Counter[str] = Counter()  # requests retried, by reason (HTTP status, timeout, ...)
        self._lock = threading.Lock()

    def start(self, resource: str, classes_total: int | None = None) -> None:
        with self._lock:
            self.resources[resource] = ResourceProgress(classes_total=classes_total)
        self.changed()

    def advance(self, resource: str, *, rows: int = 0, classes: int = 0, not_asked: int = 0) -> None:
        with self._lock:
            state = self.resources.setdefault(resource, ResourceProgress())
            state.rows += rows
            state.classes_done += classes + not_asked
            state.classes_not_asked += not_asked
        self.changed()

    def render(self, width: int | None = None) -> str:
        """One line: metrics first (the long part of a run), then the other resources; within
        `width` characters, resources that do not fit are left out whole rather than cut."""
        with self._lock:
            states = sorted(self.resources.items(), key=lambda item: item[0] != "metrics")
            parts = []
            for name, state in states:
                text = f"{name} {state.rows:,}"
                if state.classes_total:
                    text += f" ({state.classes_done}/{state.classes_total} classes)"
                parts.append(text)
        line = " | ".join(parts)
        while width is not None and len(line) > width and len(parts) > 1:
            parts.pop()
            line = " | ".join(parts) + " | …"
        return line if width is None else line[:width]

    def retry_summary(self) -> str | None:
        """'retried 16 requests: 429 x12, 503 x4', or None when nothing was retried."""
        if not self.retries:
            return None
        reasons = ", ".join(f"{reason} x{count}" for reason, count in self.retries.most_common())
        return f"retried {sum(self.retries.values())} request(s): {reasons}"

    def activity_summary(self) -> list[str]:
        """'attendance: asked 12 of 40 classes (...)' per resource the activity rule skipped classes of."""
        return [
            f"{name}: asked {state.classes_total - state.classes_not_asked:,} of {state.classes_total:,} classes "
            "(the others had no scheduled meeting since their last read)"
            for name, state in sorted(self.resources.items())
            if state.classes_not_asked and state.classes_total is not None
        ]

    def changed(self) -> None:
        """Hook for subclasses that display progress."""


class TerminalProgress(Progress):
    """Redraws one status line on a terminal; on a pipe, prints a line every `interval_s`."""

    def __init__(self, stream: TextIO = sys.stderr, interval_s: float = 0.2) -> None:
        super().__init__()
        self._stream = stream
        self._tty = stream.isatty()
        self._interval_s = interval_s if self._tty else max(interval_s, 5.0)
        self._last = 0.0
        self._started = time.monotonic()

    def changed(self) -> None:
        now = time.monotonic()
        if now - self._last < self._interval_s:
            return
        self._last = now
        prefix = f"[{now - self._started:6.1f}s] extracting: "
        if self._tty:
            width = shutil.get_terminal_size((100, 24)).columns - 1
            self._stream.write("\r\x1b[2K" + prefix + self.render(max(width - len(prefix), 20)))
        else:
            self._stream.write(prefix + self.render() + "\n")
        self._stream.flush()

    def finish(self) -> None:
        if self._tty:
            self._stream.write("\r\x1b[2K")
            self._stream.flush()
