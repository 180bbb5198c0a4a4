"""The marts of a real `class-elt run` against the emulator, checked against figures computed here.

A seeded emulator school (past sessions, one class live at the default clock, schedules ahead) is
loaded end to end with `class-elt run`, into DuckDB and into Postgres, which builds the models.
Every expected value is computed in plain Python from `emu.school.ground_truth()` — what the API
serves — following the rules written in the model headers and sql/README.md, never from the
warehouse's raw tables and never by re-running SQL (default settings: UTC, a 10-minute
join-before-host allowance, chronic absence from 10 %):

- as-of time: the latest session start, join, leave or event end reported; a session is live while
  its end is after it, else held;
- session of an event: the latest-starting session of its class at or before the event's start
  if that session has not ended yet, else the next session if the event starts at most 10 minutes
  before it (one session per class and start: the longest, then the smallest id), else none;
- counted part of an event: the event clipped to the stretch its person attended the session
  (join -> leave within the window; empty if never joined; to the session end while no leave is
  reported; the whole window for people missing from the report); outside sessions, the whole event;
- merged time: length of the union of a group's counted parts; islands: stretches left after merging;
- attended_seconds: join -> leave clipped to the session window, 0 if never joined, null while the
  student has no leave_time;
- roles: the class roster's role as of the session ('student' if not on it); teachers and
  assistants are staff. The warehouse keeps every roster version it has seen, from the load that saw
  it on; every session precedes both loads, so its roster is the earliest version seen: the first
  load's role, or, for someone the first load did not see, the second's. Current-roster figures
  (students_enrolled, zero-session students, dim_instructors' staff) use the second load's roster;
- schedules: matched to the nearest-starting session of the class starting within
  [scheduled start - 10 min, scheduled end), one schedule per session; unmatched ones are missed
  if their start has passed, else upcoming.

The school is generated with the edges a real account has: schedules whose session was never held
(`missed_fraction`: no report, no events) and events the API reference does not document
(`odd_event_rate`: a null value, an empty value, an unknown type). Before the first load it gets a
few hand-made cases the generator does not produce on its own: an overlapping session (latest start
wins), events exactly on session and allowance boundaries, overlapping IS_TALKING events (merging),
and a person with events in a session whose roster they are not on. Between the first and the
second load (same clock: no new activity) roles change: a student who attended becomes an
assistant, and an assistant becomes a student.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

import duckdb
import pytest

from class_source.cli import main
from class_source.emulator import Emulator
from models_fixture import postgres_url, postgres_user

SEED, CLASSES = 3, 8
MISSED_FRACTION = 0.1  # share of schedules never held
ODD_EVENT_RATE = 0.03  # per person and attended session: one undocumented event
DATASET = "class_data"
DATABASE = "warehouse.duckdb"
TOLERANCE = 1e-6  # seconds: the marts divide integer milliseconds by 1000.0
ALLOWANCE_MS = 600_000  # the default join-before-host allowance: 10 minutes
CHRONIC_SHARE = Decimal("0.1")  # the default chronic-absence threshold
TRAILING_MS = 28 * 86_400_000
STAFF = ("teacher", "assistant")

# engagement seconds: event type -> column (value 'true', overlapping events merged)
ENGAGEMENT_SECONDS = {
    "IS_TALKING": "talk_seconds",
    "IS_VIDEO_ON": "video_on_seconds",
    "FOCUSED": "focused_seconds",
    "IS_AUDIO_MUTED": "muted_seconds",
    "PRESENTING": "presenting_seconds",
}

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def ms(text: str) -> int:
    """ISO-8601 with a zone (as the API sends it) -> unix milliseconds, exactly."""
    delta = datetime.fromisoformat(text.replace("Z", "+00:00")) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def schedule_ms(value: Any) -> int:
    """A schedule's time as the API serves it (unix seconds) -> unix milliseconds."""
    return value * 1000 if isinstance(value, int) else ms(value)


def utc_date(at_ms: int) -> dt.date:
    return (_EPOCH + dt.timedelta(milliseconds=at_ms)).date()


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def union(intervals: list[tuple[int, int]]) -> tuple[int, int]:
    """(length of the union, number of separate stretches) of [start, end) intervals in ms;
    intervals that touch form one stretch."""
    length, stretches, current = 0, 0, None
    for start, end in sorted(intervals):
        end = max(end, start)
        if current is None or start > current[1]:
            if current is not None:
                length += current[1] - current[0]
            current = [start, end]
            stretches += 1
        else:
            current[1] = max(current[1], end)
    if current is not None:
        length += current[1] - current[0]
    return length, stretches


# --- the school, with hand-made cases ---------------------------------------------------------------


@dataclass
class Cases:
    """Where the hand-made events and the overlapping session went."""

    injected_class: str
    injected_session: str
    session_start_ms: int
    session_end_ms: int
    outsider: str  # a person of the school with events in `injected_session`, not on its roster
    overlap_class: str
    overlapped_session: str  # an original session ...
    overlapping_session: str  # ... and the one added to start inside it
    overlapping_start_ms: int
    promoted: tuple[str, str] = ("", "")  # (class, person): a student who attended, assistant from the second load on
    demoted: tuple[str, str] = ("", "")  # (class, person): an assistant, student from the second load on


def _past_session(truth: dict[str, list[dict[str, Any]]], class_id: str, index: int) -> dict[str, Any]:
    sessions = sorted(
        {(r["session_start_time"], r["session_end_time"], r["session_id"]) for r in truth["attendance"] if r["class_id"] == class_id}
    )
    start, end, session_id = sessions[index]
    return {"session_id": session_id, "start": ms(start), "end": ms(end)}


