"""Readings of the API reference: where it is silent, which plausible server the emulator plays.

The reference says only "Query events starting after Unix timestamp (seconds)", gives `limit` as a
maximum, promises no order, no uniqueness of listed records and no order of its checks. Each field
of `ApiReadings` is one such silence; the defaults are the emulator's own reading (Choices 1 and 19
in app.py), so `ApiReadings()` changes nothing. The connector's exactness tests run under the
others. Readings change what the API *serves*, never the school: `School.ground_truth()` and
`iter_metrics` are the same under every reading except `same_instant_values`, which generates more
(real, distinct) events.

    Emulator(seed=7, classes=20, readings=ApiReadings(starting_after="instant", page_cap=250))
    emu.readings = ApiReadings(metrics_order="descending")   # takes effect on the next request
    POST /_emulator/readings {"metrics_order": "unordered"}  # same, for an emulator in another process
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

STARTING_AFTER_READINGS = ("whole-second", "instant")
METRICS_ORDERS = ("ascending", "descending", "unordered")
SCOPE_CHECK_ORDERS = ("scope-first", "validation-first")
# Every snapshot listing the API serves, by the warehouse table it feeds.
LISTINGS = ("classes", "deferred_classes", "enrollments", "schedules", "attendance", "templates", "users")

T = TypeVar("T")


@dataclass(frozen=True)
class ApiReadings:
    """One server's answers to the reference's silences (see the module docstring).

    starting_after: "whole-second" keeps events with floor(event_start_ms / 1000) > S; "instant"
        keeps event_start_ms > S * 1000 (an event at S.500 is after S).
    metrics_order: "ascending" (event_start, student_id, event_type, event_value); "descending" the
        reverse, so a page is the newest `limit` matching events; "unordered" the matching events
        in a fixed pseudo-random order of the events themselves, then the first `limit`: a page
        is an arbitrary subset (the same query answers the same page).
    page_cap: at most this many events per metrics page, whatever `limit` asks (None: no cap).
    limit_ignored: metrics pages hold every matching event, whatever `limit` says (page_cap, if
        set, still applies: then every page has page_cap events, at most).
    same_instant_values: the school also has pairs of events of one student and one event type
        starting at the same millisecond with different values (two reactions, two feedbacks); the
        pair is two real events, in the ground truth too.
    repeated_records: listings in which one record is served twice (True: every listing of
        LISTINGS). The record at position len // 2 is served again at the end of the listing (of
        each session's students, for attendance); paged users are paged over the listing with the
        repeat. Lookups of one record are unaffected.
    starting_after_ignored: the metrics endpoint validates starting_after, then ignores it.
    server_date: every API answer carries a `Date` header with the emulator's clock (False: none,
        as a server without a clock may do; the connector then reads every class every run).
    scope_check_order: "scope-first" answers 403 before any 400/404; "validation-first" answers a
        read (GET) request's 400/404 before its 403 (writes keep scope first: the emulator cannot
        validate a write without performing it).
    """

    starting_after: str = "whole-second"
    metrics_order: str = "ascending"
    page_cap: int | None = None
    limit_ignored: bool = False
    same_instant_values: bool = False
    repeated_records: frozenset[str] = field(default_factory=frozenset)
    starting_after_ignored: bool = False
    scope_check_order: str = "scope-first"
    server_date: bool = True

    def __post_init__(self) -> None:
        _choice("starting_after", self.starting_after, STARTING_AFTER_READINGS)
        _choice("metrics_order", self.metrics_order, METRICS_ORDERS)
        _choice("scope_check_order", self.scope_check_order, SCOPE_CHECK_ORDERS)
        if self.page_cap is not None and (isinstance(self.page_cap, bool) or not isinstance(self.page_cap, int) or self.page_cap < 1):
            raise ValueError(f"page_cap must be a positive integer or None, got {self.page_cap!r}")
        for name in ("limit_ignored", "same_instant_values", "starting_after_ignored", "server_date"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        object.__setattr__(self, "repeated_records", _listings(self.repeated_records))

    def summary(self) -> str:
        """One line naming the readings that differ from the emulator's own (for a startup banner)."""
        default = ApiReadings().to_json()
        changed = [f"{name}={_flag_value(value)}" for name, value in self.to_json().items() if value != default[name]]
        return ", ".join(changed) if changed else "the emulator's own (defaults)"

    def repeats(self, listing: str) -> bool:
        return listing in self.repeated_records

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["repeated_records"] = sorted(self.repeated_records, key=LISTINGS.index)
        return out

    def updated(self, changes: dict[str, Any]) -> "ApiReadings":
        """These readings with `changes` (an admin route's JSON object) applied; ValueError names
        the unknown field or the bad value."""
        if not isinstance(changes, dict):
            raise ValueError("send a JSON object of readings to change")
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"unknown readings {unknown}; known: {[f.name for f in dataclasses.fields(self)]}")
        return dataclasses.replace(self, **changes)


