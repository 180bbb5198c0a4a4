"""The synthetic school: determinism, the clock, the mess real data has, volumes, writes and truth."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pytest

from class_source.emulator import EVENT_VALUES, Emulator, default_now
from class_source.emulator import school as school_module
from class_source.emulator.activity import reported_duration
from class_source.emulator.timefmt import iso_ms, parse_iso_ms
from emulator_helpers import Api, ok

DAY = 86_400


def _ms(iso: str) -> int:
    return parse_iso_ms(iso)


def _all_responses(emu: Emulator) -> list[bytes]:
    """Raw bytes of a broad set of GET responses."""
    api = Api(emu, secret=emu.mint_key(secret="fixed-secret-for-determinism"))
    try:
        out = []
        for path, params in [("/classes", {}), ("/classes", {"deferred": "true"}), ("/users", {}),
                             ("/users", {"page": 2, "limit": 3}), ("/templates", {})]:
            out.append(api.get(path, **params).content)
        for class_id in emu.school.class_ids() + emu.school.deferred_class_ids():
            for path, params in [("/class/enrollments", {}), ("/schedules", {}), ("/reporting/attendance", {}),
                                 ("/reporting/metrics", {"limit": 1000}), ("/reporting/metrics", {"starting_after": emu.clock.now - 3 * DAY})]:
                out.append(api.get(path, class_id=class_id, **params).content)
        first_class = emu.school.class_ids()[0]
        student = next(e for e in emu.school.enrollments(emu.school.classes[first_class]) if e["email"])
        out.append(api.get("/class/enrollments/launch", class_id=first_class, email=student["email"]).content)
        return out
    finally:
        api.close()


def test_same_seed_gives_byte_identical_responses() -> None:
    first, second = _all_responses(Emulator(seed=9, classes=12)), _all_responses(Emulator(seed=9, classes=12))
    assert len(first) > 60 and not [body for body in first if b'"error"' in body or not body]
    assert first == second
    other = _all_responses(Emulator(seed=10, classes=12))
    assert other[0] != first[0]


def test_a_later_clock_only_adds_sessions_attendance_and_events() -> None:
    early, late = Emulator(seed=4, classes=12), Emulator(seed=4, classes=12)
    late.clock.advance(9 * DAY + 3 * 3600)
    a, b = early.school.ground_truth(), late.school.ground_truth()
    for table in ("classes", "deferred_classes", "users", "templates", "enrollments", "schedules"):
        assert a[table] == b[table], table
    # every event visible earlier is still there, identical; many more are visible later
    later_events = {tuple(e.items()) for e in b["metrics"]}
    assert not [e for e in a["metrics"] if tuple(e.items()) not in later_events]
    assert len(b["metrics"]) > len(a["metrics"]) * 1.3
    # sessions over by the early clock are identical; later only more sessions (or more joins/leaves)
    settled = early.clock.now - 3600
    rows_a = {(r["class_id"], r["session_id"], r["student_id"]): r for r in a["attendance"]}
    rows_b = {(r["class_id"], r["session_id"], r["student_id"]): r for r in b["attendance"]}
    assert set(rows_a) <= set(rows_b) and len(rows_b) > len(rows_a)
    for key, row in rows_a.items():
        if _ms(row["session_end_time"]) <= settled * 1000:
            assert rows_b[key] == row
        else:  # live earlier: times only ever appear
            assert all(row[f] is None or row[f] == rows_b[key][f] for f in ("join_time", "leave_time"))


def test_before_the_term_there_is_no_activity() -> None:
    emu = Emulator(seed=4, classes=5)
    emu.clock.set(emu.shape.term_start - DAY)
    truth = emu.school.ground_truth()
    assert truth["attendance"] == [] and truth["metrics"] == []
    assert truth["schedules"] and truth["enrollments"]


def test_default_clock_is_mid_term_with_a_live_session(emu: Emulator) -> None:
    now = emu.clock.now
    assert now == default_now(emu.shape.term_start) == emu.shape.term_start + 30 * DAY + 16 * 3600 + 1800
    schedules = emu.school.ground_truth()["schedules"]
    past = [s for s in schedules if s["end_time"] <= now]
    live = [s for s in schedules if s["start_time"] <= now < s["end_time"]]
    future = [s for s in schedules if s["start_time"] > now]
    assert past and live and len(future) > len(past)


def test_events_appear_once_they_end_and_attendance_once_sessions_start(emu: Emulator) -> None:
    class_id = emu.school.class_ids()[0]  # its Mon/Wed 16:00-17:30 session is live at the default clock
    now = emu.clock.now
    visible = list(emu.school.iter_metrics(class_id))
    assert all(_ms(e["event_end"]) <= now * 1000 for e in visible)
    attendance = emu.school.attendance(emu.school.classes[class_id])
    live = attendance["sessions"][-1]
    assert _ms(live["start_time"]) <= now * 1000 < _ms(live["end_time"])
    assert any(s["present"] and s["leave_time"] is None for s in live["students"])  # still in the session
    emu.clock.advance(2 * 3600)
    later = list(emu.school.iter_metrics(class_id))
    assert visible == later[: len(visible)] or set(map(str, visible)) <= set(map(str, later))
    newly = [e for e in later if e not in visible]
    assert newly and all(now * 1000 < _ms(e["event_end"]) <= (now + 7200) * 1000 for e in newly)
    settled = emu.school.attendance(emu.school.classes[class_id])["sessions"][len(attendance["sessions"]) - 1]
    assert all(s["leave_time"] is not None for s in settled["students"] if s["present"])


def test_attendance_is_consistent_with_the_schedule(emu: Emulator) -> None:
    now = emu.clock.now
    for class_id in emu.school.class_ids():
        cls = emu.school.classes[class_id]
        body = emu.school.attendance(cls)
        started = [s for s in emu.school.schedules(cls) if s["start_time"] <= now]
        assert [(_ms(s["start_time"]) // 1000, _ms(s["end_time"]) // 1000) for s in body["sessions"]] == \
               [(s["start_time"], s["end_time"]) for s in started]
        assert len({s["session_id"] for s in body["sessions"]}) == len(body["sessions"])
        roster = {e["student_id"] for e in emu.school.enrollments(cls)}
        for session in body["sessions"]:
            start = _ms(session["start_time"])
            assert {s["student_id"] for s in session["students"]} == roster  # everyone was enrolled before the term
            for s in session["students"]:
                assert s["present"] == (s["join_time"] is not None)
                assert s["tardy"] == (s["present"] and _ms(s["join_time"]) > start + 300_000)
                if s["join_time"]:
                    assert _ms(s["join_time"]) <= now * 1000
                if s["leave_time"]:
                    assert _ms(s["join_time"]) < _ms(s["leave_time"]) <= now * 1000
    rows = emu.school.ground_truth()["attendance"]
    assert 0.75 < sum(r["present"] for r in rows) / len(rows) < 0.95
    assert 0.05 < sum(r["tardy"] for r in rows) / sum(r["present"] for r in rows) < 0.25


def test_events_are_unique_ordered_and_inside_attendance(emu: Emulator) -> None:
    for class_id in emu.school.class_ids()[:6]:
        events = list(emu.school.iter_metrics(class_id))
        keys = [(_ms(e["event_start"]), e["student_id"], e["event_type"], e["event_value"]) for e in events]
        assert keys == sorted(keys)
        assert len({(e["student_id"], e["event_type"], e["event_start"]) for e in events}) == len(events)
        stays = defaultdict(list)
        for session in emu.school.attendance(emu.school.classes[class_id])["sessions"]:
            for s in session["students"]:
                if s["join_time"]:  # a student still in the live session has no leave_time yet
                    stays[s["student_id"]].append((_ms(s["join_time"]), _ms(s["leave_time"]) if s["leave_time"] else float("inf")))
        for e in events:
            start, end = _ms(e["event_start"]), _ms(e["event_end"])
            assert start <= end
            assert any(j <= start and end <= l for j, l in stays[e["student_id"]]), e
            assert e["event_duration"] == (end - start) // 1000 * 60


def test_event_duration_follows_the_reference_example() -> None:
    # 17:43:40.196 -> 17:53:40.197 is reported as 36000 in the reference
    assert reported_duration(_ms("2022-06-15T17:43:40.196Z"), _ms("2022-06-15T17:53:40.197Z")) == 36000
    assert iso_ms(_ms("2022-06-15T17:43:40.196Z")) == "2022-06-15T17:43:40.196Z"


def test_every_documented_event_type_and_value_occurs(emu: Emulator) -> None:
    seen = {(e["event_type"], e["event_value"]) for e in emu.school.ground_truth()["metrics"]}
    documented = {(t, v) for t, values in EVENT_VALUES.items() for v in values}
    assert len(documented) == 33
    assert seen == documented
    assert set(EVENT_VALUES["FEEDBACK"]) == {"clap", "coffee", "dislike", "faster", "like", "no_mark", "question", "slower", "time", "yes_mark"}
    assert EVENT_VALUES["STARS"] == ("0", "1", "2", "3") and EVENT_VALUES["RAISED_HAND"] == ("0", "1")


def test_the_data_has_the_mess_of_real_data(emu: Emulator) -> None:
    truth = emu.school.ground_truth()
    enrollments = truth["enrollments"]
    assert any(e["email"] is None for e in enrollments) and any(e["ext_person_id"] is None for e in enrollments)
    assert all(e["email"] or e["ext_person_id"] for e in enrollments)
    names = " ".join(e["user_name"] for e in enrollments)
    assert any(ch in names for ch in "éñüøł") and any("\u4e00" <= ch <= "\u9fff" for ch in names) and "'" in names
    assert any(c["ext_class_id"] is None for c in truth["classes"])
    assert any(c["password"] is None for c in truth["classes"]) and any(c["class_description"] is None for c in truth["classes"])
    assert truth["deferred_classes"] and any(u["ext_user_id"] is None for u in truth["users"])
    assert {e["role"] for e in enrollments} == {"student", "assistant", "teacher"}
    per_second = Counter((m["class_id"], _ms(m["event_start"]) // 1000) for m in truth["metrics"])
    assert max(per_second.values()) >= 8  # reaction waves: many events share one second
    longest = max(_ms(m["event_end"]) - _ms(m["event_start"]) for m in truth["metrics"])
    assert longest >= 80 * 60 * 1000  # events spanning a whole session


def test_default_volumes_and_exact_roster_totals() -> None:
    emu = Emulator(seed=3, classes=40)
    school = emu.school
    assert sum(len(c.roster) for c in school.classes.values()) == 40 * 30
    assert len(school.deferred_class_ids()) == 2  # 5% of 40
    sizes = [len(c.roster) for c in school.classes.values()]
    assert min(sizes) < 30 < max(sizes)
    per_class = [len(list(school.iter_metrics(c))) for c in school.class_ids()]
    assert 1500 < sum(per_class) / len(per_class) < 3000  # ~10M events for 5,000 classes


def test_event_scale_makes_a_school_event_heavy() -> None:
    light = Emulator(seed=3, classes=4)
    heavy = Emulator(seed=3, classes=4, event_scale=5.0)
    n_light = sum(len(list(light.school.iter_metrics(c))) for c in light.school.class_ids())
    n_heavy = sum(len(list(heavy.school.iter_metrics(c))) for c in heavy.school.class_ids())
    assert n_heavy > 3 * n_light
    assert light.school.ground_truth()["attendance"] == heavy.school.ground_truth()["attendance"]


def test_small_schools_build_without_generating_any_activity(monkeypatch: pytest.MonkeyPatch) -> None:
    # what keeps a build fast: events are generated per class on first request, never up front
    # (the build time itself is a figure of benchmarks/emulator_bench.py, `build_seconds`)
    generated: list[int] = []
    real = school_module.generate_activity

    def counting(**kwargs: Any) -> Any:
        generated.append(kwargs["class_key"])
        return real(**kwargs)

    monkeypatch.setattr(school_module, "generate_activity", counting)
    emulators = [Emulator(seed=seed, classes=20) for seed in range(5)]
    assert generated == []
    list(emulators[0].school.iter_metrics(emulators[0].school.class_ids()[0]))
    assert len(generated) == 1  # the patch does see generation when it happens


def test_unknown_knobs_are_rejected() -> None:
    with pytest.raises(TypeError, match="unknown school knobs"):
        Emulator(classes=2, students=3)


# ------------------------------------------------------------------------------------------- writes
def test_writes_change_what_reads_return(api: Api, emu: Emulator) -> None:
    class_id = emu.school.class_ids()[2]
    now = emu.clock.now
    sessions_before = len(ok(api.get("/reporting/attendance", class_id=class_id))["sessions"])
    added = ok(api.post("/schedules", {"class_id": class_id, "start_time": now - 3 * DAY, "end_time": now - 3 * DAY + 3600, "timezone": "UTC"}))
    sessions = ok(api.get("/reporting/attendance", class_id=class_id))["sessions"]
    assert len(sessions) == sessions_before + 1
    ok(api.delete("/schedules", schedule_id=added["schedule_id"]))
    assert len(ok(api.get("/reporting/attendance", class_id=class_id))["sessions"]) == sessions_before

    # a new enrollment is in the roster, but not in sessions that began before it existed
    person = ok(api.post("/class/enrollments", {"class_id": class_id, "email": "late.comer@x.org", "first_name": "Late", "last_name": "Comer"}))
    assert person["student_id"] in [e["student_id"] for e in ok(api.get("/class/enrollments", class_id=class_id))]
    sessions = ok(api.get("/reporting/attendance", class_id=class_id))["sessions"]
    assert all(person["student_id"] not in [s["student_id"] for s in session["students"]] for session in sessions)

    # removing a student removes their events and nobody else's
    events = list(emu.school.iter_metrics(class_id))
    leaver = events[0]["student_id"]
    body = {"class_id": class_id, "student_id": leaver}
    ok(api.delete("/class/enrollments", body))
    after = list(emu.school.iter_metrics(class_id))
    assert after == [e for e in events if e["student_id"] != leaver]

    # renaming a class and a template shows in every read
    ok(api.patch("/classes", {"class_id": class_id, "class_name": "Renamed"}))
    assert [c["class_name"] for c in ok(api.get("/classes")) if c["class_id"] == class_id] == ["Renamed"]


def test_person_fields_are_school_wide(api: Api, emu: Emulator) -> None:
    a, b = emu.school.class_ids()[:2]
    person = ok(api.post("/class/enrollments", {"class_id": a, "ext_person_id": "shared-1", "first_name": "Zoë", "last_name": "Ng"}))
    ok(api.post("/class/enrollments", {"class_id": b, "ext_person_id": "shared-1", "first_name": "Zoë", "last_name": "Ng", "role": "assistant"}))
    ok(api.put("/class/enrollments", {"class_id": a, "ext_person_id": "shared-1", "email": "zoe@x.org", "first_name": "Zoë", "last_name": "Ng", "role": "teacher"}))
    rows = {(r["class_id"], r["student_id"]): r for r in emu.school.ground_truth()["enrollments"]}
    assert rows[(a, person["student_id"])]["email"] == rows[(b, person["student_id"])]["email"] == "zoe@x.org"
    assert (rows[(a, person["student_id"])]["role"], rows[(b, person["student_id"])]["role"]) == ("teacher", "assistant")


def test_add_events_injects_crowded_seconds_and_late_long_events(emu: Emulator) -> None:
    class_id = emu.school.class_ids()[1]
    student = emu.school.enrollments(emu.school.classes[class_id])[2]["student_id"]
    now = emu.clock.now
    second = (now - 2 * DAY) * 1000
    crowd = [{"student_id": student, "event_start": second + i % 1000, "event_end": second + 2000,
              "event_type": ("FEEDBACK", "REACTION")[i // 1000], "event_value": "clap"} for i in range(1200)]
    late = {"student_id": student, "event_start": iso_ms((now - 3600) * 1000), "event_end": iso_ms((now + 3600) * 1000),
            "event_type": "PRESENTING", "event_value": "true", "event_duration": 7}
    emu.school.add_events(class_id, crowd + [late])
    events = list(emu.school.iter_metrics(class_id))
    assert sum(_ms(e["event_start"]) // 1000 == second // 1000 for e in events) >= 1200
    assert late["event_start"] not in [e["event_start"] for e in events if e["event_type"] == "PRESENTING" and e["student_id"] == student]
    emu.clock.advance(3600)
    [found] = [e for e in emu.school.iter_metrics(class_id) if e["event_start"] == late["event_start"] and e["event_type"] == "PRESENTING"
               and e["student_id"] == student]
    assert found["event_duration"] == 7  # as given: the field is untrusted
    with pytest.raises(ValueError, match="not a documented"):
        emu.school.add_events(class_id, [{**late, "event_type": "DANCING"}])
    with pytest.raises(ValueError, match="deferred"):
        emu.school.add_events(emu.school.deferred_class_ids()[0], [late])


def test_ground_truth_matches_the_api(api: Api, emu: Emulator) -> None:
    truth = emu.school.ground_truth()
    assert set(truth) == {"classes", "deferred_classes", "users", "templates", "enrollments", "schedules", "attendance", "metrics"}
    assert truth["classes"] == ok(api.get("/classes")) and truth["deferred_classes"] == ok(api.get("/classes", deferred="true"))
    assert truth["users"] == ok(api.get("/users")) and truth["templates"] == ok(api.get("/templates"))
    enrollments, schedules, attendance = [], [], 0
    metrics: dict[tuple, dict] = {}
    for class_id in emu.school.class_ids() + emu.school.deferred_class_ids():
        enrollments += [{"class_id": class_id, **e} for e in ok(api.get("/class/enrollments", class_id=class_id))]
        schedules += ok(api.get("/schedules", class_id=class_id))
        attendance += sum(len(s["students"]) for s in ok(api.get("/reporting/attendance", class_id=class_id))["sessions"])
        cursor = None
        while True:
            page = ok(api.get("/reporting/metrics", class_id=class_id, limit=1000, **({} if cursor is None else {"starting_after": cursor})))
            for e in page:
                metrics[(class_id, e["student_id"], e["event_type"], e["event_start"])] = {"class_id": class_id, **e}
            if len(page) < 1000:
                break
            cursor = _ms(page[-1]["event_start"]) // 1000 - 1
    assert sorted(map(str, truth["enrollments"])) == sorted(map(str, enrollments))
    assert sorted(map(str, truth["schedules"])) == sorted(map(str, schedules))
    assert len(truth["attendance"]) == attendance
    assert len(truth["metrics"]) == len(metrics)
    assert all(metrics[(m["class_id"], m["student_id"], m["event_type"], m["event_start"])] == m for m in truth["metrics"])


def test_visible_indices_match_a_plain_filter_when_many_events_have_not_ended() -> None:
    """A page is the first `limit` ended events from the cursor on, found by looking at a window
    just over `limit` events wide and widening it: checked against a plain filter of every event,
    on activity where runs of events end after `now` (an open session's events)."""
    import random
    from array import array

    from class_source.emulator.activity import ClassActivity

    rng = random.Random(5)
    starts = sorted(rng.randrange(0, 600_000) for _ in range(3_000))
    # about half the events still open at now=500 s, in long runs so that a window can be all open
    ends = array("q", (s + (rng.randrange(1, 400_000) if (s // 50_000) % 2 else rng.randrange(1, 5_000)) for s in starts))
    activity = ClassActivity([], array("q", starts), ends, array("q", [0] * len(starts)), array("B", [0] * len(starts)), {})
    now = 500
    for starting_after in (None, 0, 37, 120, 260, 499, 600):
        for ending_before in (None, 300, 450):
            for limit in (1, 7, 100, 1000, None):
                for instant in (False, True):
                    bound = now * 1000 if ending_before is None else min(now * 1000, ending_before * 1000 - 1)
                    after_ms = None if starting_after is None else starting_after * 1000 + (0 if instant else 999)
                    expected = [i for i, (s, e) in enumerate(zip(starts, ends)) if (after_ms is None or s > after_ms) and e <= bound]
                    got = activity.visible_indices(now, starting_after, ending_before, limit, after_instant=instant)
                    assert got == expected[:limit], (starting_after, ending_before, limit, instant)
                    newest = activity.visible_indices(now, starting_after, ending_before, limit, after_instant=instant, newest_first=True)
                    assert newest == (expected if limit is None else expected[max(len(expected) - limit, 0) :])[::-1]