def make_school() -> tuple[Emulator, Cases]:
    emu = Emulator(seed=SEED, classes=CLASSES, missed_fraction=MISSED_FRACTION, odd_event_rate=ODD_EVENT_RATE)
    school = emu.school
    regular = school.class_ids()
    overlap_class, injected_class = regular[2], regular[1]

    # a session starting half-way into an earlier one of the same class (POST /schedules allows it)
    before = school.ground_truth()
    overlapped = _past_session(before, overlap_class, 3)
    half = (overlapped["end"] - overlapped["start"]) // 2 // 1000
    school.add_schedule(
        school.find_class(class_id=overlap_class), overlapped["start"] // 1000 + half, overlapped["end"] // 1000 + half, "UTC"
    )
    truth = school.ground_truth()
    overlapping = next(
        r for r in truth["attendance"]
        if r["class_id"] == overlap_class and ms(r["session_start_time"]) == overlapped["start"] + half * 1000
    )

    session = _past_session(truth, injected_class, 2)
    s, e = session["start"], session["end"]
    roster = {r["student_id"] for r in truth["enrollments"] if r["class_id"] == injected_class}
    outsider = next(r["student_id"] for r in truth["enrollments"] if r["student_id"] not in roster and r["role"] == "student")
    regular_student = next(
        r["student_id"] for r in truth["attendance"]
        if r["class_id"] == injected_class and r["session_id"] == session["session_id"] and r["present"]
    )

    def event(student: str, start: int, end: int, kind: str, value: str) -> dict[str, Any]:
        return {"student_id": student, "event_start": start, "event_end": end, "event_type": kind, "event_value": value}

    school.add_events(injected_class, [
        # the outsider: every figure of their rows is known by hand (see test_hand_made_cases)
        event(outsider, s + 600_000, s + 660_000, "IS_TALKING", "true"),
        event(outsider, s + 630_000, s + 700_000, "IS_TALKING", "true"),  # overlaps the previous one
        event(outsider, s + 700_000, s + 710_000, "IS_TALKING", "true"),  # touches it: same stretch
        event(outsider, s + 800_000, s + 810_000, "IS_TALKING", "true"),  # a second stretch
        event(outsider, s, s + 10_000, "FEEDBACK", "like"),  # starts exactly at the session start: inside
        event(outsider, e - 1, e + 2_000, "STARS", "3"),  # last millisecond, runs past the end: inside, clipped
        event(outsider, e, e + 3_000, "REACTION", "clap"),  # starts exactly at the end: outside
        # one millisecond early: inside the join-before-host allowance, counted from the start (5 s)
        event(outsider, s - 1, s + 5_000, "RAISED_HAND", "1"),
        # one millisecond before the allowance: outside
        event(outsider, s - ALLOWANCE_MS - 1, s - ALLOWANCE_MS + 4_000, "IS_VIDEO_ON", "true"),
        # a rostered student's overlapping talk, on top of their generated events
        event(regular_student, s + 1_200_000, s + 1_260_000, "IS_TALKING", "true"),
        event(regular_student, s + 1_230_000, s + 1_290_000, "IS_TALKING", "true"),
    ])
    return emu, Cases(
        injected_class=injected_class,
        injected_session=session["session_id"],
        session_start_ms=s,
        session_end_ms=e,
        outsider=outsider,
        overlap_class=overlap_class,
        overlapped_session=overlapped["session_id"],
        overlapping_session=overlapping["session_id"],
        overlapping_start_ms=ms(overlapping["session_start_time"]),
    )


def change_roles(emu: Emulator, cases: Cases) -> None:
    """Promote a student who attended a session to assistant and demote an assistant to student
    (PUT /class/enrollments: the roster changes, the activity already served does not)."""
    school = emu.school
    truth = school.ground_truth()
    attended = {(r["class_id"], r["student_id"]) for r in truth["attendance"] if r["present"]}
    enrollments = truth["enrollments"]
    student = next(r for r in enrollments if r["role"] == "student" and (r["class_id"], r["student_id"]) in attended
                   and r["class_id"] != cases.injected_class)
    assistant = next(r for r in enrollments if r["role"] == "assistant" and (r["class_id"], r["student_id"]) in attended)
    for row, role in ((student, "assistant"), (assistant, "student")):
        school.update_enrollment(
            school.find_class(class_id=row["class_id"]), identified_by="student_id", identifier=row["student_id"],
            first_name=row["first_name"], last_name=row["last_name"], role=role, display_name=None, email=None,
            ext_person_id=None,
        )
    cases.promoted = (student["class_id"], student["student_id"])
    cases.demoted = (assistant["class_id"], assistant["student_id"])


# --- expected marts, from the ground truth ------------------------------------------------------------


@dataclass
class Expected:
    as_of: int
    session_attendance: dict[tuple, dict[str, Any]]
    engagement: dict[tuple, dict[str, Any]]
    event_durations: dict[tuple, dict[str, Any]]
    class_summary: dict[tuple, dict[str, Any]]
    scheduled_sessions: dict[tuple, dict[str, Any]]
    student_class_attendance: dict[tuple, dict[str, Any]]
    class_weekly: dict[tuple, dict[str, Any]]
    instructor_weekly: dict[tuple, dict[str, Any]]
    staff: set[tuple[str, str]]  # (class_id, person) pairs staff at their sessions and on today's roster
    instructors: set[str]  # people staff on today's roster or at a session they took part in
    students: set[str]  # people a student on today's roster or at a session they took part in


