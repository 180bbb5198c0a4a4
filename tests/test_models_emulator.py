"""The marts of a real `class-elt run` against the emulator, checked against figures computed here.

A seeded emulator school (past sessions, one class live at the default clock) is loaded end to end
with `class-elt run`, which builds the models. Every expected value is computed in plain Python
from `emu.school.ground_truth()` — what the API serves — following the rules written in the model
headers and sql/README.md, never from the warehouse's raw tables and never by re-running SQL:

- session of an event: the attendance session of its class whose window [start, end) holds the
  event's start (latest start wins where sessions overlap), else none;
- merged time: length of the union of a group's intervals; islands: stretches left after merging;
- attended_seconds: join -> leave clipped to the session window, 0 if never joined, null while the
  student has no leave_time (live session).

Before the load the school gets a few hand-made cases the generator does not produce on its own:
an overlapping session (latest start wins), events exactly on session boundaries, overlapping
IS_TALKING events (merging), and a person with events in a session whose roster they are not on.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import duckdb
import pytest

from class_source.cli import main
from class_source.emulator import Emulator

SEED, CLASSES = 3, 8
DATASET = "class_data"
DATABASE = "warehouse.duckdb"
TOLERANCE = 1e-6  # seconds: the marts divide integer milliseconds by 1000.0

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


def _past_session(truth: dict[str, list[dict[str, Any]]], class_id: str, index: int) -> dict[str, Any]:
    sessions = sorted(
        {(r["session_start_time"], r["session_end_time"], r["session_id"]) for r in truth["attendance"] if r["class_id"] == class_id}
    )
    start, end, session_id = sessions[index]
    return {"session_id": session_id, "start": ms(start), "end": ms(end)}


def make_school() -> tuple[Emulator, Cases]:
    emu = Emulator(seed=SEED, classes=CLASSES)
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
        event(outsider, e - 1, e + 2_000, "STARS", "3"),  # last millisecond, runs past the end: inside, whole
        event(outsider, e, e + 3_000, "REACTION", "clap"),  # starts exactly at the end: outside
        event(outsider, s - 1, s + 5_000, "RAISED_HAND", "1"),  # one millisecond early: outside
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


# --- expected marts, from the ground truth ------------------------------------------------------------


@dataclass
class Expected:
    session_attendance: dict[tuple, dict[str, Any]]
    engagement: dict[tuple, dict[str, Any]]
    event_durations: dict[tuple, dict[str, Any]]
    class_summary: dict[str, dict[str, Any]]


def expected_marts(truth: dict[str, list[dict[str, Any]]]) -> Expected:
    # sessions: one window per (class, session), as every attendance row repeats it
    windows: dict[tuple[str, str], tuple[int, int]] = {}
    for row in truth["attendance"]:
        window = (ms(row["session_start_time"]), ms(row["session_end_time"]))
        assert windows.setdefault((row["class_id"], row["session_id"]), window) == window
    sessions_of: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for (class_id, session_id), (start, end) in windows.items():
        sessions_of[class_id].append((start, end, session_id))

    def session_of(class_id: str, at: int) -> Optional[str]:
        holding = [(start, session_id) for start, end, session_id in sessions_of.get(class_id, ()) if start <= at < end]
        if not holding:
            return None
        latest = max(start for start, _ in holding)
        return min(session_id for start, session_id in holding if start == latest)

    current_roster = {(r["class_id"], r["student_id"]) for r in truth["enrollments"]}

    # fct_session_attendance
    session_attendance = {}
    for row in truth["attendance"]:
        start, end = windows[(row["class_id"], row["session_id"])]
        if row["join_time"] is None:
            attended = 0.0
        elif row["leave_time"] is None:
            attended = None
        else:
            attended = max(min(ms(row["leave_time"]), end) - max(ms(row["join_time"]), start), 0) / 1000
        session_attendance[(row["class_id"], row["session_id"], row["student_id"])] = {
            "present": row["present"],
            "tardy": row["tardy"],
            "is_enrolled": (row["class_id"], row["student_id"]) in current_roster,
            "session_seconds": (end - start) / 1000,
            "attended_seconds": attended,
        }

    # events, grouped by (class, session or None, student, type, value)
    groups: dict[tuple, list[tuple[int, int]]] = defaultdict(list)
    for event in truth["metrics"]:
        start, end = ms(event["event_start"]), ms(event["event_end"])
        session_id = session_of(event["class_id"], start)
        groups[(event["class_id"], session_id, event["student_id"], event["event_type"], event["event_value"])].append((start, end))

    event_durations = {}
    for key, intervals in groups.items():
        merged, islands = union(intervals)
        event_durations[key] = {
            "event_count": len(intervals),
            "total_seconds": sum(max(end - start, 0) for start, end in intervals) / 1000,
            "merged_seconds": merged / 1000,
            "islands": islands,
            "first_event_start": min(start for start, _ in intervals),
            "last_event_start": max(start for start, _ in intervals),
            "last_event_end": max(end for _, end in intervals),
        }

    # fct_student_engagement: roster rows plus anyone with events in the session
    on_roster = {(r["class_id"], r["session_id"], r["student_id"]): r["present"] for r in truth["attendance"]}
    engagement: dict[tuple, dict[str, Any]] = {}

    def engagement_row(key: tuple) -> dict[str, Any]:
        if key not in engagement:
            engagement[key] = {
                "on_attendance_roster": key in on_roster,
                "attended": bool(on_roster.get(key, True)),
                **{column: 0.0 for column in ENGAGEMENT_SECONDS.values()},
                "hand_raises": 0, "reactions": 0, "feedback_count": 0, "stars": None, "events": 0,
            }
        return engagement[key]

    for key in on_roster:
        engagement_row(key)
    for (class_id, session_id, student_id, kind, value), intervals in groups.items():
        if session_id is None:
            continue
        row = engagement_row((class_id, session_id, student_id))
        row["events"] += len(intervals)
        if kind in ENGAGEMENT_SECONDS and value == "true":
            row[ENGAGEMENT_SECONDS[kind]] += union(intervals)[0] / 1000
        elif kind == "RAISED_HAND" and value == "1":
            row["hand_raises"] += len(intervals)
        elif kind == "REACTION":
            row["reactions"] += len(intervals)
        elif kind == "FEEDBACK":
            row["feedback_count"] += len(intervals)
        elif kind == "STARS" and value in ("0", "1", "2", "3"):
            row["stars"] = max(int(value), row["stars"] if row["stars"] is not None else -1)

    # agg_class_summary: one row per class known anywhere
    class_ids = (
        {r["class_id"] for r in truth["classes"]} | {r["class_id"] for r in truth["deferred_classes"]}
        | {r["class_id"] for r in truth["enrollments"]} | {r["class_id"] for r in truth["schedules"]}
        | {r["class_id"] for r in truth["attendance"]}
    )
    regular = {r["class_id"] for r in truth["classes"]}
    deferred = {r["class_id"] for r in truth["deferred_classes"]}
    summary = {}
    for class_id in class_ids:
        held = [key for key in windows if key[0] == class_id]
        rates = []
        for _, session_id in held:
            rows = [r for r in truth["attendance"] if r["class_id"] == class_id and r["session_id"] == session_id]
            rates.append(sum(r["present"] for r in rows) / len(rows))
        attendees = [row for key, row in engagement.items() if key[0] == class_id and row["attended"] and row["on_attendance_roster"]]
        summary[class_id] = {
            "class_status": "regular" if class_id in regular else "deferred" if class_id in deferred else "unlisted",
            "sessions_scheduled": sum(1 for r in truth["schedules"] if r["class_id"] == class_id),
            "sessions_held": len(held),
            "students_enrolled": sum(1 for r in truth["enrollments"] if r["class_id"] == class_id and (r["role"] or "student") == "student"),
            "avg_attendance_rate": sum(rates) / len(rates) if rates else None,
            "attendee_sessions": len(attendees),
            "total_talk_minutes": sum(row["talk_seconds"] for row in attendees) / 60,
        }
    return Expected(session_attendance, engagement, event_durations, summary)


# --- the warehouse --------------------------------------------------------------------------------------


@dataclass
class Loaded:
    database: Path
    truth: dict[str, list[dict[str, Any]]]
    expected: Expected
    cases: Cases

    def mart(self, name: str, keys: tuple[str, ...], columns: tuple[str, ...]) -> dict[tuple, dict[str, Any]]:
        """The mart's rows by key; timestamps as unix ms. Fails on a repeated key."""
        select = ", ".join(
            f"epoch_ms({c}) as {c}" if c.startswith(("first_", "last_")) else c for c in keys + columns
        )
        with duckdb.connect(str(self.database), read_only=True) as con:
            rows = con.execute(f'select {select} from "{DATASET}"."{name}"').fetchall()
        out: dict[tuple, dict[str, Any]] = {}
        for row in rows:
            key = tuple(row[: len(keys)])
            assert key not in out, f"{name}: key {key} repeats"
            out[key] = dict(zip(columns, row[len(keys):]))
        return out


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """`class-elt run` (models included) in a fresh working directory, as the `workdir` fixture sets one up."""
    workdir = tmp_path_factory.mktemp("models_emulator")
    emu, cases = make_school()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(workdir)
        monkeypatch.setenv("DLT_DATA_DIR", str(workdir / "dlt_data"))
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(workdir / DATABASE))
        with emu.serve() as base_url:
            monkeypatch.setenv("SOURCES__CLASS_API__BASE_URL", base_url)
            monkeypatch.setenv("SOURCES__CLASS_API__API_KEY", emu.mint_key())
            assert main(["run"]) == 0
            truth = emu.school.ground_truth()  # the clock is frozen: exactly what was served
    yield Loaded(workdir / DATABASE, truth, expected_marts(truth), cases)


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


