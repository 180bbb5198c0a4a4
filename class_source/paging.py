"""Paging over the Class API: page/limit listings and the metrics endpoint's `starting_after` cursor.

`client.py` sends one request and maps its failures; this module decides which requests to send
and turns their bodies into records (typed Arrow tables for metrics), each record exactly once.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from .client import API_PREFIX, ClassApiClient, decode_json
from .errors import BadResponseError, PageCannotAdvanceError, UnexpectedPagingError
from .records import table_from_json, to_table

logger = logging.getLogger("class_elt")


class ServerPageSize:
    """What a run has learned about how many events the server puts in a metrics page.

    The reference gives `limit` only as a maximum, so a page shorter than `limit` proves that a class
    has no more events only once the server is known to fill its pages: after any page of `limit`
    events, or, on a server seen to cap pages lower, for pages shorter than that cap. Until then a
    short page is confirmed with one more request (`confirmations` counts them). One per run;
    `fills_pages` carries what an earlier run saw.
    """

    def __init__(self, limit: int, fills_pages: bool = False) -> None:
        self.limit = limit
        self.fills_pages = fills_pages
        self.cap: int | None = None
        self.confirmations = 0

    def is_full(self, rows: int) -> bool:
        """Whether a page of `rows` events may have stopped short of the class's end because it was full."""
        if rows >= self.limit:
            self.fills_pages = True
            return True
        return self.cap is not None and rows >= self.cap

    @property
    def known(self) -> bool:
        """Whether a page that is not full proves that no more events follow."""
        return self.fills_pages or self.cap is not None

    def learn_cap(self, rows: int, class_id: str) -> None:
        """A page of `rows` events turned out to be followed by more: the server caps pages there."""
        if self.cap is None or rows < self.cap:
            logger.warning(
                "the metrics endpoint answered %d events for limit=%d and had more (class %s): paging as if it caps pages at %d events",
                rows,
                self.limit,
                class_id,
                rows,
            )
            self.cap = rows


LIST_PAGE_SIZE = 1000  # the largest `limit` the reference allows


class Getter(Protocol):
    """What sends a GET: the client, or the run's session (which may hold the answer already)."""

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any: ...


def page_query(page: int, page_size: int = LIST_PAGE_SIZE) -> dict[str, Any]:
    """The query of one page of a page/limit listing."""
    return {"page": page, "limit": page_size}


async def list_pages(api: Getter, path: str, page_size: int = LIST_PAGE_SIZE) -> list[dict[str, Any]]:
    """All records of a page/limit endpoint: the first page, then the rest concurrently."""
    first = expect_envelope(await api.get(path, page_query(1, page_size)), path)
    total_pages = int(first["pagination"].get("total_pages") or 1)  # bounded by the client (MAX_TOTAL_PAGES)
    rest = await asyncio.gather(*(api.get(path, page_query(page, page_size)) for page in range(2, total_pages + 1)))
    records = list(first["data"])
    for body in rest:
        records.extend(expect_envelope(body, path)["data"])
    return records