def expected_marts(truth: dict[str, list[dict[str, Any]]], first_roster: list[dict[str, Any]]) -> Expected:
    """`truth`: what the API served at the second load; `first_roster`: the enrollments the first load saw."""
    attendance = truth["attendance"]
    # sessions: one window per (class, session), as every attendance row repeats it
    windows: dict[tuple[str, str], tuple[int, int]] = {}
    for row in attendance:
        window = (ms(row["session_start_time"]), ms(row["session_end_time"]))
        assert windows.setdefault((row["class_id"], row["session_id"]), window) == window
    as_of = max(
        [ms(r["session_start_time"]) for r in attendance]
        + [ms(r[c]) for r in attendance for c in ("join_time", "leave_time") if r[c] is not None]
        + [ms(e["event_end"]) for e in truth["metrics"]]
    )
    status = {key: "live" if end > as_of else "held" for key, (_, end) in windows.items()}

    # one session per class and start (the longest, then the smallest id), in start order
    by_start: dict[tuple[str, int], tuple[int, str]] = {}
    for (class_id, session_id), (start, end) in windows.items():
        best = by_start.get((class_id, start))
        if best is None or (-end, session_id) < (-best[0], best[1]):
            by_start[(class_id, start)] = (end, session_id)
    starts_of: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for (class_id, start), (end, session_id) in by_start.items():
        starts_of[class_id].append((start, end, session_id))

    def session_of(class_id: str, at: int) -> Optional[str]:
        before = [s for s in starts_of.get(class_id, ()) if s[0] <= at]
        after = [s for s in starts_of.get(class_id, ()) if s[0] > at]
        if before:
            start, end, session_id = max(before)
            if at < end:
                return session_id
        if after:
            start, _, session_id = min(after)
            if at >= start - ALLOWANCE_MS:
                return session_id
        return None

    current_role = {(r["class_id"], r["student_id"]): r["role"] or "student" for r in truth["enrollments"]}
    # as of any session: the earliest roster version seen (every session precedes both loads)
    role = {**current_role, **{(r["class_id"], r["student_id"]): r["role"] or "student" for r in first_roster}}
    staff = {key for key, value in role.items() if value in STAFF}

    def person_type(class_id: str, person: str) -> str:
        return "staff" if (class_id, person) in staff else "student"

    # fct_session_attendance, and the stretch each person on a report attended
    session_attendance, stretch = {}, {}
    for row in attendance:
        key = (row["class_id"], row["session_id"], row["student_id"])
        start, end = windows[key[:2]]
        if row["join_time"] is None:
            stretch[key], attended = (start, start), 0.0
        else:
            begin = min(max(ms(row["join_time"]), start), end)
            finish = end if row["leave_time"] is None else max(min(ms(row["leave_time"]), end), begin)
            stretch[key] = (begin, finish)
            attended = None if row["leave_time"] is None else (finish - begin) / 1000
        session_attendance[key] = {
            "present": row["present"],
            "tardy": row["tardy"],
            "is_enrolled": key[::2] in role,
            "enrollment_role": role.get(key[::2], "student"),
            "person_type": person_type(row["class_id"], row["student_id"]),
            "session_status": status[key[:2]],
            "session_seconds": (end - start) / 1000,
            "attended_seconds": attended,
        }

    # events: grouped by (class, session or None, local date, student, type, value); counted parts
    groups: dict[tuple, list[tuple[int, int, int, int]]] = defaultdict(list)
    for event in truth["metrics"]:
        start, end = ms(event["event_start"]), ms(event["event_end"])
        session_id = session_of(event["class_id"], start)
        if session_id is None:
            counted, day = (start, end), utc_date(start)
        else:
            window = windows[(event["class_id"], session_id)]
            lo, hi = stretch.get((event["class_id"], session_id, event["student_id"]), window)
            begin = max(start, lo)
            counted, day = (begin, max(min(end, hi), begin)), utc_date(window[0])
        value = event["event_value"] if event["event_value"] not in ("", None) else None
        key = (event["class_id"], session_id, day, event["student_id"], event["event_type"], value)
        groups[key].append((start, end, *counted))

    event_durations = {}
    for key, events in groups.items():
        merged, islands = union([(lo, hi) for _, _, lo, hi in events])
        event_durations[key] = {
            "person_type": person_type(key[0], key[3]),
            "event_count": len(events),
            "total_seconds": sum(max(end - start, 0) for start, end, _, _ in events) / 1000,
            "merged_seconds": merged / 1000,
            "islands": islands,
            "first_event_start": min(start for start, _, _, _ in events),
            "last_event_start": max(start for start, _, _, _ in events),
            "last_event_end": max(end for _, end, _, _ in events),
        }

    # fct_student_engagement: report rows plus anyone with events in the session
    on_report = {(r["class_id"], r["session_id"], r["student_id"]): r["present"] for r in attendance}
    engagement: dict[tuple, dict[str, Any]] = {}

    def engagement_row(key: tuple) -> dict[str, Any]:
        if key not in engagement:
            engagement[key] = {
                "person_type": person_type(key[0], key[2]),
                "session_status": status[key[:2]],
                "on_attendance_roster": key in on_report,
                "attended": bool(on_report.get(key, True)),
                "attended_seconds": session_attendance[key]["attended_seconds"] if key in on_report else None,
                **{column: 0.0 for column in ENGAGEMENT_SECONDS.values()},
                "hand_raises": 0, "reactions": 0, "feedback_count": 0, "stars": None, "events": 0,
            }
        return engagement[key]

    for key in on_report:
        engagement_row(key)
    for (class_id, session_id, _, student_id, kind, value), events in groups.items():
        if session_id is None:
            continue
        row = engagement_row((class_id, session_id, student_id))
        row["events"] += len(events)
        if kind in ENGAGEMENT_SECONDS and value == "true":
            row[ENGAGEMENT_SECONDS[kind]] += union([(lo, hi) for _, _, lo, hi in events])[0] / 1000
        elif kind == "RAISED_HAND" and value == "1":
            row["hand_raises"] += len(events)
        elif kind == "REACTION":
            row["reactions"] += len(events)
        elif kind == "FEEDBACK":
            row["feedback_count"] += len(events)
        elif kind == "STARS" and value in ("0", "1", "2", "3"):
            row["stars"] = max(int(value), row["stars"] if row["stars"] is not None else -1)

    def is_student_on_report(key: tuple) -> bool:
        return key in on_report and person_type(key[0], key[2]) == "student"

    # fct_scheduled_sessions
    nearest: dict[str, tuple[int, str]] = {}  # schedule -> (distance, session)
    for schedule in truth["schedules"]:
        s_start, s_end = schedule_ms(schedule["start_time"]), schedule_ms(schedule["end_time"])
        options = [
            (abs(start - s_start), session_id)
            for (class_id, session_id), (start, _) in windows.items()
            if class_id == schedule["class_id"] and s_start - ALLOWANCE_MS <= start < s_end
        ]
        if options:
            nearest[schedule["schedule_id"]] = min(options)
    claimed: dict[tuple[str, str], tuple[int, str]] = {}
    for schedule in truth["schedules"]:
        if schedule["schedule_id"] in nearest:
            distance, session_id = nearest[schedule["schedule_id"]]
            key = (schedule["class_id"], session_id)
            claimed[key] = min(claimed.get(key, (distance, schedule["schedule_id"])), (distance, schedule["schedule_id"]))
    matched = {schedule_id: session_key[1] for session_key, (_, schedule_id) in claimed.items()}
    scheduled_sessions = {}
    for schedule in truth["schedules"]:
        class_id, s_start = schedule["class_id"], schedule_ms(schedule["start_time"])
        session_id = matched.get(schedule["schedule_id"])
        row: dict[str, Any] = {"session_id": session_id}
        if session_id is None:
            row["session_status"] = "missed" if s_start <= as_of else "upcoming"
            row["students_expected"] = sum(1 for (c, _), r in role.items() if c == class_id and r not in STAFF)
            row |= {"students_present": None, "students_absent": None, "students_tardy": None,
                    "teacher_join_offset_seconds": None}
        else:
            rows = [r for r in attendance if (r["class_id"], r["session_id"]) == (class_id, session_id)]
            students = [r for r in rows if person_type(class_id, r["student_id"]) == "student"]
            teachers = [ms(r["join_time"]) for r in rows if role.get((class_id, r["student_id"])) == "teacher" and r["join_time"]]
            row["session_status"] = status[(class_id, session_id)]
            row["students_expected"] = len(students)
            row["students_present"] = sum(r["present"] for r in students)
            row["students_absent"] = len(students) - row["students_present"] if row["session_status"] == "held" else None
            row["students_tardy"] = sum(r["tardy"] for r in students)
            row["teacher_join_offset_seconds"] = (min(teachers) - s_start) / 1000 if teachers else None
        scheduled_sessions[(schedule["schedule_id"],)] = row

    # fct_student_class_attendance: held sessions on the report as a student, in start order
    expected_sessions: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for key in on_report:
        if is_student_on_report(key) and status[key[:2]] == "held":
            expected_sessions[key[::2]].append((windows[key[:2]][0], key[1], key))
    for (class_id, student), value in current_role.items():
        if value not in STAFF:
            expected_sessions.setdefault((class_id, student), [])
    student_class_attendance = {}
    for (class_id, student), sessions in expected_sessions.items():
        sessions.sort()
        present = [session_attendance[key]["present"] for _, _, key in sessions]
        streaks, run = [], 0
        for came in present:
            run = 0 if came else run + 1
            streaks.append(run)
        trailing = [came for (start, _, _), came in zip(sessions, present) if start > as_of - TRAILING_MS]
        attended_keys = [key for (_, _, key), came in zip(sessions, present) if came]
        expected, came = len(sessions), sum(present)
        student_class_attendance[(class_id, student)] = {
            "sessions_expected": expected,
            "sessions_present": came,
            "sessions_absent": expected - came,
            "sessions_tardy": sum(session_attendance[key]["tardy"] for _, _, key in sessions),
            "attendance_rate": came / expected if expected else None,
            "attended_minutes": sum(session_attendance[key]["attended_seconds"] or 0 for _, _, key in sessions) / 60,
            "current_absence_streak": streaks[-1] if streaks else 0,
            "longest_absence_streak": max(streaks, default=0),
            "trailing_4_week_rate": sum(trailing) / len(trailing) if trailing else None,
            "is_chronically_absent": expected > 0 and (expected - came) >= CHRONIC_SHARE * expected,
            "avg_talk_minutes": sum(engagement[k]["talk_seconds"] for k in attended_keys) / 60 / came if came else None,
            "avg_hand_raises": sum(engagement[k]["hand_raises"] for k in attended_keys) / came if came else None,
        }

    # agg_class_summary: one row per class known anywhere
    class_ids = (
        {r["class_id"] for r in truth["classes"]} | {r["class_id"] for r in truth["deferred_classes"]}
        | {r["class_id"] for r in truth["enrollments"]} | {r["class_id"] for r in truth["schedules"]}
        | {r["class_id"] for r in attendance}
    )
    regular = {r["class_id"] for r in truth["classes"]}
    deferred = {r["class_id"] for r in truth["deferred_classes"]}
    summary = {}
    for class_id in class_ids:
        held = [key for key in windows if key[0] == class_id and status[key] == "held"]
        rates = []
        for _, session_id in held:
            students = [k for k in on_report if k[:2] == (class_id, session_id) and is_student_on_report(k)]
            rates.append(sum(on_report[k] for k in students) / len(students))
        attendees = [row for key, row in engagement.items()
                     if key[0] == class_id and row["session_status"] == "held" and row["attended"]
                     and row["on_attendance_roster"] and row["person_type"] == "student"]
        own = [row for key, row in scheduled_sessions.items() if class_id == next(
            s["class_id"] for s in truth["schedules"] if s["schedule_id"] == key[0])]
        summary[(class_id,)] = {
            "class_status": "regular" if class_id in regular else "deferred" if class_id in deferred else "unlisted",
            "sessions_scheduled": len(own),
            "sessions_missed": sum(r["session_status"] == "missed" for r in own),
            "sessions_upcoming": sum(r["session_status"] == "upcoming" for r in own),
            "sessions_held": len(held),
            "sessions_live": sum(1 for key in windows if key[0] == class_id and status[key] == "live"),
            "students_enrolled": sum(1 for (c, _), r in current_role.items() if c == class_id and r == "student"),
            "avg_attendance_rate": sum(rates) / len(rates) if rates else None,
            "attendee_sessions": len(attendees),
            "total_talk_minutes": sum(row["talk_seconds"] for row in attendees) / 60,
            "staff_talk_minutes": sum(row["talk_seconds"] for key, row in engagement.items()
                                      if key[0] == class_id and row["session_status"] == "held"
                                      and row["person_type"] == "staff") / 60,
        }

    # agg_class_weekly (held sessions' figures) and agg_instructor_weekly
    weekly: dict[tuple, dict[str, Any]] = defaultdict(lambda: {
        "sessions_held": 0, "roster": set(), "expected": 0, "present": 0, "tardy": 0,
        "student_talk": 0.0, "talk": 0.0, "hand_raises": 0})
    for key, row in engagement.items():
        if row["session_status"] != "held":
            continue
        week = weekly[(key[0], week_start(utc_date(windows[key[:2]][0])))]
        week["talk"] += row["talk_seconds"]
        if row["person_type"] == "student":
            week["student_talk"] += row["talk_seconds"]
        if is_student_on_report(key):
            week["roster"].add(key[2])
            week["expected"] += 1
            if row["attended"]:
                week["present"] += 1
                week["tardy"] += session_attendance[key]["tardy"]
                week["hand_raises"] += row["hand_raises"]
    for class_id, session_id in windows:
        if status[(class_id, session_id)] == "held":
            weekly[(class_id, week_start(utc_date(windows[(class_id, session_id)][0])))]["sessions_held"] += 1
    class_weekly = {
        key: {
            "sessions_held": w["sessions_held"],
            "roster_size": len(w["roster"]),
            "attendance_rate": w["present"] / w["expected"] if w["expected"] else None,
            "tardy_rate": w["tardy"] / w["present"] if w["present"] else None,
            "student_talk_share": w["student_talk"] / w["talk"] if w["talk"] else None,
            "hand_raises_per_attendee": w["hand_raises"] / w["present"] if w["present"] else None,
        }
        for key, w in weekly.items()
    }
    schedule_start: dict[tuple[str, str], int] = {}
    for schedule in truth["schedules"]:
        session_id = matched.get(schedule["schedule_id"])
        if session_id is not None:
            schedule_start[(schedule["class_id"], session_id)] = schedule_ms(schedule["start_time"])
    teaching: dict[tuple, dict[str, Any]] = defaultdict(lambda: {
        "classes": set(), "sessions_taught": 0, "on_time_sessions": 0, "students_expected": 0, "students_present": 0})
    for key, row in engagement.items():
        if row["session_status"] != "held" or row["person_type"] != "staff" or not row["attended"]:
            continue
        week = teaching[(key[2], week_start(utc_date(windows[key[:2]][0])))]
        week["classes"].add(key[0])
        week["sessions_taught"] += 1
        joined = next((r["join_time"] for r in attendance if (r["class_id"], r["session_id"], r["student_id"]) == key), None)
        due = schedule_start.get(key[:2], windows[key[:2]][0])
        week["on_time_sessions"] += joined is not None and ms(joined) <= due
        students = [k for k in on_report if k[:2] == key[:2] and is_student_on_report(k)]
        week["students_expected"] += len(students)
        week["students_present"] += sum(on_report[k] for k in students)
    instructor_weekly = {
        key: {"classes_taught": len(w.pop("classes")), **w} for key, w in teaching.items()
    }
    staff_now = {key for key, value in current_role.items() if value in STAFF}
    instructors = {key[2] for key, row in engagement.items() if row["person_type"] == "staff"} | {p for _, p in staff_now}
    students = {key[2] for key, row in engagement.items() if row["person_type"] == "student"}
    students |= {p for (_, p), value in current_role.items() if value not in STAFF}
    return Expected(as_of, session_attendance, engagement, event_durations, summary, scheduled_sessions,
                    student_class_attendance, class_weekly, instructor_weekly, staff & staff_now, instructors, students)


