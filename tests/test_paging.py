"""Metrics paging against hand-written servers: page boundaries inside one second, full pages, the end."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

import httpx
import pytest

from class_source.client import ClassApiClient
from class_source.paging import PageCannotAdvanceError, metrics_pages
from tests.test_client import make_client, run  # the same hand-written transport harness

def events_api(events: list[dict]) -> Callable[[httpx.Request], httpx.Response]:
    """A metrics endpoint over `events` with the documented semantics (starting_after exclusive, seconds)."""

    def second(event: dict) -> int:
        from datetime import datetime

        return int(datetime.fromisoformat(event["event_start"].replace("Z", "+00:00")).timestamp())

    def handler(request: httpx.Request) -> httpx.Response:
        after = request.url.params.get("starting_after")
        limit = int(request.url.params.get("limit", 100))
        selected = [e for e in events if after is None or second(e) > int(after)]
        return httpx.Response(200, content=json.dumps(selected[:limit]).encode())

    return handler


def event(second_of_minute: int, millis: int, student: str) -> dict:
    start = f"2026-10-01T09:00:{second_of_minute:02d}.{millis:03d}Z"
    return {"student_id": student, "event_type": "REACTION", "event_value": "clap", "event_start": start, "event_end": start}


def collect(client: ClassApiClient, **kwargs) -> list[dict]:
    async def go():
        out = []
        async for page in metrics_pages(client, "c1", starting_after=kwargs.get("after"), ending_before=None, page_size=kwargs["page_size"]):
            out.extend(page.to_pylist())
        return out

    return run(go())


def test_page_boundary_inside_one_second_loses_and_duplicates_nothing():
    # 3 events in second :00, 3 in second :01 (a wave of reactions), 2 in :02; pages of 4 end mid-second
    events = [event(0, i, f"s{i}") for i in range(3)] + [event(1, i, f"t{i}") for i in range(3)] + [event(2, i, f"u{i}") for i in range(2)]
    got = collect(make_client(events_api(events)), page_size=4)
    assert [(e["event_start"], e["student_id"]) for e in got] == [
        (datetime.fromisoformat(e["event_start"].replace("Z", "+00:00")), e["student_id"]) for e in events
    ]


@pytest.mark.parametrize("wave", [4, 5])
def test_full_page_within_one_second_fails_naming_the_class_instead_of_looping(wave):
    # with a full page inside one second, whether more events share it is unknowable: never guess
    events = [event(4, 0, "before")] + [event(5, i, f"s{i}") for i in range(wave)]
    with pytest.raises(PageCannotAdvanceError, match="class c1: 4 or more events start within the second"):
        collect(make_client(events_api(events)), page_size=4)


def test_exactly_full_last_page_ends_cleanly():
    events = [event(0, 0, "a"), event(1, 0, "b"), event(2, 0, "c"), event(3, 0, "d")]
    got = collect(make_client(events_api(events)), page_size=2)
    assert [e["student_id"] for e in got] == ["a", "b", "c", "d"]