def repeat_one(records: list[T]) -> list[T]:
    """`records` with the one at position len // 2 served again at the end: [a, b, c] -> [a, b, c, b]."""
    if not records:
        return records
    return [*records, records[len(records) // 2]]


def _flag_value(value: object) -> str:
    if isinstance(value, list):
        return ",".join(value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def _listings(value: object) -> frozenset[str]:
    if value is True:
        return frozenset(LISTINGS)
    if value is False or value is None:
        return frozenset()
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"repeated_records must be true, false or a list of {', '.join(LISTINGS)}; got {value!r}")
    listings = frozenset(value)
    unknown = sorted(str(v) for v in listings - set(LISTINGS))
    if unknown:
        raise ValueError(f"repeated_records: unknown listing(s) {', '.join(unknown)}; known: {', '.join(LISTINGS)}")
    return listings


# ------------------------------------------------------------------ command line (class-elt emulator)
def add_reading_arguments(parser: argparse.ArgumentParser) -> None:
    """The `class-elt emulator` flags that choose a reading (defaults: the emulator's own)."""
    group = parser.add_argument_group("API readings", "how to read the reference where it is silent (default: ours)")
    group.add_argument(
        "--starting-after",
        choices=STARTING_AFTER_READINGS,
        default="whole-second",
        help="metrics starting_after=S keeps events whose start second is after S, or whose start instant is",
    )
    group.add_argument("--metrics-order", choices=METRICS_ORDERS, default="ascending", help="order of metrics events")
    group.add_argument("--page-cap", type=int, default=None, metavar="N", help="serve at most N events per metrics page")
    group.add_argument("--limit-ignored", action="store_true", help="serve every matching event whatever limit says")
    group.add_argument(
        "--same-instant-values",
        action="store_true",
        help="generate pairs of events of one student and type at one millisecond with different values",
    )
    group.add_argument(
        "--repeated-records",
        default="",
        metavar="LISTINGS",
        help=f"serve one record twice in these listings (comma-separated, or 'all'): {','.join(LISTINGS)}",
    )
    group.add_argument("--starting-after-ignored", action="store_true", help="metrics ignore starting_after")
    group.add_argument(
        "--scope-check-order",
        choices=SCOPE_CHECK_ORDERS,
        default="scope-first",
        help="403 before 400/404 (scope-first) or after (validation-first)",
    )
    group.add_argument("--no-server-date", action="store_true", help="send no Date header (a server without a clock)")


def readings_from_args(args: argparse.Namespace) -> ApiReadings:
    """ApiReadings of the flags added by `add_reading_arguments`; ValueError with a one-line message."""
    listings = [name.strip() for name in args.repeated_records.split(",") if name.strip()]
    return ApiReadings(
        starting_after=args.starting_after,
        metrics_order=args.metrics_order,
        page_cap=args.page_cap,
        limit_ignored=args.limit_ignored,
        same_instant_values=args.same_instant_values,
        repeated_records=frozenset(LISTINGS) if listings == ["all"] else frozenset(listings),
        starting_after_ignored=args.starting_after_ignored,
        scope_check_order=args.scope_check_order,
        server_date=not args.no_server_date,
    )