# --- the checks -------------------------------------------------------------------------------------------


def test_the_school_exercises_every_rule(loaded: Loaded) -> None:
    """Guard the fixture: past and live sessions, never-joined students, events outside sessions."""
    attendance = loaded.truth["attendance"]
    assert len({r["class_id"] for r in attendance}) >= CLASSES - 2
    assert any(r["join_time"] is None for r in attendance)
    assert any(r["join_time"] is not None and r["leave_time"] is None for r in attendance), "no live session"
    assert any(r["tardy"] for r in attendance)
    assert any(key[1] is None for key in loaded.expected.event_durations)
    assert any(not row["on_attendance_roster"] for row in loaded.expected.engagement.values())


def test_session_attendance(loaded: Loaded) -> None:
    expected = loaded.expected.session_attendance
    actual = loaded.mart(
        "fct_session_attendance", ("class_id", "session_id", "student_id"),
        ("present", "tardy", "is_enrolled", "session_seconds", "attended_seconds"),
    )
    assert len(actual) == len(expected) == len(loaded.truth["attendance"])
    assert _total(actual, "attended_seconds") == pytest.approx(_total(expected, "attended_seconds"), abs=TOLERANCE)
    for column in ("present", "tardy"):
        assert sum(bool(r[column]) for r in actual.values()) == sum(r[column] for r in expected.values()), column
    live = [key for key, row in expected.items() if row["attended_seconds"] is None]
    assert live and all(actual[key]["attended_seconds"] is None for key in live)
    assert_rows_match("fct_session_attendance", expected, actual)