async def metrics_pages(
    client: ClassApiClient,
    class_id: str,
    *,
    starting_after: int | None,
    ending_before: int | None,
    page_size: int,
    server: ServerPageSize | None = None,
) -> AsyncIterator[pa.Table]:
    """Yield a class's events page by page as typed `metrics` tables, each event exactly once.

    `starting_after` is in whole seconds while events carry milliseconds, and the reference does not
    say whether it compares an event's second or its instant. So the request after a page starts one
    second before the page's newest second: under either reading that re-reads the newest second
    (and on an instant-comparing server most of the one before), and every event already yielded at
    or after the new `starting_after` is dropped by its natural key. A page is checked before any of
    it is yielded: its events must start after the `starting_after` asked for, end before the
    `ending_before` asked for, and, if the next request depends on it, come oldest first; and every
    request must move `starting_after` forward. A server that pages otherwise stops the run with one
    line naming the class, never a loop or a skipped event.
    """
    server = server or ServerPageSize(page_size)
    after = starting_after
    yielded: set[tuple[Any, ...]] = set()  # keys yielded that start at or after `after`: a page may repeat them
    confirming: int | None = None  # size of the short page the previous request followed up
    stalled = False
    while True:
        params: dict[str, Any] = {"class_id": class_id, "limit": page_size}
        if after is not None:
            params["starting_after"] = after
        if ending_before is not None:
            params["ending_before"] = ending_before
        # `yielded` is not changed until the page is back: the parsing thread may read it meanwhile
        page = await client.get("/reporting/metrics", params, decode=functools.partial(_metrics_page, class_id, yielded), later=True)
        if not page.rows:
            return
        _check_window(class_id, page, after, ending_before)
        fresh = page.fresh
        if confirming is not None and fresh.num_rows:
            server.learn_cap(confirming, class_id)
        full = server.is_full(page.rows)
        if not full and server.known:
            if fresh.num_rows:
                yield fresh
            return
        _check_oldest_first(class_id, page)
        if fresh.num_rows:
            yield fresh
        next_after = page.next_after
        if after is not None and next_after <= after:
            if full:
                raise PageCannotAdvanceError(
                    f"class {class_id}: {page.rows} or more events start within the second {next_after + 1} "
                    f"({_iso_second(next_after + 1)}) or just before it, so the metrics endpoint cannot page past "
                    "them; report this to Class support (no events of this class after that second were loaded)"
                )
            if not fresh.num_rows:
                return  # a follow-up that found nothing new: the class is complete
            if stalled:
                raise UnexpectedPagingError(
                    f"class {class_id}: the metrics endpoint keeps answering new events at starting_after={after} "
                    "without letting the cursor advance; nothing was loaded, report this to Class support"
                )
            stalled = True
        else:
            stalled = False
        yielded = {key for key in yielded if key[2] >= next_after * 1_000_000}
        yielded.update(page.tail_keys)
        confirming = None if full else page.rows
        server.confirmations += confirming is not None
        after = next_after


@dataclass(frozen=True)
class _Page:
    """A metrics page and what paging needs to know of it, worked out where the page is parsed (a
    worker thread, for the usual page) so that the event loop, which serves every request, only
    compares numbers. Starts and ends are epoch microseconds."""

    rows: int
    fresh: pa.Table  # the page minus the events already yielded
    oldest: int | None
    newest_end: int | None
    oldest_first: bool
    # the request after this page: `starting_after` one second before the page's newest second
    # (floors: starts are after the epoch), and the keys of the page's events from then on (its tail
    # when it is oldest first; empty otherwise, as paging then stops)
    next_after: int
    tail_keys: list[tuple[Any, ...]]


async def _metrics_page(class_id: str, yielded: set[tuple[Any, ...]], body: bytes, where: str) -> _Page:
    """A metrics page, parsed and measured by Arrow on a worker thread (off the GIL, so HTTP goes on
    meanwhile), or, for a page that is not exactly the documented shape, decoded and typed record
    by record so that the odd value is coerced or named."""
    page = await asyncio.to_thread(_fast_page, class_id, yielded, body)
    if page is None:
        page = _measured(to_table("metrics", expect_list(decode_json(body, where), "/reporting/metrics"), {"class_id": class_id}), yielded)
    return page


def _fast_page(class_id: str, yielded: set[tuple[Any, ...]], body: bytes) -> _Page | None:
    table = table_from_json("metrics", body, {"class_id": class_id})
    return None if table is None else _measured(table, yielded)


