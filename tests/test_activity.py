"""Which classes an incremental run asks for attendance and metrics (issue 16, point 1).

The rule (class_source/activity.py, README "Which classes a run asks"): a class read before is asked
again only if one of its schedule entries, from an hour before its start to an hour after its end,
overlaps the time since its last read. These tests check the rule's arithmetic
by hand, and then, on the emulator, what it must never do: skip a class that has anything new.
"What is new" comes from two ground-truth snapshots of the emulator, not from the rule.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

import duckdb
import pytest

from class_source.activity import ActivityRule, meetings_of
from class_source.cli import main
from class_source.emulator import Emulator
from class_source.emulator.readings import ApiReadings
from tests.support import assert_matches_truth, truth_keys, warehouse_rows
from tests.test_cli import point_at

DATABASE = "warehouse.duckdb"
RUN = ["run", "--no-models"]
HOUR, DAY = 3600, 86400

# --- the rule's arithmetic, by hand ----------------------------------------------------------------

NOW = 1_000_000_000
RULE = ActivityRule(now_s=NOW, recheck_s=7 * DAY)
LAST_READ = NOW - DAY  # the previous run, a day ago
EARLIEST_END = LAST_READ - HOUR  # a meeting that ended an hour before the last read may have run over


@pytest.mark.parametrize(
    ("meetings", "asked"),
    [
        ([], False),  # no schedule at all
        ([(EARLIEST_END - 2 * HOUR, EARLIEST_END - 1)], False),  # ended a second too early to matter
        ([(EARLIEST_END - 2 * HOUR, EARLIEST_END)], True),  # it may have run over past the last read
        ([(LAST_READ + HOUR, LAST_READ + 2 * HOUR)], True),  # met between the two runs
        ([(NOW + HOUR, NOW + 2 * HOUR)], True),  # starts within the hour: early joiners may be in already
        ([(NOW + HOUR + 1, NOW + 2 * HOUR)], False),  # starts later than that
        ([(EARLIEST_END - 9 * DAY, EARLIEST_END - 8 * DAY), (NOW + 3 * DAY, NOW + 3 * DAY + HOUR)], False),  # before and after
    ],
)
def test_a_class_is_asked_when_a_schedule_entry_overlaps_the_time_since_its_last_read(meetings, asked):
    assert RULE.needs_reading(LAST_READ, meetings) is asked


def test_whatever_the_rule_cannot_tell_is_asked():
    idle: list[tuple[int, int]] = []
    assert RULE.needs_reading(None, idle)  # never read: a new class, or the first run
    assert RULE.needs_reading(LAST_READ, None)  # schedules unreadable
    assert RULE.needs_reading(NOW - 7 * DAY, idle)  # unread for recheck_s: asked whatever its schedule says
    assert not RULE.needs_reading(NOW - 7 * DAY + 1, idle)
    assert RULE.needs_reading(NOW + 1, idle)  # the API's clock went back
    assert ActivityRule(now_s=NOW, recheck_s=None).needs_reading(LAST_READ, idle)  # recheck_days = 0


def test_only_a_well_formed_schedules_answer_gives_meetings():
    assert meetings_of([{"start_time": 10, "end_time": 20}, {"start_time": 30, "end_time": 25}]) == [(10, 20), (30, 30)]
    assert meetings_of([]) == []
    for broken in ({"start_time": 1}, [{"start_time": "10", "end_time": 20}], [{"start_time": True, "end_time": 2}], [None]):
        assert meetings_of(broken) is None


# --- on the emulator -------------------------------------------------------------------------------


def _asked(emulator: Emulator, endpoint: str) -> set[str]:
    return {parse_qs(e.query)["class_id"][0] for e in emulator.request_log.entries if e.endpoint == f"GET /api/v1/{endpoint}"}


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _attendance_rows(truth: dict[str, list[dict[str, Any]]]) -> set[tuple[Any, ...]]:
    def at(value: Any) -> Any:
        return None if value is None else _ms(value)

    return {
        (r["class_id"], r["session_id"], r["student_id"], r["present"], r["tardy"], at(r["join_time"]), at(r["leave_time"]))
        for r in truth["attendance"]
    }


def _warehouse_attendance(database: Any) -> set[tuple[Any, ...]]:
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute(
            "select class_id, session_id, student_id, present, tardy, epoch_ms(join_time), epoch_ms(leave_time) from class_data.attendance"
        ).fetchall()
    return set(rows)


def _changed_classes(before: Iterable[tuple[Any, ...]], after: Iterable[tuple[Any, ...]]) -> set[str]:
    return {row[0] for row in set(before) ^ set(after)}


def test_an_incremental_run_asks_only_classes_with_something_new_and_loads_exactly(workdir, monkeypatch, capsys):
    emulator = Emulator(seed=41, classes=16)
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        assert main(RUN) == 0
        before = emulator.school.ground_truth()
        first_read = emulator.clock.now
        emulator.request_log.reset()
        emulator.clock.advance(DAY)  # one school day: some classes meet, most do not
        capsys.readouterr()
        assert main(RUN) == 0
        after = emulator.school.ground_truth()
    summary = capsys.readouterr().out
    regular = {c["class_id"] for c in after["classes"]}
    asked_metrics, asked_attendance = _asked(emulator, "reporting/metrics"), _asked(emulator, "reporting/attendance")

    # nothing new is missed: every class with an event that became visible, or an attendance row
    # that appeared or changed, since the first run was asked (computed from the two snapshots)
    new_events = {e["class_id"] for e in after["metrics"] if _ms(e["event_end"]) > first_read * 1000}
    assert new_events <= asked_metrics
    assert _changed_classes(_attendance_rows(before), _attendance_rows(after)) <= asked_attendance
    # and the saving is real: classes without a meeting were not asked (one request each for rosters and schedules)
    assert asked_metrics == asked_attendance
    assert 0 < len(asked_metrics) < len(regular)
    for resource in ("attendance", "metrics"):  # the run says so
        assert f"{resource}: asked {len(asked_metrics)} of {len(regular)} classes" in summary, summary
    # and a class with no schedule entry within an hour of the time between the runs was not asked
    second_read = emulator.clock.now
    near = {r["class_id"] for r in after["schedules"] if r["start_time"] - HOUR <= second_read and r["end_time"] + HOUR >= first_read}
    assert not asked_metrics - near
    schedule_requests = [e for e in emulator.request_log.entries if e.endpoint == "GET /api/v1/schedules"]
    assert len(schedule_requests) == len(regular) + len(after["deferred_classes"])  # once per class, read by the rule too

    assert_matches_truth(workdir / DATABASE, after)
    assert _warehouse_attendance(workdir / DATABASE) == _attendance_rows(after)  # every value current, not only the keys

    # the edges the allowances exist for were in the data the run had to find
    sessions = {(r["class_id"], r["session_id"]): (_ms(r["session_start_time"]), _ms(r["session_end_time"])) for r in after["attendance"]}
    new_attendance = [r for r in after["attendance"] if r["join_time"] and _ms(r["join_time"]) > (first_read - DAY) * 1000]
    assert any(_ms(r["join_time"]) < sessions[r["class_id"], r["session_id"]][0] for r in new_attendance)  # early joiners
    assert any(r["leave_time"] and _ms(r["leave_time"]) > sessions[r["class_id"], r["session_id"]][1] for r in new_attendance)  # stayed late


def test_a_class_meeting_off_its_schedule_is_late_by_at_most_recheck_days_never_lost(workdir, monkeypatch):
    emulator = Emulator(seed=43, classes=6)
    school = emulator.school
    first_read = emulator.clock.now
    quiet = school.class_ids()[1]
    # the class's schedule ends before the first run: a later session of it is off its schedule
    for start, _end, schedule_id in list(school._class(quiet).schedules):
        if start > first_read - 2 * DAY:
            school.delete_schedule(schedule_id)
    student = next(r for r in school.ground_truth()["enrollments"] if r["class_id"] == quiet)
    off_schedule = _event(student, start=first_read + 2 * HOUR, end=first_read + 3 * HOUR)
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key(), recheck_days=2)
        assert main(RUN) == 0
        school.add_events(quiet, [off_schedule])
        emulator.clock.advance(DAY)
        assert main(RUN) == 0
        key = (quiet, off_schedule["student_id"], "PRESENTING", _iso_ms(off_schedule["event_start"]), "true")
        assert key not in set(warehouse_rows(workdir / DATABASE, "metrics"))  # not asked: the rule trusted the schedule
        emulator.clock.advance(DAY + HOUR)  # two days since the class's last read: recheck_days
        assert main(RUN) == 0
        truth = school.ground_truth()
    assert key in set(warehouse_rows(workdir / DATABASE, "metrics"))
    assert_matches_truth(workdir / DATABASE, truth)


@pytest.mark.parametrize(
    ("readings", "options"),
    [(ApiReadings(server_date=False), {}), (ApiReadings(), {"recheck_days": 0})],
    ids=["the API sends no clock", "recheck_days = 0"],
)
def test_every_class_is_asked_every_run_when_the_rule_is_off_or_blind(workdir, monkeypatch, readings, options):
    emulator = Emulator(seed=44, classes=5, readings=readings)
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key(), **options)
        assert main(RUN) == 0
        emulator.request_log.reset()
        emulator.clock.advance(DAY)
        assert main(RUN) == 0
        truth = emulator.school.ground_truth()
    regular = {c["class_id"] for c in truth["classes"]}
    assert _asked(emulator, "reporting/metrics") == _asked(emulator, "reporting/attendance") == regular
    assert_matches_truth(workdir / DATABASE, truth)


def test_a_deleted_class_loses_its_attendance_and_the_others_keep_theirs(workdir, monkeypatch):
    emulator = Emulator(seed=45, classes=6)
    school = emulator.school
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        assert main(RUN) == 0
        gone = school.class_ids()[2]
        assert gone in {k[0] for k in warehouse_rows(workdir / DATABASE, "attendance")}
        school.delete_class(school._class(gone))
        emulator.request_log.reset()
        emulator.clock.advance(HOUR)
        assert main(RUN) == 0
        truth = school.ground_truth()
    assert gone not in _asked(emulator, "reporting/attendance")  # its rows went without asking
    assert_matches_truth(workdir / DATABASE, truth, tables=("classes", "attendance"))
    assert truth_keys(truth, "attendance")  # the other classes' rows are there, not only gone's gone


def _iso_ms(iso: str) -> str:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(timezone.utc).isoformat(timespec="milliseconds")


def _event(student: dict[str, Any], *, start: int, end: int) -> dict[str, Any]:
    def iso(second: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(second))

    return {
        "student_id": student["student_id"],
        "email": student.get("email"),
        "ext_person_id": student.get("ext_person_id"),
        "event_start": iso(start),
        "event_end": iso(end),
        "event_duration": (end - start) * 1000,
        "event_type": "PRESENTING",
        "event_value": "true",
    }
