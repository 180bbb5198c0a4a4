"""Property tests: paging users by page/limit and metrics by starting_after return every record once."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from class_source.emulator import Emulator
from class_source.emulator.timefmt import parse_iso_ms
from emulator_helpers import Api, ok

PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def users_api() -> Iterator[Api]:
    emu = Emulator(seed=21, classes=40)
    api = Api(emu)
    for i in range(103):  # 103 more users than the school has: pages of every shape
        ok(api.put("/users", {"identified_by": "email", "email": f"extra{i}@example.org", "user_name": f"Extra {i}"}), 201)
    yield api
    api.close()


@PROPERTY
@given(limit=st.one_of(st.integers(1, 40), st.integers(1, 1000)))
def test_paging_users_returns_every_user_exactly_once(users_api: Api, limit: int) -> None:
    everything = ok(users_api.get("/users"))
    total = len(everything)
    assert total > 103
    pages, page = [], 1
    while True:
        body = ok(users_api.get("/users", page=page, limit=limit))
        assert body["pagination"] == {
            "total_records": total, "current_page": page, "total_pages": math.ceil(total / limit),
            "next_page": page + 1 if page * limit < total else None, "prev_page": page - 1 if page > 1 else None,
        }
        assert len(body["data"]) == min(limit, total - (page - 1) * limit)
        pages.append(body["data"])
        if body["pagination"]["next_page"] is None:
            break
        page = body["pagination"]["next_page"]
    assert [u for chunk in pages for u in chunk] == everything
    assert ok(users_api.get("/users", page=page + 1, limit=limit))["data"] == []


@pytest.fixture(scope="module")
def metrics_setup() -> Iterator[tuple[Api, str, list[dict], int]]:
    emu = Emulator(seed=5, classes=3, event_scale=2.0)
    class_id = emu.school.class_ids()[0]
    student = emu.school.enrollments(emu.school.classes[class_id])[3]
    # a crowded second: 150 reactions of one student share it (distinct milliseconds)
    second = emu.clock.now - 3 * 86400
    wave = [{"student_id": student["student_id"], "event_start": second * 1000 + i, "event_end": second * 1000 + i + 500,
             "event_type": "REACTION", "event_value": "clap"} for i in range(150)]
    emu.school.add_events(class_id, wave)
    events = list(emu.school.iter_metrics(class_id))
    crowded = max(Counter(parse_iso_ms(e["event_start"]) // 1000 for e in events).values())
    assert crowded >= 150 and len(events) > 3000
    api = Api(emu)
    yield api, class_id, events, crowded
    api.close()


def _key(event: dict) -> tuple:
    return (event["student_id"], event["event_type"], event["event_start"])


@PROPERTY
@given(data=st.data())
def test_paging_metrics_by_starting_after_returns_every_event_once(metrics_setup, data) -> None:
    """The reference's pattern: re-request from the last event's second minus one, dedupe."""
    api, class_id, events, crowded = metrics_setup
    limit = data.draw(st.integers(crowded + 1, 1000), label="limit")
    first = parse_iso_ms(events[0]["event_start"]) // 1000
    last = parse_iso_ms(events[-1]["event_start"]) // 1000
    start = data.draw(st.one_of(st.none(), st.integers(first - 10, last + 10)), label="starting_after")
    expected = [e for e in events if start is None or parse_iso_ms(e["event_start"]) // 1000 > start]
    seen: dict[tuple, dict] = {}
    cursor = start
    while True:
        params = {"class_id": class_id, "limit": limit} | ({} if cursor is None else {"starting_after": cursor})
        page = ok(api.get("/reporting/metrics", **params))
        starts = [parse_iso_ms(e["event_start"]) for e in page]
        assert starts == sorted(starts)
        assert cursor is None or all(ms // 1000 > cursor for ms in starts)
        for event in page:
            assert seen.setdefault(_key(event), event) == event  # a re-read event is identical
        if len(page) < limit:
            break
        next_cursor = starts[-1] // 1000 - 1
        assert cursor is None or next_cursor > cursor  # progress: no second holds more than `limit` events
        cursor = next_cursor
    assert len(seen) == len(expected)
    assert sorted(seen) == sorted(_key(e) for e in expected)


@PROPERTY
@given(data=st.data())
def test_ending_before_bounds_event_end(metrics_setup, data) -> None:
    api, class_id, events, _ = metrics_setup
    ends = sorted(parse_iso_ms(e["event_end"]) // 1000 for e in events)
    bound = data.draw(st.integers(ends[0] - 5, ends[-1] + 5), label="ending_before")
    page = ok(api.get("/reporting/metrics", class_id=class_id, ending_before=bound, limit=1000))
    assert page == [e for e in events if parse_iso_ms(e["event_end"]) < bound * 1000][:1000]