def _measured(table: pa.Table, yielded: set[tuple[Any, ...]]) -> _Page:
    starts = table.column("event_start").cast(pa.int64()).combine_chunks()  # UTC_TS: epoch microseconds
    if not len(starts):
        return _Page(rows=0, fresh=table, oldest=None, newest_end=None, oldest_first=True, next_after=0, tail_keys=[])
    oldest, newest = (value.as_py() for value in pc.min_max(starts).values())
    oldest_first = len(starts) < 2 or not pc.any(pc.less(starts[1:], starts[:-1])).as_py()
    next_after = newest // 1_000_000 - 1
    # only events up to the newest start already yielded can be repeats: a second or two of the page
    fresh = _without_keys(table, pc.less_equal(starts, max(key[2] for key in yielded)), yielded) if yielded else table
    # oldest first, the events from `next_after` on are the page's tail
    tail = pc.sum(pc.greater_equal(starts, next_after * 1_000_000)).as_py() if oldest_first else 0
    return _Page(
        rows=table.num_rows,
        fresh=fresh,
        oldest=oldest,
        newest_end=pc.max(table.column("event_end").cast(pa.int64())).as_py(),
        oldest_first=oldest_first,
        next_after=next_after,
        tail_keys=list(_keys(table.slice(table.num_rows - tail))) if tail else [],
    )


def _check_window(class_id: str, page: _Page, after: int | None, ending_before: int | None) -> None:
    """Refuse a page with events outside the window asked for (e.g. a server ignoring starting_after,
    which would otherwise be asked for the same page forever)."""
    if after is not None and page.oldest is not None and page.oldest <= after * 1_000_000:
        raise UnexpectedPagingError(
            f"class {class_id}: GET {API_PREFIX}/reporting/metrics?starting_after={after} answered events that start "
            f"at or before {_iso_second(after)}: the server ignores or misreads starting_after, so its events cannot "
            "be paged exactly; nothing was loaded, report this to Class support"
        )
    if ending_before is not None and (page.newest_end or 0) >= ending_before * 1_000_000:
        raise UnexpectedPagingError(
            f"class {class_id}: GET {API_PREFIX}/reporting/metrics?ending_before={ending_before} answered events that "
            f"end at or after {_iso_second(ending_before)}: the server ignores ending_before; nothing was loaded"
        )


def _check_oldest_first(class_id: str, page: _Page) -> None:
    """The next request starts after this page's newest second, which is exact only if the page holds
    the oldest events after the cursor: it must come oldest first."""
    if not page.oldest_first:
        raise UnexpectedPagingError(
            f"class {class_id}: the metrics endpoint answered a page whose events are not ordered oldest first, so "
            "paging by starting_after could skip events; nothing was loaded, report this to Class support"
        )


_KEY_COLUMNS = ("student_id", "event_type", "event_start", "event_value")


def _keys(page: pa.Table) -> Iterator[tuple[Any, ...]]:
    """Natural keys of a class's events (the class is implied), as comparable Python tuples; the
    start (epoch microseconds) is third."""
    columns = [page.column(name).to_pylist() for name in ("student_id", "event_type")]
    columns.append(page.column("event_start").cast(pa.int64()).to_pylist())
    columns.append(page.column("event_value").to_pylist())
    return zip(*columns)


def _without_keys(page: pa.Table, candidates: pa.Array, keys: set[tuple[Any, ...]]) -> pa.Table:
    """`page` minus the `candidates` rows whose natural key is in `keys`."""
    positions = pc.indices_nonzero(candidates).to_pylist()
    if not positions:
        return page
    repeated = [position for position, key in zip(positions, _keys(page.select(_KEY_COLUMNS).take(positions))) if key in keys]
    if not repeated:
        return page
    if repeated[-1] == len(repeated) - 1:  # the usual case: the page begins with what was yielded
        return page.slice(len(repeated))
    keep = [True] * page.num_rows
    for position in repeated:
        keep[position] = False
    return page.filter(pa.array(keep))


def _iso_second(second: int) -> str:
    return datetime.fromtimestamp(second, tz=timezone.utc).isoformat()


def expect_list(body: Any, path: str) -> list[dict[str, Any]]:
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise BadResponseError(f"GET {API_PREFIX}{path} answered {type(body).__name__}, expected a JSON array of objects")
    return body


def expect_envelope(body: Any, path: str) -> dict[str, Any]:
    if not (isinstance(body, dict) and isinstance(body.get("data"), list) and isinstance(body.get("pagination"), dict)):
        raise BadResponseError(f"GET {API_PREFIX}{path} answered without the documented {{data, pagination}} envelope")
    return body