# --- the warehouse --------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Timestamps as unix ms, decimals as floats: comparable across destinations."""
    if isinstance(value, datetime):
        return ms(value.astimezone(timezone.utc).isoformat())
    if isinstance(value, Decimal):
        return float(value)
    return value


@dataclass
class Loaded:
    destination: str
    query: Callable[[str], list[tuple[Any, ...]]]
    truth: dict[str, list[dict[str, Any]]]
    expected: Expected
    cases: Cases

    def mart(self, name: str, keys: tuple[str, ...], columns: tuple[str, ...]) -> dict[tuple, dict[str, Any]]:
        """The mart's rows by key; timestamps as unix ms. Fails on a repeated key."""
        rows = self.query(f'select {", ".join(keys + columns)} from "{self.dataset}"."{name}"')
        out: dict[tuple, dict[str, Any]] = {}
        for row in rows:
            row = tuple(map(_plain, row))
            key = tuple(row[: len(keys)])
            assert key not in out, f"{name}: key {key} repeats"
            out[key] = dict(zip(columns, row[len(keys):]))
        return out

    dataset: str = DATASET


def _duckdb_query(database: Path) -> Callable[[str], list[tuple[Any, ...]]]:
    def query(sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(database), read_only=True) as con:
            return con.execute(sql).fetchall()

    return query


