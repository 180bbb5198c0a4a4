"""Which classes an incremental run asks for attendance and metrics.

Activity (attendance rows, metric events) only happens while a class meets, and a class meets at
the times its schedule lists. So a class read at `last_read` needs reading again now only if one of
its schedule entries, widened by `ALLOWANCE_S` on both sides, overlaps `[last_read, now]`: before
the start, students may join before the host (`jbh_time` is at most 10 minutes); after the end, a
session may run over and an event is listed once it has ended.

Skipping a class never loses data: its metrics cursor does not move, so its next read asks for
everything since the same point. What a broken assumption (a class meeting off its schedule, a
session running over by more than the allowance) costs is freshness, and `recheck_s` bounds it: a
class unread for that long is read regardless. Anything the rule cannot tell (no schedule readable,
no earlier read, a clock that went back) reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

ALLOWANCE_S = 3600


@dataclass(frozen=True)
class ActivityRule:
    """`needs_reading` for one run started at `now_s` (unix seconds, the loader's clock)."""

    now_s: int
    recheck_s: Optional[int]  # None: read every class every run

    def needs_reading(self, last_read_s: Optional[int], meetings: Optional[Iterable[tuple[int, int]]]) -> bool:
        if self.recheck_s is None or last_read_s is None or meetings is None:
            return True
        if not last_read_s <= self.now_s < last_read_s + self.recheck_s:
            return True
        return any(start - ALLOWANCE_S <= self.now_s and end + ALLOWANCE_S >= last_read_s for start, end in meetings)


def meetings_of(schedules: Any) -> Optional[list[tuple[int, int]]]:
    """(start, end) unix seconds of each entry of a GET /schedules answer; None if it is not one
    (the caller then reads the class: if in doubt, fetch)."""
    if not isinstance(schedules, list):
        return None
    meetings = []
    for entry in schedules:
        start, end = (entry.get("start_time"), entry.get("end_time")) if isinstance(entry, dict) else (None, None)
        if not isinstance(start, (int, float)) or not isinstance(end, (int, float)) or isinstance(start, bool) or isinstance(end, bool):
            return None
        meetings.append((int(start), int(max(start, end))))
    return meetings