def test_student_engagement(loaded: Loaded) -> None:
    expected = loaded.expected.engagement
    columns = tuple(next(iter(expected.values())))
    actual = loaded.mart("fct_student_engagement", ("class_id", "session_id", "student_id"), columns)
    assert len(actual) == len(expected)
    for column in (*ENGAGEMENT_SECONDS.values(), "hand_raises", "reactions", "feedback_count", "events"):
        assert _total(actual, column) == pytest.approx(_total(expected, column), abs=1e-3), column
    assert max(row["stars"] or 0 for row in actual.values()) == 3
    assert_rows_match("fct_student_engagement", expected, actual)


def test_event_durations(loaded: Loaded) -> None:
    expected = loaded.expected.event_durations
    columns = tuple(next(iter(expected.values())))
    actual = loaded.mart(
        "fct_event_durations", ("class_id", "session_id", "student_id", "event_type", "event_value"), columns
    )
    assert sum(r["event_count"] for r in actual.values()) == len(loaded.truth["metrics"])

    def per_kind(rows: dict[tuple, dict[str, Any]]) -> dict[tuple, int]:
        counts: dict[tuple, int] = defaultdict(int)
        for (_, session_id, _, kind, value), row in rows.items():
            counts[(kind, value, session_id is None)] += row["event_count"]
        return dict(counts)

    # event counts per (type, value, outside every session?), the null-session bucket included
    assert per_kind(actual) == per_kind(expected)
    assert_rows_match("fct_event_durations", expected, actual)