def _postgres_query(user: str) -> Callable[[str], list[tuple[Any, ...]]]:
    import psycopg2

    def query(sql: str) -> list[tuple[Any, ...]]:
        connection = psycopg2.connect(host="127.0.0.1", port=5432, dbname="test", user=user)
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall()
        finally:
            connection.close()

    return query


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """`class-elt run` (models included) in a fresh working directory, as the `workdir` fixture sets one up."""
    destination = request.param
    workdir = tmp_path_factory.mktemp(f"models_emulator_{destination}")
    dataset = DATASET if destination == "duckdb" else f"models_emulator_{uuid.uuid4().hex[:8]}"
    emu, cases = make_school()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(workdir)
        monkeypatch.setenv("DLT_DATA_DIR", str(workdir / "dlt_data"))
        if destination == "duckdb":
            monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(workdir / DATABASE))
            query = _duckdb_query(workdir / DATABASE)
        else:
            user = postgres_user()
            if user is None:
                pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
            monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_url(user))
            query = _postgres_query(user)
        with emu.serve() as base_url:
            monkeypatch.setenv("SOURCES__CLASS_API__BASE_URL", base_url)
            monkeypatch.setenv("SOURCES__CLASS_API__API_KEY", emu.mint_key())
            try:
                assert main(["run", "--destination", destination, "--dataset-name", dataset]) == 0
                first_roster = emu.school.ground_truth()["enrollments"]
                change_roles(emu, cases)
                assert main(["run", "--destination", destination, "--dataset-name", dataset]) == 0
                truth = emu.school.ground_truth()  # the clock is frozen: exactly what was served
                yield Loaded(destination, query, truth, expected_marts(truth, first_roster), cases, dataset)
            finally:
                if destination == "postgres":
                    for schema in (dataset, f"{dataset}_staging"):
                        query_drop = f'drop schema if exists "{schema}" cascade'
                        _postgres_exec(user, query_drop)


