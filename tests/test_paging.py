"""Metrics paging against small hand-written servers, one per plausible reading of the API reference.

The reference says only "Query events starting after Unix timestamp (seconds)" and "limit: max
1000". These servers are written here, independently of the emulator, and read it differently:
`starting_after` compared with an event's second or its instant, events oldest first, newest first
or in no order, pages capped below `limit` or `limit` ignored, `starting_after` ignored. Under each
reading the connector must yield every event exactly once, or stop with one line naming the class.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timezone

import httpx
import pytest

from class_source.client import ClassApiClient
from class_source.paging import (
    PageCannotAdvanceError,
    ServerPageSize,
    UnexpectedPagingError,
    metrics_pages,
)
from tests.test_client import make_client, run  # the same hand-written transport harness

T0 = int(datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc).timestamp())


@dataclass
class Reading:
    starting_after: str = "whole-second"  # or "instant"
    order: str = "ascending"  # or "descending", "unordered"
    page_cap: int | None = None  # the server's own page size below `limit`
    honours_limit: bool = True
    honours_starting_after: bool = True


@dataclass
class Server:
    events: list[dict]
    reading: Reading
    requests: int = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        assert self.requests < 1_000, "the connector is looping"
        after = request.url.params.get("starting_after")
        limit = int(request.url.params.get("limit", 100))
        selected = [e for e in self.events if after is None or not self.reading.honours_starting_after or self._after(e, int(after))]
        selected.sort(key=lambda e: e["event_start"], reverse=self.reading.order == "descending")
        if self.reading.order == "unordered":
            random.Random(len(selected)).shuffle(selected)
        size = limit if self.reading.honours_limit else len(selected)
        if self.reading.page_cap is not None:
            size = min(size, self.reading.page_cap)
        return httpx.Response(200, content=json.dumps(selected[:size]).encode())

    def _after(self, event: dict, after: int) -> bool:
        start_ms = millis(event["event_start"])
        if self.reading.starting_after == "instant":
            return start_ms > after * 1000
        return start_ms // 1000 > after


def millis(iso: str) -> int:
    return round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def event(second: int, ms: int, student: str, value: str = "clap", event_type: str = "REACTION") -> dict:
    start = datetime.fromtimestamp(T0 + second + ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")
    start = start.replace("+00:00", "Z")
    return {"student_id": student, "event_type": event_type, "event_value": value, "event_start": start, "event_end": start}


def collect(client: ClassApiClient, *, page_size: int, after: int | None = None, server: ServerPageSize | None = None) -> list[dict]:
    async def go():
        out = []
        async for page in metrics_pages(
            client, "c1", starting_after=after, ending_before=None, page_size=page_size, server=server
        ):
            out.extend(page.to_pylist())
        return out

    return run(go())


def keys(events: list[dict]) -> list[tuple]:
    """What makes an event unique: student, type, value and the instant it started (ms)."""
    return sorted((e["student_id"], e["event_type"], e["event_value"], millis_of(e["event_start"])) for e in events)


def millis_of(start) -> int:
    return millis(start) if isinstance(start, str) else round(start.timestamp() * 1000)


def crowded_class() -> list[dict]:
    """22 events over 42 seconds: waves of reactions inside seconds, a second with one event at .000,
    two values of one student and type at the same millisecond, and a quiet gap."""
    events = [event(0, 0, "a"), event(0, 999, "b")]
    events += [event(1, 10 * i, f"wave1-{i}") for i in range(6)]  # six in one second
    events += [event(2, 0, "edge")]  # exactly on the second
    events += [event(3, 500, "pair", "clap"), event(3, 500, "pair", "laughing")]  # same instant, two values
    events += [event(3, 501, f"wave3-{i}") for i in range(4)]
    events += [event(6, 1, "late-a"), event(6, 2, "late-b"), event(40, 0, "gap")]
    events += [event(41, 250, f"tail-{i}") for i in range(4)]
    return events


EXACT_READINGS = {
    "whole seconds, oldest first": Reading(),
    "instants, oldest first": Reading(starting_after="instant"),
    "pages capped at 9 below limit": Reading(page_cap=9),
    "instants and pages capped at 10": Reading(starting_after="instant", page_cap=10),
    "limit ignored (everything at once)": Reading(honours_limit=False),
}


@pytest.mark.parametrize("reading", EXACT_READINGS.values(), ids=EXACT_READINGS.keys())
@pytest.mark.parametrize("page_size", [9, 12, 1000])  # a page holds the busiest two seconds (8)
def test_every_event_exactly_once_under_every_reading_it_can_page(reading, page_size):
    events = crowded_class()
    server = Server(events, reading)
    got = collect(make_client(server.handler), page_size=page_size)
    assert keys(got) == keys(events)
    assert len(got) == len(events) == 22


@pytest.mark.parametrize("reading", EXACT_READINGS.values(), ids=EXACT_READINGS.keys())
def test_a_cursor_in_the_middle_of_a_crowded_second_rereads_it_and_drops_nothing(reading):
    events = crowded_class()
    after = T0 + 1 - 1  # as the source asks after a cursor in second 1: from one second before it
    expected = [e for e in events if millis(e["event_start"]) >= (T0 + 1) * 1000]
    if reading.starting_after == "instant":
        expected = [e for e in events if millis(e["event_start"]) > after * 1000]
    got = collect(make_client(Server(events, reading).handler), page_size=9, after=after)
    assert keys(got) == keys(expected)


def test_two_values_at_one_instant_are_two_events():
    pair = [event(3, 500, "pair", "clap"), event(3, 500, "pair", "laughing")]
    got = collect(make_client(Server(pair, Reading()).handler), page_size=1000)
    assert sorted(e["event_value"] for e in got) == ["clap", "laughing"]


def test_a_short_page_is_confirmed_until_the_server_shows_it_fills_pages():
    events = crowded_class()
    server = Server(events, Reading(page_cap=9))
    sizes = ServerPageSize(12)
    got = collect(make_client(server.handler), page_size=12, server=sizes)
    assert keys(got) == keys(events)
    assert sizes.cap == 9  # learned from the first short page that had more after it
    # a second class on the same run trusts short pages below the learned cap
    small = [event(0, 1, "only")]
    again = Server(small, Reading(page_cap=9))
    assert keys(collect(make_client(again.handler), page_size=12, server=sizes)) == keys(small)
    assert again.requests == 1


def test_once_a_full_page_was_seen_a_short_page_ends_a_class_in_one_request():
    sizes = ServerPageSize(9)
    collect(make_client(Server(crowded_class(), Reading()).handler), page_size=9, server=sizes)
    assert sizes.fills_pages
    small = Server([event(0, 1, "x"), event(0, 2, "y")], Reading())
    collect(make_client(small.handler), page_size=9, server=sizes)
    assert small.requests == 1


def test_before_anything_is_known_a_short_page_costs_one_confirming_request():
    small = Server([event(0, 1, "x"), event(9, 2, "y")], Reading())
    sizes = ServerPageSize(5)
    got = collect(make_client(small.handler), page_size=5, server=sizes)
    assert len(got) == 2
    assert small.requests == 2 and sizes.confirmations == 1


UNREADABLE = {
    "newest first": (Reading(order="descending"), "not ordered oldest first"),
    "no order at all": (Reading(order="unordered"), "not ordered oldest first"),
    "starting_after ignored": (Reading(honours_starting_after=False), "ignores or misreads starting_after"),
}


@pytest.mark.parametrize("reading, message", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_a_server_it_cannot_page_exactly_is_detected_in_a_few_requests(reading, message):
    server = Server(crowded_class(), reading)
    with pytest.raises(UnexpectedPagingError, match=f"class c1: .*{message}"):
        collect(make_client(server.handler), page_size=9)
    assert server.requests <= 3


def test_a_small_class_from_a_newest_first_server_is_still_complete():
    # one short page holds every event whatever its order: nothing to detect, nothing lost
    events = [event(5, 0, "x"), event(1, 0, "y")]
    sizes = ServerPageSize(1000)
    sizes.fills_pages = True
    got = collect(make_client(Server(events, Reading(order="descending")).handler), page_size=1000, server=sizes)
    assert keys(got) == keys(events)


@pytest.mark.parametrize("wave", [4, 5])
def test_full_page_within_one_second_fails_naming_the_class_instead_of_looping(wave):
    # with a full page inside one second, whether more events share it is unknowable: never guess
    events = [event(4, 0, "before")] + [event(5, i, f"s{i}") for i in range(wave)]
    with pytest.raises(PageCannotAdvanceError, match="class c1: 4 or more events start within the second"):
        collect(make_client(Server(events, Reading()).handler), page_size=4)


def test_exactly_full_last_page_ends_cleanly():
    events = [event(0, 0, "a"), event(1, 0, "b"), event(2, 0, "c"), event(3, 0, "d")]
    got = collect(make_client(Server(events, Reading()).handler), page_size=2)
    assert [e["student_id"] for e in got] == ["a", "b", "c", "d"]


def test_an_event_without_a_value_is_kept_with_an_empty_value():
    no_value = dict(event(0, 0, "a"), event_value=None)
    got = collect(make_client(Server([no_value], Reading()).handler), page_size=1000)
    assert [(e["student_id"], e["event_value"]) for e in got] == [("a", "")]