def test_class_summary(loaded: Loaded) -> None:
    expected = {(k,): v for k, v in loaded.expected.class_summary.items()}
    columns = tuple(next(iter(expected.values())))
    actual = loaded.mart("agg_class_summary", ("class_id",), columns)
    regular = loaded.truth["classes"]
    assert sum(actual[(r["class_id"],)]["sessions_held"] for r in regular) == len(
        {(r["class_id"], r["session_id"]) for r in loaded.truth["attendance"]}
    )
    assert sum(r["students_enrolled"] for r in actual.values()) == sum(
        1 for r in loaded.truth["enrollments"] if r["role"] == "student"
    )
    assert_rows_match("agg_class_summary", expected, actual)


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
        "hand_raises": 0, "reactions": 0, "feedback_count": 1, "stars": 3, "events": 6,
    }
    durations = loaded.mart(
        "fct_event_durations", ("class_id", "session_id", "student_id", "event_type", "event_value"),
        ("event_count", "total_seconds", "merged_seconds", "islands", "first_event_start", "last_event_start"),
    )
    outsider = {(k[1], k[3], k[4]): v for k, v in durations.items() if k[0] == cases.injected_class and k[2] == cases.outsider}
    s, e, session = cases.session_start_ms, cases.session_end_ms, cases.injected_session
    assert outsider == {
        (session, "IS_TALKING", "true"): {"event_count": 4, "total_seconds": pytest.approx(150.0),
                                          "merged_seconds": pytest.approx(120.0), "islands": 2,
                                          "first_event_start": s + 600_000, "last_event_start": s + 800_000},
        (session, "FEEDBACK", "like"): {"event_count": 1, "total_seconds": pytest.approx(10.0), "merged_seconds": pytest.approx(10.0),
                                        "islands": 1, "first_event_start": s, "last_event_start": s},
        (session, "STARS", "3"): {"event_count": 1, "total_seconds": pytest.approx(2.001), "merged_seconds": pytest.approx(2.001),
                                  "islands": 1, "first_event_start": e - 1, "last_event_start": e - 1},
        (None, "REACTION", "clap"): {"event_count": 1, "total_seconds": pytest.approx(3.0), "merged_seconds": pytest.approx(3.0),
                                     "islands": 1, "first_event_start": e, "last_event_start": e},
        (None, "RAISED_HAND", "1"): {"event_count": 1, "total_seconds": pytest.approx(5.001), "merged_seconds": pytest.approx(5.001),
                                     "islands": 1, "first_event_start": s - 1, "last_event_start": s - 1},
    }
    # overlapping sessions: nothing starting once the later session has begun stays in the earlier one
    earlier = [v for k, v in durations.items() if k[0] == cases.overlap_class and k[1] == cases.overlapped_session]
    later = [v for k, v in durations.items() if k[0] == cases.overlap_class and k[1] == cases.overlapping_session]
    assert earlier and later
    assert max(v["last_event_start"] for v in earlier) < cases.overlapping_start_ms
    assert min(v["first_event_start"] for v in later) >= cases.overlapping_start_ms