def _postgres_exec(user: str, sql: str) -> None:
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", port=5432, dbname="test", user=user)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


def _close(expected: Any, actual: Any) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, float) or isinstance(actual, float):
        return math.isclose(float(expected), float(actual), rel_tol=1e-9, abs_tol=TOLERANCE)
    return expected == actual


def assert_rows_match(mart: str, expected: dict[tuple, dict[str, Any]], actual: dict[tuple, dict[str, Any]]) -> None:
    missing = sorted(set(expected) - set(actual), key=repr)
    extra = sorted(set(actual) - set(expected), key=repr)
    differing = [
        (key, column, expected[key][column], actual[key][column])
        for key in sorted(set(expected) & set(actual), key=repr)
        for column in expected[key]
        if not _close(expected[key][column], actual[key][column])
    ]
    assert not (missing or extra or differing), (
        f"{mart}: {len(missing)} rows missing (e.g. {missing[:3]}), {len(extra)} unexpected (e.g. {extra[:3]}), "
        f"{len(differing)} values differ (key, column, expected, mart), e.g. {differing[:5]}"
    )


def _total(rows: dict[tuple, dict[str, Any]], column: str) -> float:
    return sum(float(row[column]) for row in rows.values() if row[column] is not None)


def _columns(expected: dict[tuple, dict[str, Any]]) -> tuple[str, ...]:
    return tuple(next(iter(expected.values())))


# --- the checks -------------------------------------------------------------------------------------------


