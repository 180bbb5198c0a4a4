"""Paging over the Class API: page/limit listings and the metrics endpoint's `starting_after` cursor.

`client.py` sends one request and maps its failures; this module decides which requests to send
and turns their bodies into records (typed Arrow tables for metrics), each record exactly once.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .client import API_PREFIX, BadResponseError, ClassApiClient, ClassApiError, decode_json
from .records import table_from_json, to_table


class PageCannotAdvanceError(ClassApiError):
    """More events share one second than fit in a page, so `starting_after` cannot move past them."""


async def list_pages(client: ClassApiClient, path: str, page_size: int = 1000) -> list[dict[str, Any]]:
    """All records of a page/limit endpoint: the first page, then the rest concurrently."""
    first = expect_envelope(await client.get(path, {"page": 1, "limit": page_size}), path)
    total_pages = int(first["pagination"].get("total_pages") or 1)
    rest = await asyncio.gather(
        *(client.get(path, {"page": page, "limit": page_size}) for page in range(2, total_pages + 1))
    )
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
) -> AsyncIterator[pa.Table]:
    """Yield a class's events page by page as typed `metrics` tables, each event exactly once.

    `starting_after` is exclusive and in whole seconds while events carry milliseconds, so after a
    full page the next request starts one second before the page's newest second and the events of
    that boundary second already yielded are dropped by their natural key. The bookkeeping is
    columnar: only the few events of the boundary second become Python tuples.
    """
    after = starting_after
    boundary_second: int | None = None
    already_yielded: set[tuple[Any, ...]] = set()
    while True:
        params: dict[str, Any] = {"class_id": class_id, "limit": page_size}
        if after is not None:
            params["starting_after"] = after
        if ending_before is not None:
            params["ending_before"] = ending_before
        page = await client.get("/reporting/metrics", params, decode=functools.partial(_metrics_page, class_id))
        seconds = _start_seconds(page)
        if boundary_second is not None:
            fresh = _without_keys(page, pc.equal(seconds, boundary_second), already_yielded)
        else:
            fresh = page
        if fresh.num_rows:
            yield fresh
        if page.num_rows < page_size:
            return
        first_second, last_second = (value.as_py() for value in pc.min_max(seconds).values())
        if first_second == last_second:
            raise PageCannotAdvanceError(
                f"class {class_id}: {page_size} or more events start within the second {last_second} "
                f"({_iso_second(last_second)}), so the metrics endpoint cannot page past them; "
                "report this to Class support (no events of this class after that second were loaded)"
            )
        boundary_second = last_second
        already_yielded = set(_keys(page.filter(pc.equal(seconds, last_second))))
        after = last_second - 1


async def _metrics_page(class_id: str, body: bytes, where: str) -> pa.Table:
    """A metrics page as a typed table: parsed by Arrow on a worker thread (off the GIL, so HTTP
    goes on meanwhile), or, for a page that is not exactly the documented shape, decoded and typed
    record by record so that the odd value is coerced or named."""
    constants = {"class_id": class_id}
    table = await asyncio.to_thread(table_from_json, "metrics", body, constants)
    if table is None:
        table = to_table("metrics", expect_list(decode_json(body, where), "/reporting/metrics"), constants)
    return table


def _start_seconds(page: pa.Table) -> pa.Array:
    """Each event's start as whole unix seconds (floored: the API's `starting_after` unit)."""
    start = pc.floor_temporal(page.column("event_start"), unit="second")
    return pc.divide(start.cast(pa.int64()), 1_000_000).combine_chunks()


def _keys(page: pa.Table) -> Iterator[tuple[Any, ...]]:
    """Natural keys of a class's events (the class is implied), as comparable Python tuples."""
    columns = [page.column(name).to_pylist() for name in ("student_id", "event_type")]
    columns.append(page.column("event_start").cast(pa.int64()).to_pylist())
    return zip(*columns)


def _without_keys(page: pa.Table, candidates: pa.Array, keys: set[tuple[Any, ...]]) -> pa.Table:
    """`page` minus the `candidates` rows whose natural key is in `keys`."""
    positions = pc.indices_nonzero(candidates).to_pylist()
    if not positions:
        return page
    keep = [True] * page.num_rows
    for position, key in zip(positions, _keys(page.take(positions))):
        if key in keys:
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
