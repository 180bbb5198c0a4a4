"""Readings of the API reference's silences (readings.py): each one serves what a plausible server
would, on the fast JSON path and the dict path alike, and none changes the ground truth.

Most tests use one hand-checkable class: no generated activity (event_scale=0) and five injected
events of two students around the second B, one second apart at most (labels type:value):

    label             student  event_start     whole second
    REACTION:clap     first    B.000           B
    FEEDBACK:like     first    B.500           B
    STARS:2           second   (B+1).000       B+1
    RAISED_HAND:1     first    (B+1).999       B+1
    REACTION:thumbup  second   (B+2).500       B+2
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from class_source.emulator import ALL_SCOPES, ApiReadings, Emulator
from class_source.emulator.timefmt import parse_iso_ms
from emulator_helpers import DEMO_CLASS, Api, ok

CLAP, LIKE, STARS, RAISED, THUMBUP = "REACTION:clap", "FEEDBACK:like", "STARS:2", "RAISED_HAND:1", "REACTION:thumbup"
ALL_FIVE = [CLAP, LIKE, STARS, RAISED, THUMBUP]


class World:
    """The hand-checkable class of the module docstring, served over the in-process transport."""

    def __init__(self, readings: ApiReadings | None = None) -> None:
        self.emu = Emulator(seed=3, classes=3, event_scale=0, readings=readings)
        school = self.emu.school
        self.class_id = school.class_ids()[0]
        assert list(school.iter_metrics(self.class_id)) == []  # event_scale=0: only what we inject
        first, second = sorted(e["student_id"] for e in school.enrollments(school.classes[self.class_id])[:2])
        self.b = self.emu.clock.now - 86400
        ms = self.b * 1000
        school.add_events(self.class_id, [
            _event(first, ms, "REACTION", "clap"),
            _event(first, ms + 500, "FEEDBACK", "like"),
            _event(second, ms + 1000, "STARS", "2"),
            _event(first, ms + 1999, "RAISED_HAND", "1"),
            _event(second, ms + 2500, "REACTION", "thumbup"),
        ])
        self.api = Api(self.emu)

    def metrics(self, **params: Any) -> list[str]:
        """Labels of one metrics page, checking the dict path serves the same page as the JSON path."""
        page = ok(self.api.get("/reporting/metrics", class_id=self.class_id, **params))
        school = self.emu.school
        dict_page = school.metrics_page(school.classes[self.class_id], starting_after=params.get("starting_after"),
                                        ending_before=params.get("ending_before"), limit=params.get("limit", 100))
        assert page == dict_page
        return [f'{e["event_type"]}:{e["event_value"]}' for e in page]


def _event(student_id: str, start_ms: int, event_type: str, value: str) -> dict[str, Any]:
    return {"student_id": student_id, "event_start": start_ms, "event_end": start_ms + 1000,
            "event_type": event_type, "event_value": value}


@pytest.fixture
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    w = World(getattr(request, "param", None))
    yield w
    w.api.close()


# ------------------------------------------------------------------ defaults: the emulator's own reading
def test_default_readings_are_the_emulators_own_reading() -> None:
    assert Emulator(classes=1).readings == ApiReadings()
    assert ApiReadings().to_json() == {
        "starting_after": "whole-second", "metrics_order": "ascending", "page_cap": None, "limit_ignored": False,
        "same_instant_values": False, "repeated_records": [], "starting_after_ignored": False,
        "scope_check_order": "scope-first", "server_date": True,
    }


def test_default_metrics_keep_events_whose_second_is_after_starting_after_in_api_order(world: World) -> None:
    b = world.b
    assert world.metrics() == ALL_FIVE
    assert world.metrics(starting_after=b - 1) == ALL_FIVE
    assert world.metrics(starting_after=b) == [STARS, RAISED, THUMBUP]
    assert world.metrics(starting_after=b + 1) == [THUMBUP]
    assert world.metrics(starting_after=b, limit=2) == [STARS, RAISED]


def test_default_pages_of_a_generated_school_are_the_ground_truth_filtered_by_hand() -> None:
    """Independent computation: plain Python over iter_metrics (already in API order)."""
    emu = Emulator(seed=4, classes=3)
    api = Api(emu)
    class_id = emu.school.class_ids()[1]
    events = list(emu.school.iter_metrics(class_id))
    middle = parse_iso_ms(events[len(events) // 2]["event_start"]) // 1000
    for after in (None, middle):
        expected = [e for e in events if after is None or parse_iso_ms(e["event_start"]) // 1000 > after][:250]
        params = {"class_id": class_id, "limit": 250} | ({} if after is None else {"starting_after": after})
        assert ok(api.get("/reporting/metrics", **params)) == expected
    api.close()


# ------------------------------------------------------------------ 1. starting_after
@pytest.mark.parametrize("world", [ApiReadings(starting_after="instant")], indirect=True)
def test_instant_starting_after_keeps_events_starting_after_the_instant(world: World) -> None:
    b = world.b
    assert world.metrics(starting_after=b - 1) == ALL_FIVE
    assert world.metrics(starting_after=b) == [LIKE, STARS, RAISED, THUMBUP]  # B.500 is after B; B.000 is not
    assert world.metrics(starting_after=b + 1) == [RAISED, THUMBUP]  # (B+1).999 is after B+1; (B+1).000 is not
    assert world.metrics(starting_after=b + 2) == [THUMBUP]
    assert world.metrics(starting_after=b + 3) == []


# ------------------------------------------------------------------ 2. metrics_order
@pytest.mark.parametrize("world", [ApiReadings(metrics_order="descending")], indirect=True)
def test_descending_order_serves_the_newest_matching_events_first(world: World) -> None:
    b = world.b
    assert world.metrics() == [THUMBUP, RAISED, STARS, LIKE, CLAP]
    assert world.metrics(limit=2) == [THUMBUP, RAISED]
    assert world.metrics(starting_after=b, limit=2) == [THUMBUP, RAISED]
    assert world.metrics(starting_after=b - 1, ending_before=b + 2, limit=2) == [LIKE, CLAP]  # ended before B+2


@pytest.mark.parametrize("world", [ApiReadings(metrics_order="unordered")], indirect=True)
def test_unordered_serves_an_arbitrary_but_fixed_subset(world: World) -> None:
    b = world.b
    everything = world.metrics()
    assert sorted(everything) == sorted(ALL_FIVE)
    assert everything not in (ALL_FIVE, ALL_FIVE[::-1])  # neither time order
    assert world.metrics() == everything  # the same query answers the same page
    # the order belongs to the events: a narrower query serves the same order, filtered, then cut
    after_b = [label for label in everything if label in (STARS, RAISED, THUMBUP)]
    assert world.metrics(starting_after=b) == after_b
    assert world.metrics(starting_after=b, limit=2) == after_b[:2]
    assert world.metrics(limit=3) == everything[:3]


# ------------------------------------------------------------------ 3. page cap, limit ignored
@pytest.mark.parametrize("world", [ApiReadings(page_cap=2)], indirect=True)
def test_page_cap_serves_at_most_the_cap_whatever_the_limit(world: World) -> None:
    b = world.b
    assert world.metrics() == [CLAP, LIKE]
    assert world.metrics(limit=1000) == [CLAP, LIKE]
    assert world.metrics(limit=1) == [CLAP]  # a smaller limit still wins
    assert world.metrics(starting_after=b, limit=3) == [STARS, RAISED]
    assert world.metrics(starting_after=b + 1, limit=3) == [THUMBUP]


@pytest.mark.parametrize("world", [ApiReadings(limit_ignored=True)], indirect=True)
def test_limit_ignored_serves_every_matching_event(world: World) -> None:
    assert world.metrics(limit=1) == ALL_FIVE
    assert world.metrics(starting_after=world.b, limit=2) == [STARS, RAISED, THUMBUP]


@pytest.mark.parametrize("world", [ApiReadings(limit_ignored=True, page_cap=3)], indirect=True)
def test_limit_ignored_with_a_cap_serves_the_cap(world: World) -> None:
    assert world.metrics(limit=1) == [CLAP, LIKE, STARS]
    assert world.metrics(limit=1000) == [CLAP, LIKE, STARS]


# ------------------------------------------------------------------ 6. starting_after ignored
@pytest.mark.parametrize("world", [ApiReadings(starting_after_ignored=True)], indirect=True)
def test_ignored_starting_after_always_answers_from_the_first_event(world: World) -> None:
    b = world.b
    assert world.metrics(starting_after=b + 1) == ALL_FIVE
    assert world.metrics(starting_after=b + 100, limit=2) == [CLAP, LIKE]
    assert world.metrics(starting_after=b, ending_before=b + 2) == [CLAP, LIKE]  # ending_before still holds
    response = world.api.get("/reporting/metrics", class_id=world.class_id, starting_after=-1)
    assert response.status_code == 400  # still validated


# ------------------------------------------------------------------ readings never change the ground truth
SERVER_ONLY_READINGS = [
    ApiReadings(starting_after="instant"),
    ApiReadings(metrics_order="descending"),
    ApiReadings(metrics_order="unordered", page_cap=7),
    ApiReadings(limit_ignored=True),
    ApiReadings(starting_after_ignored=True),
]


@pytest.mark.parametrize("readings", SERVER_ONLY_READINGS, ids=lambda r: str(r.to_json()))
def test_readings_other_than_same_instant_values_leave_the_ground_truth_alone(readings: ApiReadings) -> None:
    assert Emulator(seed=9, classes=4, readings=readings).school.ground_truth() == Emulator(seed=9, classes=4).school.ground_truth()


METRICS_READINGS = SERVER_ONLY_READINGS + [
    ApiReadings(page_cap=3),
    ApiReadings(same_instant_values=True, metrics_order="descending", starting_after="instant"),
]


@pytest.mark.parametrize("readings", METRICS_READINGS, ids=lambda r: r.summary())
def test_the_json_path_renders_the_dict_path_byte_for_byte_under_every_reading(readings: ApiReadings) -> None:
    emu = Emulator(seed=11, classes=3, event_scale=1.5, readings=readings)
    school = emu.school
    for class_id in school.class_ids():
        cls = school.classes[class_id]
        middle = emu.clock.now - 20 * 86400
        for after, limit in ((None, 1000), (middle, 17), (middle, 1)):
            expected = school.metrics_page(cls, starting_after=after, ending_before=None, limit=limit)
            rendered = school.metrics_page_json(cls, starting_after=after, ending_before=None, limit=limit)
            assert rendered == json.dumps(expected, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# ------------------------------------------------------------------ switching at run time
def test_readings_switch_at_run_time_through_the_admin_route(world: World) -> None:
    api, b = world.api, world.b
    assert ok(api.get("/_emulator/readings")) == ApiReadings().to_json()
    assert world.metrics(starting_after=b) == [STARS, RAISED, THUMBUP]
    answered = ok(api.post("/_emulator/readings", {"starting_after": "instant", "page_cap": 2}))
    assert answered["starting_after"] == "instant" and answered["page_cap"] == 2
    assert world.emu.readings == ApiReadings(starting_after="instant", page_cap=2)
    assert world.metrics(starting_after=b) == [LIKE, STARS]
    ok(api.patch("/_emulator/readings", {"page_cap": None}))  # a partial update keeps the rest
    assert world.metrics(starting_after=b) == [LIKE, STARS, RAISED, THUMBUP]
    assert ok(api.delete("/_emulator/readings")) == ApiReadings().to_json()
    assert world.metrics(starting_after=b) == [STARS, RAISED, THUMBUP]


@pytest.mark.parametrize("body, named", [
    ({"metrics_order": "sideways"}, "metrics_order must be one of ascending, descending, unordered"),
    ({"page_cap": 0}, "page_cap must be a positive integer"),
    ({"page_size": 3}, "unknown readings ['page_size']"),
    ({"repeated_records": ["rooms"]}, "unknown listing(s) rooms"),
])
def test_a_bad_readings_update_is_refused_and_changes_nothing(world: World, body: dict, named: str) -> None:
    response = world.api.post("/_emulator/readings", body)
    assert response.status_code == 400 and named in response.json()["error"]
    assert world.emu.readings == ApiReadings()


def test_the_readings_setter_accepts_only_readings() -> None:
    emu = Emulator(classes=1)
    with pytest.raises(TypeError, match="readings must be an ApiReadings"):
        emu.readings = {"page_cap": 3}  # type: ignore[assignment]
    with pytest.raises(TypeError, match="readings must be an ApiReadings"):
        Emulator(classes=1, readings="instant")  # type: ignore[arg-type]


# ------------------------------------------------------------------ 4. same-instant values
def _pair_world(readings: ApiReadings | None) -> tuple[World, int]:
    """The world plus, at (B+5).250, two reactions and two feedbacks of the first student."""
    w = World(readings)
    first = sorted(e["student_id"] for e in w.emu.school.enrollments(w.emu.school.classes[w.class_id])[:2])[0]
    at = (w.b + 5) * 1000 + 250
    w.emu.school.add_events(w.class_id, [
        _event(first, at, "REACTION", "laughing"), _event(first, at, "REACTION", "clap"),
        _event(first, at, "FEEDBACK", "slower"), _event(first, at, "FEEDBACK", "coffee"),
    ])
    return w, w.b + 4


def test_same_instant_values_are_distinct_events_served_in_value_order() -> None:
    w, before_pairs = _pair_world(ApiReadings(same_instant_values=True))
    # (event_start, student_id, event_type, event_value): FEEDBACK before REACTION, values alphabetical
    expected = ["FEEDBACK:coffee", "FEEDBACK:slower", "REACTION:clap", "REACTION:laughing"]
    assert w.metrics(starting_after=before_pairs) == expected
    assert [f'{e["event_type"]}:{e["event_value"]}' for e in w.emu.school.iter_metrics(w.class_id)] == ALL_FIVE + expected
    assert w.metrics(starting_after=before_pairs, limit=3) == expected[:3]
    w.api.close()


def test_by_default_one_event_per_student_type_and_instant_is_kept() -> None:
    """The emulator's own reading: (student_id, event_type, event_start) is unique; of two injected
    events with one identity the later in API order stays."""
    w, before_pairs = _pair_world(None)
    assert w.metrics(starting_after=before_pairs) == ["FEEDBACK:slower", "REACTION:laughing"]
    w.api.close()


def _as_set(rows: list[dict]) -> set[tuple]:
    return {tuple(sorted(row.items())) for row in rows}


def test_same_instant_values_add_partners_to_a_generated_school_and_change_nothing_else() -> None:
    plain = Emulator(seed=9, classes=4).school.ground_truth()
    paired = Emulator(seed=9, classes=4, readings=ApiReadings(same_instant_values=True)).school.ground_truth()
    assert {k: v for k, v in paired.items() if k != "metrics"} == {k: v for k, v in plain.items() if k != "metrics"}
    events, more = _as_set(plain["metrics"]), _as_set(paired["metrics"])
    assert len(more) == len(paired["metrics"])  # no event served twice
    assert events < more  # every event of the plain school is still there, unchanged
    identity = {(e["class_id"], e["student_id"], e["event_type"], e["event_start"]): e["event_value"] for e in plain["metrics"]}
    partners = [dict(row) for row in more - events]
    assert {e["event_type"] for e in partners} == {"REACTION", "FEEDBACK"}
    for partner in partners:  # each extra event is the partner of one with another value, same instant
        key = (partner["class_id"], partner["student_id"], partner["event_type"], partner["event_start"])
        assert identity[key] != partner["event_value"]


def test_switching_same_instant_values_at_run_time_regenerates_the_activity() -> None:
    emu = Emulator(seed=9, classes=2)
    class_id = emu.school.class_ids()[0]
    plain = list(emu.school.iter_metrics(class_id))
    emu.readings = ApiReadings(same_instant_values=True)
    paired = list(emu.school.iter_metrics(class_id))
    assert len(paired) > len(plain)
    emu.readings = ApiReadings()
    assert list(emu.school.iter_metrics(class_id)) == plain


# ------------------------------------------------------------------ 5. repeated records
def _served_twice(listing: list) -> list:
    """The rule of readings.repeat_one, written out: [a, b, c] -> [a, b, c, b]."""
    return listing + [listing[len(listing) // 2]]


@pytest.fixture
def repeating() -> Iterator[tuple[Emulator, Api]]:
    emu = Emulator(seed=6, classes=5, readings=ApiReadings(repeated_records=True))
    api = Api(emu)
    ok(api.post("/classes", {"email": "d@example.org", "first_name": "D", "last_name": "E", "timezone": "UTC",
                             "class_name": "Deferred one"}), 201)
    ok(api.post("/classes", {"email": "d@example.org", "first_name": "D", "last_name": "E", "timezone": "UTC",
                             "class_name": "Deferred two"}), 201)
    yield emu, api
    api.close()


def test_repeat_one_serves_the_middle_record_again_at_the_end() -> None:
    from class_source.emulator.readings import repeat_one

    assert repeat_one(["a", "b", "c"]) == ["a", "b", "c", "b"]
    assert repeat_one(["a", "b", "c", "d"]) == ["a", "b", "c", "d", "c"]
    assert repeat_one(["a"]) == ["a", "a"]
    assert repeat_one([]) == []


def test_every_snapshot_listing_repeats_one_record(repeating) -> None:
    emu, api = repeating
    truth = emu.school.ground_truth()
    classes = ok(api.get("/classes"))
    assert classes == _served_twice(truth["classes"]) and len(classes) == len(truth["classes"]) + 1
    assert ok(api.get("/classes", deferred="true")) == _served_twice(truth["deferred_classes"])
    assert ok(api.get("/templates")) == _served_twice(truth["templates"])
    assert ok(api.get("/users")) == _served_twice(truth["users"])
    class_id = truth["classes"][0]["class_id"]
    roster = [{k: v for k, v in row.items() if k != "class_id"} for row in truth["enrollments"] if row["class_id"] == class_id]
    assert ok(api.get("/class/enrollments", class_id=class_id)) == _served_twice(roster)
    assert ok(api.get("/schedules", class_id=class_id)) == _served_twice([s for s in truth["schedules"] if s["class_id"] == class_id])
    sessions = ok(api.get("/reporting/attendance", class_id=class_id))["sessions"]
    assert sessions
    for session in sessions:
        students = [{k: v for k, v in row.items() if k not in ("class_id", "session_id", "session_start_time", "session_end_time")}
                    for row in truth["attendance"] if row["session_id"] == session["session_id"]]
        assert session["students"] == _served_twice(students)


def test_the_ground_truth_stays_unique_and_lookups_of_one_record_are_not_repeated(repeating) -> None:
    emu, api = repeating
    truth = emu.school.ground_truth()
    assert len({c["class_id"] for c in truth["classes"]}) == len(truth["classes"]) == len(emu.school.class_ids())
    assert len({u["id"] for u in truth["users"]}) == len(truth["users"])
    first = truth["classes"][0]
    assert ok(api.get("/classes", class_id=first["class_id"])) == [first]
    user = truth["users"][0]
    assert ok(api.get("/users", id=user["id"])) == [user]


def test_users_are_paged_over_the_listing_with_its_repeat(repeating) -> None:
    emu, api = repeating
    served = _served_twice(emu.school.ground_truth()["users"])
    limit = 7
    pages, page = [], 1
    while page is not None:
        body = ok(api.get("/users", page=page, limit=limit))
        assert body["pagination"]["total_records"] == len(served)
        pages.extend(body["data"])
        page = body["pagination"]["next_page"]
    assert pages == served


def test_only_the_named_listings_repeat() -> None:
    emu = Emulator(seed=6, classes=3, readings=ApiReadings(repeated_records=("classes",)))
    api = Api(emu)
    truth = emu.school.ground_truth()
    assert ok(api.get("/classes")) == _served_twice(truth["classes"])
    assert ok(api.get("/templates")) == truth["templates"]
    assert ok(api.get("/users")) == truth["users"]
    api.close()


# ------------------------------------------------------------------ 7. order of scope and validation checks
@pytest.mark.parametrize("order, unknown_class, bad_limit, valid", [
    ("scope-first", 403, 403, 403),
    ("validation-first", 404, 400, 403),
])
def test_scope_check_order_of_a_read(order: str, unknown_class: int, bad_limit: int, valid: int) -> None:
    emu = Emulator(seed=2, classes=2, readings=ApiReadings(scope_check_order=order))
    api = Api(emu, scopes=[s for s in ALL_SCOPES if s != "metrics:read"])
    class_id = emu.school.class_ids()[0]
    missing = "00000000-0000-4000-8000-000000000000"
    response = api.get("/reporting/metrics", class_id=missing)
    assert response.status_code == unknown_class
    if unknown_class == 404:
        assert response.json() == {"error": f"class {missing} not found"}
    response = api.get("/reporting/metrics", class_id=class_id, limit=0)
    assert response.status_code == bad_limit
    if bad_limit == 400:
        assert set(response.json()["data"]) == {"limit"}
    response = api.get("/reporting/metrics", class_id=class_id)
    assert response.status_code == valid
    assert response.json() == {"error": "Api key scope metrics:read required"}
    api.close()


def test_validation_first_keeps_writes_scope_first_and_auth_before_everything() -> None:
    emu = Emulator(seed=2, classes=2, readings=ApiReadings(scope_check_order="validation-first"))
    api = Api(emu, scopes=[s for s in ALL_SCOPES if s != "class:write"])
    classes = emu.school.ground_truth()["classes"]
    assert api.post("/classes", {}).status_code == 403  # an invalid body: refused before validation
    assert api.post("/classes", {**DEMO_CLASS, "ext_class_id": "new-1"}).status_code == 403  # a valid one: not created
    assert emu.school.ground_truth()["classes"] == classes
    unauthenticated = api.client.get("/api/v1/reporting/metrics", params={"class_id": "nope"},
                                     headers={"Authorization": "Bearer wrong"})
    assert unauthenticated.status_code == 401
    api.close()


# ------------------------------------------------------------------ command line flags
def _parse(argv: list[str]) -> ApiReadings:
    import argparse

    from class_source.emulator.readings import add_reading_arguments, readings_from_args

    parser = argparse.ArgumentParser()
    add_reading_arguments(parser)
    return readings_from_args(parser.parse_args(argv))


def test_command_line_flags_choose_the_readings() -> None:
    assert _parse([]) == ApiReadings()
    assert _parse(["--starting-after", "instant", "--metrics-order", "descending", "--page-cap", "250", "--limit-ignored",
                   "--same-instant-values", "--repeated-records", "classes,users", "--starting-after-ignored",
                   "--scope-check-order", "validation-first"]) == ApiReadings(
        starting_after="instant", metrics_order="descending", page_cap=250, limit_ignored=True, same_instant_values=True,
        repeated_records=("classes", "users"), starting_after_ignored=True, scope_check_order="validation-first")
    assert _parse(["--repeated-records", "all"]).repeated_records == set(
        ("classes", "deferred_classes", "enrollments", "schedules", "attendance", "templates", "users"))


def test_the_summary_names_only_what_differs_from_the_defaults() -> None:
    assert ApiReadings().summary() == "the emulator's own (defaults)"
    assert ApiReadings(starting_after="instant", page_cap=250, limit_ignored=True, repeated_records=("users", "classes")).summary() == (
        "starting_after=instant, page_cap=250, limit_ignored=true, repeated_records=classes,users")


@pytest.mark.parametrize("argv, named", [
    (["--page-cap", "0"], "page_cap must be a positive integer"),
    (["--repeated-records", "classes,rooms"], "unknown listing(s) rooms"),
])
def test_bad_command_line_readings_name_what_is_wrong(argv: list[str], named: str) -> None:
    with pytest.raises(ValueError) as error:
        _parse(argv)
    assert named in str(error.value) and "\n" not in str(error.value)