def test_the_school_exercises_every_rule(loaded: Loaded) -> None:
    """Guard the fixture: past and live sessions, never-joined students, events outside sessions,
    early joiners, staff on the reports, schedules ahead."""
    attendance = loaded.truth["attendance"]
    expected = loaded.expected
    assert len({r["class_id"] for r in attendance}) >= CLASSES - 2
    assert any(r["join_time"] is None for r in attendance)
    assert any(r["join_time"] is not None and r["leave_time"] is None for r in attendance), "no live session"
    assert any(r["tardy"] for r in attendance)
    assert any(key[1] is None for key in expected.event_durations)
    assert any(not row["on_attendance_roster"] for row in expected.engagement.values())
    assert {row["session_status"] for row in expected.session_attendance.values()} == {"held", "live"}
    assert {row["person_type"] for row in expected.session_attendance.values()} == {"student", "staff"}
    assert {row["session_status"] for row in expected.scheduled_sessions.values()} >= {"held", "live", "missed", "upcoming"}
    # undocumented events: a value the API gave as null, an empty value, an unknown type
    values = {(e["event_type"], e["event_value"]) for e in loaded.truth["metrics"]}
    assert {("RAISED_HAND", None), ("REACTION", ""), ("WAVING", "true")} <= values
    # the role changes: the promoted student was a student at their sessions, the demoted assistant staff
    for (class_id, person), at_sessions in ((loaded.cases.promoted, "student"), (loaded.cases.demoted, "staff")):
        rows = [row for key, row in expected.session_attendance.items() if key[::2] == (class_id, person)]
        assert rows and {row["person_type"] for row in rows} == {at_sessions}
    # events starting in the allowance before a session, and events clipped by a stay
    assert any(row["first_event_start"] < loaded.cases.session_start_ms for key, row in expected.event_durations.items()
               if key[:2] == (loaded.cases.injected_class, loaded.cases.injected_session))
    assert any(row["merged_seconds"] < row["total_seconds"] and row["islands"] == row["event_count"] == 1
               for row in expected.event_durations.values())
    assert any(row["is_chronically_absent"] for row in expected.student_class_attendance.values())


def test_session_attendance(loaded: Loaded) -> None:
    expected = loaded.expected.session_attendance
    actual = loaded.mart("fct_session_attendance", ("class_id", "session_id", "student_id"), _columns(expected))
    assert len(actual) == len(expected) == len(loaded.truth["attendance"])
    assert _total(actual, "attended_seconds") == pytest.approx(_total(expected, "attended_seconds"), abs=TOLERANCE)
    for column in ("present", "tardy"):
        assert sum(bool(r[column]) for r in actual.values()) == sum(r[column] for r in expected.values()), column
    live = [key for key, row in expected.items() if row["attended_seconds"] is None]
    assert live and all(actual[key]["attended_seconds"] is None for key in live)
    assert_rows_match("fct_session_attendance", expected, actual)


def test_student_engagement(loaded: Loaded) -> None:
    expected = loaded.expected.engagement
    actual = loaded.mart("fct_student_engagement", ("class_id", "session_id", "student_id"), _columns(expected))
    assert len(actual) == len(expected)
    for column in (*ENGAGEMENT_SECONDS.values(), "hand_raises", "reactions", "feedback_count", "events"):
        assert _total(actual, column) == pytest.approx(_total(expected, column), abs=1e-3), column
    assert max(row["stars"] or 0 for row in actual.values()) == 3
    assert_rows_match("fct_student_engagement", expected, actual)


def test_engaged_time_never_exceeds_attended_time(loaded: Loaded) -> None:
    rows = loaded.query(
        f'select count(*), sum(case when attended_seconds is not null then 1 else 0 end) from "{loaded.dataset}".'
        '"fct_student_engagement"'
    )
    assert rows[0][1] > 0
    over = loaded.query(
        f'select class_id, session_id, student_id from "{loaded.dataset}"."fct_student_engagement" where '
        + " or ".join(f"{column} > attended_seconds" for column in ENGAGEMENT_SECONDS.values())
    )
    assert over == []


def test_student_marts_hold_no_staff(loaded: Loaded) -> None:
    staff = loaded.expected.staff
    assert staff, "the school has teachers"
    per_class = loaded.query(f'select class_id, student_id from "{loaded.dataset}"."fct_student_class_attendance"')
    assert not {tuple(row) for row in per_class} & staff
    staff_only = loaded.expected.instructors - loaded.expected.students
    assert staff_only
    students = {row[0] for row in loaded.query(f'select student_id from "{loaded.dataset}"."dim_students"')}
    assert not students & staff_only
    assert loaded.expected.students <= students
    instructors = {row[0] for row in loaded.query(f'select instructor_id from "{loaded.dataset}"."dim_instructors"')}
    assert instructors == loaded.expected.instructors
    # the promoted student is an instructor now and a student at their sessions; the demoted assistant the reverse
    assert {loaded.cases.promoted[1], loaded.cases.demoted[1]} <= instructors & students


def test_event_durations(loaded: Loaded) -> None:
    expected = loaded.expected.event_durations
    actual = loaded.mart(
        "fct_event_durations",
        ("class_id", "session_id", "activity_date", "student_id", "event_type", "event_value"),
        _columns(expected),
    )
    assert sum(r["event_count"] for r in actual.values()) == len(loaded.truth["metrics"])

    def per_kind(rows: dict[tuple, dict[str, Any]]) -> dict[tuple, int]:
        counts: dict[tuple, int] = defaultdict(int)
        for (_, session_id, _, _, kind, value), row in rows.items():
            counts[(kind, value, session_id is None)] += row["event_count"]
        return dict(counts)

    # event counts per (type, value, outside every session?), the null-session rows included
    assert per_kind(actual) == per_kind(expected)
    assert_rows_match("fct_event_durations", expected, actual)


def test_class_summary(loaded: Loaded) -> None:
    expected = loaded.expected.class_summary
    actual = loaded.mart("agg_class_summary", ("class_id",), _columns(expected))
    regular = loaded.truth["classes"]
    assert sum(actual[(r["class_id"],)]["sessions_held"] + actual[(r["class_id"],)]["sessions_live"] for r in regular) == len(
        {(r["class_id"], r["session_id"]) for r in loaded.truth["attendance"]}
    )
    assert sum(r["students_enrolled"] for r in actual.values()) == sum(
        1 for r in loaded.truth["enrollments"] if r["role"] == "student"
    )
    assert_rows_match("agg_class_summary", expected, actual)


def test_scheduled_sessions(loaded: Loaded) -> None:
    expected = loaded.expected.scheduled_sessions
    actual = loaded.mart("fct_scheduled_sessions", ("schedule_id",), _columns(expected))
    assert len(actual) == len(loaded.truth["schedules"])
    assert_rows_match("fct_scheduled_sessions", expected, actual)


def test_student_class_attendance(loaded: Loaded) -> None:
    expected = loaded.expected.student_class_attendance
    actual = loaded.mart("fct_student_class_attendance", ("class_id", "student_id"), _columns(expected))
    assert_rows_match("fct_student_class_attendance", expected, actual)


def test_weekly_aggregates(loaded: Loaded) -> None:
    expected = loaded.expected.class_weekly
    actual = loaded.mart("agg_class_weekly", ("class_id", "week_start"), _columns(expected))
    # weeks with only live sessions or missed schedules have a row too, with nothing held
    assert all(row["sessions_held"] == 0 for key, row in actual.items() if key not in expected)
    assert_rows_match("agg_class_weekly", expected, {key: row for key, row in actual.items() if key in expected})
    expected = loaded.expected.instructor_weekly
    actual = loaded.mart("agg_instructor_weekly", ("instructor_id", "week_start"), _columns(expected))
    assert_rows_match("agg_instructor_weekly", expected, actual)


def test_hand_made_cases(loaded: Loaded) -> None:
    """Rows whose every figure is known without any computation."""
    cases = loaded.cases
    engagement = loaded.mart(
        "fct_student_engagement", ("class_id", "session_id", "student_id"),
        ("on_attendance_roster", "attended", "talk_seconds", "hand_raises", "reactions", "feedback_count", "stars", "events"),
    )
    assert engagement[(cases.injected_class, cases.injected_session, cases.outsider)] == {
        "on_attendance_roster": False, "attended": True,
        "talk_seconds": pytest.approx(120.0),  # 600-710 s merged (overlap and touch) + 800-810 s
        "hand_raises": 1, "reactions": 0, "feedback_count": 1, "stars": 3, "events": 7,
    }
    durations = loaded.mart(
        "fct_event_durations", ("class_id", "session_id", "activity_date", "student_id", "event_type", "event_value"),
        ("event_count", "total_seconds", "merged_seconds", "islands", "first_event_start", "last_event_start"),
    )
    outsider = {(k[1], k[4], k[5]): v for k, v in durations.items() if k[0] == cases.injected_class and k[3] == cases.outsider}
    s, e, session = cases.session_start_ms, cases.session_end_ms, cases.injected_session
    assert outsider == {
        (session, "IS_TALKING", "true"): {"event_count": 4, "total_seconds": pytest.approx(150.0),
                                          "merged_seconds": pytest.approx(120.0), "islands": 2,
                                          "first_event_start": s + 600_000, "last_event_start": s + 800_000},
        (session, "FEEDBACK", "like"): {"event_count": 1, "total_seconds": pytest.approx(10.0), "merged_seconds": pytest.approx(10.0),
                                        "islands": 1, "first_event_start": s, "last_event_start": s},
        # e-1 .. e+2000: whole 2.001 s, counted up to the session end: 0.001 s
        (session, "STARS", "3"): {"event_count": 1, "total_seconds": pytest.approx(2.001), "merged_seconds": pytest.approx(0.001),
                                  "islands": 1, "first_event_start": e - 1, "last_event_start": e - 1},
        # s-1 .. s+5000: in the allowance, counted from the start (not on the report: the window)
        (session, "RAISED_HAND", "1"): {"event_count": 1, "total_seconds": pytest.approx(5.001), "merged_seconds": pytest.approx(5.0),
                                        "islands": 1, "first_event_start": s - 1, "last_event_start": s - 1},
        (None, "REACTION", "clap"): {"event_count": 1, "total_seconds": pytest.approx(3.0), "merged_seconds": pytest.approx(3.0),
                                     "islands": 1, "first_event_start": e, "last_event_start": e},
        (None, "IS_VIDEO_ON", "true"): {"event_count": 1, "total_seconds": pytest.approx(4.001),
                                        "merged_seconds": pytest.approx(4.001), "islands": 1,
                                        "first_event_start": s - ALLOWANCE_MS - 1, "last_event_start": s - ALLOWANCE_MS - 1},
    }
    # overlapping sessions: nothing starting once the later session has begun stays in the earlier one
    earlier = [v for k, v in durations.items() if k[0] == cases.overlap_class and k[1] == cases.overlapped_session]
    later = [v for k, v in durations.items() if k[0] == cases.overlap_class and k[1] == cases.overlapping_session]
    assert earlier and later
    assert max(v["last_event_start"] for v in earlier) < cases.overlapping_start_ms
    assert min(v["first_event_start"] for v in later) >= cases.overlapping_start_ms - ALLOWANCE_MS
