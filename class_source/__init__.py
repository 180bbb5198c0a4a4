"""dlt source for the Class virtual-classroom API: classes, rosters, schedules, users, templates,
attendance and in-class activity metrics.

Snapshot resources replace their table on every run (so rows deleted in Class disappear), except
`enrollments`, kept as dlt scd2 history (a removed enrollment is closed, not erased). `attendance`
and `metrics` are asked only of the classes that may have met since their last read (activity.py):
attendance replaces the rows of each class asked; metrics is incremental with one `starting_after`
cursor per class, kept in this resource's dlt state and therefore committed in the same load
package as the events it covers.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Optional

import dlt
import httpx
import pendulum
import pyarrow as pa
import pyarrow.compute as pc
from dlt import TSecretStrValue

from .activity import ActivityRule, meetings_of
from .dlt_compat import TScd2StrategyDict
from .errors import BadResponseError, ConfigError, ScopeError
from .lock import dataset_guard
from .paging import ServerPageSize, expect_list, list_pages, metrics_pages
from .parts import continue_later, part_limit
from .pii import PiiPolicy
from .progress import Progress
from .records import column_hints, keys_are_distinct, to_table
from .scopes import RESOURCE_SCOPES
from .session import ApiSession

logger = logging.getLogger("class_elt")

__all__ = ["class_source", "embedded_source", "KEYS", "RESOURCES", "METRICS_KEY", "ROSTER_HISTORY"]

RESOURCES: tuple[str, ...] = tuple(RESOURCE_SCOPES)
# natural keys: what makes a record unique in its table (two values at one instant are two events)
KEYS: dict[str, tuple[str, ...]] = {
    "classes": ("class_id",),
    "deferred_classes": ("class_deferred_id",),
    "users": ("id",),
    "templates": ("template_id",),
    "enrollments": ("class_id", "student_id"),
    "schedules": ("schedule_id",),
    "attendance": ("class_id", "session_id", "student_id"),
    "metrics": ("class_id", "student_id", "event_type", "event_start", "event_value"),
}
METRICS_KEY = KEYS["metrics"]
# What a re-read replaces: every stored event of its class, student, type and instant, so a value the
# API corrects (or a broken server sent mangled) is not kept beside the right one. Safe because a
# re-read brings back every value of an instant (they share the start that starting_after selects
# by), except in a backfill, whose ending_before selects by end: there only the key applies.
EVENT_INSTANT = ("class_id", "student_id", "event_type", "event_start")
ROSTER_HISTORY: TScd2StrategyDict = {"disposition": "merge", "strategy": "scd2"}
CLASSES_LOADED = "class_id IN (SELECT class_id FROM {staging_table})"
REMOVED = "_class_elt_removed"  # attendance: true on a marker row that deletes its class's rows (never stored)
ARROW_BATCH_ROWS = 50_000  # fewer, larger items: dlt's per-item cost stays negligible
# metrics pages fetched ahead of the extract (~0.2 MB each) in a first load in parts: its requests go
# on while a package loads (parts.py), ~1.9 s at 16 requests in flight and 50 ms
METRICS_BUFFER_PAGES = 600


@dlt.source(name="class_api", section="class_api")
def class_source(
    base_url: str = dlt.config.value,
    api_key: str = dlt.secrets.value,
    max_concurrency: int = 16,
    lookback_hours: float = 24.0,
    start_date: Optional[str] = None,
    end_date: Optional[str] = None,
    skip_missing_scopes: bool = False,
    request_timeout_s: float = 30.0,
    max_retries: int = 6,
    max_response_mb: float = 64,
    metrics_page_size: int = 1000,
    recheck_days: float = 7.0,
    pii: str = "keep",
    pii_salt: Optional[TSecretStrValue] = None,
    load_part_events: int = 0,
) -> Any:
    """All of an organization's Class data (every argument is configuration: see README)."""
    if lookback_hours < 0:
        raise ConfigError(f"lookback_hours must be >= 0, got {lookback_hours}")
    if recheck_days < 0:
        raise ConfigError(f"recheck_days must be >= 0 (0: ask every class every run), got {recheck_days}")
    if load_part_events < 0:
        raise ConfigError(f"load_part_events must be >= 0 (0: a first load's events in one load package), got {load_part_events}")
    if not 1 <= metrics_page_size <= 1000:
        raise ConfigError(f"metrics_page_size must be between 1 and 1000, got {metrics_page_size}")
    start_s, end_s = _unix_seconds("start_date", start_date), _unix_seconds("end_date", end_date)
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise ConfigError(f"end_date {end_date} must be after start_date {start_date}")
    embedding = _EMBEDDING.get() or _Embedding()
    session = ApiSession(
        base_url,
        api_key,
        max_concurrency=max_concurrency,
        timeout_s=request_timeout_s,
        max_retries=max_retries,
        max_response_bytes=int(max_response_mb * 1024 * 1024),
        skip_missing_scopes=skip_missing_scopes,
        transport=embedding.transport,
        progress=embedding.progress,
        pii=PiiPolicy(pii, pii_salt),
    )
    reading = MetricsSettings(int(lookback_hours * 3600), recheck_days, start_s, end_s, metrics_page_size, load_part_events)
    return (
        classes(session),
        deferred_classes(session),
        users(session),
        templates(session),
        enrollments(session),
        schedules(session),
        attendance(session, recheck_days),
        _metrics_for_window(metrics(session, reading), end_s),
    )


@dataclass(frozen=True)
class _Embedding:
    transport: Optional[httpx.AsyncBaseTransport] = None
    progress: Optional[Progress] = None


_EMBEDDING: ContextVar[Optional[_Embedding]] = ContextVar("class_elt_embedding", default=None)


def embedded_source(*, transport: Optional[httpx.AsyncBaseTransport] = None, progress: Optional[Progress] = None, **config: Any) -> Any:
    """`class_source(**config)` whose requests go through `transport` (e.g. the in-process emulator's)
    and whose progress goes to `progress` (e.g. the CLI's live line). Neither is configuration, so
    neither is a parameter of the dlt source, where dlt would inject it from config or environment."""
    token = _EMBEDDING.set(_Embedding(transport, progress))
    try:
        return class_source(**config)
    finally:
        _EMBEDDING.reset(token)


def _extracting(resource: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    """The API is open while a resource extracts: the last one to finish closes it."""

    @functools.wraps(resource)
    def extract(session: ApiSession, *args: Any) -> Iterator[Any]:
        with session.extracting():
            yield from resource(session, *args)

    return extract


@dlt.resource(name="classes", primary_key=KEYS["classes"], write_disposition="replace")
@_extracting
def classes(session: ApiSession) -> Iterator[pa.Table]:
    """Regular (scheduled) classes from GET /classes, replaced in full every run."""
    if _runnable(session, "classes"):
        yield _counted(session, "classes", _unique("classes", _typed(session, "classes", session.directory().classes)))


@dlt.resource(name="deferred_classes", primary_key=KEYS["deferred_classes"], write_disposition="replace")
@_extracting
def deferred_classes(session: ApiSession) -> Iterator[pa.Table]:
    """Deferred class records from GET /classes?deferred=true, replaced in full every run."""
    if _runnable(session, "deferred_classes"):
        deferred = _typed(session, "deferred_classes", session.directory().deferred_classes)
        yield _counted(session, "deferred_classes", _unique("deferred_classes", deferred))


@dlt.resource(name="users", primary_key=KEYS["users"], write_disposition="replace", columns=column_hints("users"))
@_extracting
def users(session: ApiSession) -> Iterator[list[dict[str, Any]]]:
    """Users (instructors, admins) from GET /users, 1,000 per page, pages fetched concurrently."""
    if _runnable(session, "users"):
        records = session.run(list_pages(session, "/users"))
        # typed through Arrow, yielded as rows: a list column can't be written to Postgres' csv load files
        yield _counted(session, "users", _unique("users", _typed(session, "users", records))).to_pylist()


@dlt.resource(name="templates", primary_key=KEYS["templates"], write_disposition="replace")
@_extracting
def templates(session: ApiSession) -> Iterator[pa.Table]:
    """Class templates from GET /templates, replaced in full every run."""
    if _runnable(session, "templates"):
        records = expect_list(session.run(session.get("/templates")), "/templates")
        yield _counted(session, "templates", _unique("templates", _typed(session, "templates", records)))


@dlt.resource(name="enrollments", write_disposition=ROSTER_HISTORY, columns=column_hints("enrollments"), parallelized=True)
@_extracting
def enrollments(session: ApiSession) -> Iterator[list[dict[str, Any]]]:
    """Rosters of every regular and deferred class (one request per class), kept as SCD2 history: a
    changed or removed enrollment gets `_dlt_valid_to` set, the current roster has it null."""
    if _runnable(session, "enrollments"):
        # rows, not Arrow: dlt's scd2 hashes each row to tell versions apart
        for table in _per_class_snapshot(session, "enrollments", "/class/enrollments", session.directory().all_ids):
            yield table.to_pylist()


@dlt.resource(name="schedules", primary_key=KEYS["schedules"], write_disposition="replace", parallelized=True)
@_extracting
def schedules(session: ApiSession) -> Iterator[pa.Table]:
    """Class dates of every regular and deferred class (GET /schedules per class), unix times as UTC timestamps."""
    if _runnable(session, "schedules"):
        yield from _per_class_snapshot(session, "schedules", "/schedules", session.directory().all_ids, get=session.schedules_of)


@dlt.resource(
    name="attendance",
    primary_key=KEYS["attendance"],
    # the classes in this load lose all their stored rows (a semi-join; a class merge key would be
    # OR-ed with the primary key by dlt and join every stored row with every new row of its class)
    write_disposition={"disposition": "merge", "strategy": "delete-insert", "destination_scope": CLASSES_LOADED},
    columns={REMOVED: {"data_type": "bool", "nullable": True, "hard_delete": True}},
    parallelized=True,
)
@_extracting
def attendance(session: ApiSession, recheck_days: float) -> Iterator[pa.Table]:
    """Attendance of every started session, one row per class, session and student; each class read
    replaces that class's rows, and a run reads only the classes that may have met since their last
    read (README, "Which classes a run asks"); a class no longer listed loses its rows."""
    if not _runnable(session, "attendance"):
        return
    state = dlt.current.resource_state()
    read_at: dict[str, int] = state.get("read_at_s", {})
    class_ids = session.directory().regular_ids
    listed = set(class_ids)
    gone = [class_id for class_id in read_at if class_id not in listed]
    rule = _activity_rule(session, recheck_days)
    asks = _asks(session, rule, dict(read_at))
    session.progress.start("attendance", len(class_ids))

    async def fetch(class_id: str):  # type: ignore[no-untyped-def]
        if await asks(class_id):
            yield await session.get("/reporting/attendance", {"class_id": class_id})
        else:
            yield _SKIPPED

    batch = _Batcher("attendance")
    read: list[str] = []
    repeated = 0
    try:
        for class_id, body in session.per_class(class_ids, fetch):
            if body is _SKIPPED:
                session.progress.advance("attendance", not_asked=1)
                continue
            typed = _typed(session, "attendance", _flatten_attendance(class_id, body), {"class_id": class_id})
            rows = _unique("attendance", typed, warn=False)
            repeated += typed.num_rows - rows.num_rows
            read.append(class_id)
            session.progress.advance("attendance", rows=rows.num_rows, classes=1)
            item = rows.append_column(REMOVED, pa.nulls(rows.num_rows, pa.bool_())) if rows.num_rows else _removals([class_id])
            yield from batch.add(item)
    except ScopeError as error:
        if read:
            raise  # the scope went away during the run: nothing of it loads
        session.refused("attendance", error)  # nothing yielded, the state untouched: the table stays as it was
        _skipped("attendance")
        return
    yield from batch.add(_removals(gone))
    yield from batch.flush()
    # the state goes with this package: a class's rows and its read time load together
    state["read_at_s"] = {class_id: at for class_id, at in read_at.items() if class_id in listed} | dict.fromkeys(read, rule.now_s)
    _warn_repeated("attendance", repeated)


@dataclass(frozen=True)
class MetricsSettings:
    """How the metrics resource reads (class_source's arguments, in seconds)."""

    lookback_s: int
    recheck_days: float
    start_s: Optional[int]
    end_s: Optional[int]  # a backfill's end: its window is read whole and no cursor moves
    page_size: int
    part_events: int  # parts.py; 0: one package


@dlt.resource(name="metrics", primary_key=METRICS_KEY, merge_key=EVENT_INSTANT, write_disposition="merge", parallelized=True)
@_extracting
def metrics(session: ApiSession, settings: MetricsSettings) -> Iterator[pa.Table]:
    """Activity events of every class, incremental per class on `starting_after`, re-reading the lookback
    before each class's cursor so events that end late still land, and asking only the classes that
    may have met since their last read; merged on the event's natural key, first load included, so a
    retried or repeated load never duplicates an event. With `settings.part_events` set, class-elt's runner loads a
    first load in packages of about that many events, each while the next is fetched (parts.py)."""
    if not _runnable(session, "metrics"):
        return
    with dataset_guard(dlt.current.pipeline()):  # the cursors below must not be read by two runs at once
        yield from _metrics(session, settings)


def _metrics(session: ApiSession, settings: MetricsSettings) -> Iterator[pa.Table]:
    limit = part_limit(settings.part_events)  # None: every event in this package
    read = session.metrics_read or _begin_metrics_read(session, settings, in_parts=limit is not None)
    batch = _Batcher("metrics")
    rows = 0
    shared = False  # whether other resources extracted in this package too
    continues = False
    try:
        for class_id, page in _refusal_checked(session, read):
            if page is _SKIPPED:
                session.progress.advance("metrics", not_asked=1)
                continue
            if page is None:  # the class is complete
                read.completed.append(class_id)
                session.progress.advance("metrics", classes=1)
                continue
            table = session.pii.apply("metrics", page)
            read.saw(class_id, table)
            session.progress.advance("metrics", rows=table.num_rows)
            rows += table.num_rows
            yield from batch.add(table)
            shared = shared or session.resources_extracting > 1
            # the rest goes into the next package (parts.py): once the other resources are done, so that
            # their package loads while the metrics are fetched, then every `limit` events
            if limit is not None and session.resources_extracting == 1 and (shared or rows >= limit):
                yield from batch.flush()
                continues = True
                continue_later(read)
                return
        if read.refused:
            return
        yield from batch.flush()
        read.commit(dlt.current.resource_state())
    finally:
        if not continues:
            read.close()


def _refusal_checked(session: ApiSession, read: MetricsRead) -> Iterator[tuple[str, Any]]:
    """`read.pages`; a 403 before any page was read ends them as `session.refused` says (the read
    yielded nothing and commits nothing: the table and the cursors stay as they were)."""
    try:
        for class_id, page in read.pages:
            read.answered = read.answered or page is not _SKIPPED
            yield class_id, page
    except ScopeError as error:
        if read.answered:
            raise  # the scope went away during the run: nothing of it loads
        session.refused("metrics", error)
        _skipped("metrics")
        read.refused = True


def _begin_metrics_read(session: ApiSession, settings: MetricsSettings, *, in_parts: bool) -> MetricsRead:
    lookback_s, start_s, end_s, page_size = settings.lookback_s, settings.start_s, settings.end_s, settings.page_size
    rule = _activity_rule(session, settings.recheck_days)
    backfill = end_s is not None  # an explicit window: read it, leave the cursors alone
    state = dlt.current.resource_state()
    cursors: dict[str, int] = state.get("last_event_start_ms", {})
    read_at: dict[str, int] = state.get("read_at_s", {})
    class_ids = session.directory().regular_ids
    starting_after = {
        class_id: _metrics_starting_after(None if backfill else cursors.get(class_id), lookback_s, start_s) for class_id in class_ids
    }
    # a backfill reads its whole window; otherwise a class that cannot have met since its last read is not asked
    asks = _asks(session, rule, {} if backfill else dict(read_at))
    # a server seen filling pages of this size in an earlier run is trusted to keep doing so (were it
    # to start capping them, the events past a capped page land one run later: cursors only pass
    # events loaded); otherwise this run confirms short pages until it sees a full one
    server = ServerPageSize(page_size, fills_pages=state.get("server_fills_pages_of", 0) >= page_size)
    session.progress.start("metrics", len(class_ids))

    async def fetch(class_id: str):  # type: ignore[no-untyped-def]
        if not await asks(class_id):
            yield _SKIPPED
            return
        pages = metrics_pages(
            session.client, class_id, starting_after=starting_after[class_id], ending_before=end_s, page_size=page_size, server=server
        )
        async for page in pages:
            yield page
        yield None  # the class is complete (progress counts finished classes)

    hold = contextlib.ExitStack()
    hold.enter_context(session.using())  # the API stays open between parts
    pages = session.per_class(class_ids, fetch, weight=3, buffer=METRICS_BUFFER_PAGES if in_parts else 0)
    read = MetricsRead(session, hold, pages, server, backfill, rule.now_s)
    session.metrics_read = read
    return read


@dataclass
class MetricsRead:
    """One run's read of every class's events, in one package or several (parts.py), and what it has
    learned: written to the resource's state when the read is complete, so that the cursors reach the
    destination with the last of the events they cover."""

    session: ApiSession
    hold: contextlib.ExitStack
    pages: Iterator[tuple[str, Any]]  # (class_id, page | None at the class's end | _SKIPPED)
    server: ServerPageSize
    backfill: bool
    now_s: int
    newest_ms: dict[str, int] = field(default_factory=dict)
    completed: list[str] = field(default_factory=list)
    answered: bool = False  # whether any class's page has come back (the scope is granted)
    refused: bool = False  # answered 403 before that, with skip_missing_scopes: nothing to commit

    def saw(self, class_id: str, page: pa.Table) -> None:
        newest_us = pc.max(page["event_start"].cast(pa.int64())).as_py()  # UTC_TS: epoch microseconds
        if newest_us is not None:
            self.newest_ms[class_id] = max(self.newest_ms.get(class_id, 0), newest_us // 1000)

    def commit(self, state: dict[str, Any]) -> None:
        cursors: dict[str, int] = state.setdefault("last_event_start_ms", {})
        read_at: dict[str, int] = state.setdefault("read_at_s", {})
        if not self.backfill:
            for class_id, newest_ms in self.newest_ms.items():
                cursors[class_id] = max(cursors.get(class_id, newest_ms), newest_ms)
            read_at.update(dict.fromkeys(self.completed, self.now_s))
        if self.server.fills_pages:
            state["server_fills_pages_of"] = max(self.server.limit, state.get("server_fills_pages_of", 0))
        if self.server.confirmations:
            logger.info("metrics: %d request(s) confirmed that a short page ended its class", self.server.confirmations)

    def close(self) -> None:
        """End the requests (if any are left) and let the API close."""
        if self.session.metrics_read is self:
            self.session.metrics_read = None
        close = getattr(self.pages, "close", None)
        if close is not None:
            close()
        self.hold.close()


# --- helpers -------------------------------------------------------------------------------------


_SKIPPED = object()  # a class the activity rule did not ask


def _activity_rule(session: ApiSession, recheck_days: float) -> ActivityRule:
    """This run's activity rule; it asks every class when the API sends no clock (no Date header),
    the key cannot read schedules, or recheck_days is 0."""
    now_s = session.directory().server_now_s
    if now_s is None or not recheck_days or not session.can_read_schedules():
        return ActivityRule(now_s=now_s or 0, recheck_s=None)
    return ActivityRule(now_s=now_s, recheck_s=int(recheck_days * 86400))


def _asks(session: ApiSession, rule: ActivityRule, read_at: dict[str, int]) -> Callable[[str], Awaitable[bool]]:
    """Whether to ask a class this run (on the event loop: may wait for the class's schedules)."""

    async def asks(class_id: str) -> bool:
        last_read_s = read_at.get(class_id)
        if rule.recheck_s is None or last_read_s is None:
            return True
        return rule.needs_reading(last_read_s, meetings_of(await session.schedules_of(class_id)))

    return asks


def _removals(class_ids: Sequence[str]) -> pa.Table:
    """One marker row per class whose stored attendance rows must go (the class is gone, or has none)."""
    rows = [{"class_id": class_id, "session_id": "", "student_id": ""} for class_id in class_ids]
    table = to_table("attendance", rows)
    return table.append_column(REMOVED, pa.array([True] * len(rows), pa.bool_()))


def _metrics_for_window(resource: Any, end_s: Optional[int]) -> Any:
    if end_s is not None:  # a backfill reads by end: one value of an instant may be outside it
        resource.apply_hints(merge_key=())
    return resource


def _runnable(session: ApiSession, resource: str) -> bool:
    """Whether the key can read `resource`; a missing scope of any selected resource fails (naming
    them all) or, with skip_missing_scopes, skips the resources that need it (`_skipped`)."""
    selected = [name for name in dlt.current.source().selected_resources if name in RESOURCES]
    if resource in session.runnable(selected or [resource]):
        return True
    _skipped(resource)
    return False


def _skipped(resource: str) -> None:
    """Leave `resource`'s table as it is: dlt would empty a replaced table whose selected resource
    yielded nothing, so the resource takes itself out of the selection dlt reads after extracting."""
    dlt.current.source().resources[resource].selected = False


def _typed(session: ApiSession, table: str, records: Any, constants: Optional[dict[str, Any]] = None) -> pa.Table:
    return session.pii.apply(table, to_table(table, records, constants))


def _unique(table: str, records: pa.Table, *, warn: bool = True) -> pa.Table:
    """`records` with one row per natural key (the last the API sent): the API may repeat a record
    (a class listed twice, offset paging over a changing listing) and a replaced table must not."""
    key = list(KEYS[table])
    if records.num_rows < 2 or keys_are_distinct(records, key):
        return records
    positions = pa.array(range(records.num_rows), type=pa.int64())
    last = records.select(key).append_column("_position", positions).group_by(key, use_threads=False).aggregate([("_position", "max")])
    if last.num_rows == records.num_rows:
        return records
    if warn:
        _warn_repeated(table, records.num_rows - last.num_rows)
    kept = last.column("_position_max").combine_chunks()
    return records.take(pc.take(kept, pc.array_sort_indices(kept)))  # in the order the API sent them


def _warn_repeated(table: str, repeated: int) -> None:
    if repeated:
        logger.warning("the API sent %d repeated %s record(s) (same %s); each is loaded once", repeated, table, ", ".join(KEYS[table]))


def _counted(session: ApiSession, resource: str, table: pa.Table) -> pa.Table:
    session.progress.advance(resource, rows=table.num_rows)
    return table


def _per_class_snapshot(
    session: ApiSession,
    table: str,
    path: str,
    class_ids: Sequence[str],
    flatten: Any = None,
    get: Optional[Callable[[str], Awaitable[Any]]] = None,
) -> Iterator[pa.Table]:
    session.progress.start(table, len(class_ids))

    async def fetch(class_id: str):  # type: ignore[no-untyped-def]
        yield await (get(class_id) if get else session.get(path, {"class_id": class_id}))

    batch = _Batcher(table)
    repeated = 0
    for class_id, body in session.per_class(class_ids, fetch):
        rows = flatten(class_id, body) if flatten else expect_list(body, path)
        typed = _typed(session, table, rows, {"class_id": class_id})
        arrow = _unique(table, typed, warn=False)  # a record's key holds its class: repeats are within one answer
        repeated += typed.num_rows - arrow.num_rows
        session.progress.advance(table, rows=arrow.num_rows, classes=1)
        yield from batch.add(arrow)
    yield from batch.flush()
    _warn_repeated(table, repeated)


def _flatten_attendance(class_id: str, body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("sessions"), list):
        raise BadResponseError(f"attendance of class {class_id}: expected an object with a sessions array")
    rows = []
    for session in body["sessions"]:
        header = {
            "session_id": session.get("session_id"),
            "session_start_time": session.get("start_time"),
            "session_end_time": session.get("end_time"),
        }
        for student in session.get("students") or []:
            rows.append({**student, **header})
    return rows


def _metrics_starting_after(cursor_ms: Optional[int], lookback_s: int, start_s: Optional[int]) -> Optional[int]:
    """`starting_after` (exclusive, whole seconds) for one class.

    With a cursor: re-read the cursor's own second (other events may share it) and `lookback_s`
    before it. Without one: the class's full history, or from `start_date` on.
    """
    floor = None if start_s is None else start_s - 1
    if cursor_ms is None:
        return floor
    after = cursor_ms // 1000 - 1 - lookback_s
    return after if floor is None else max(after, floor)


def _unix_seconds(name: str, value: Optional[str]) -> Optional[int]:
    if value in (None, ""):
        return None
    try:
        return int(pendulum.parse(str(value)).timestamp())  # type: ignore[union-attr]
    except Exception as exc:  # pendulum raises several parser error types
        raise ConfigError(f"{name} {value!r} is not an ISO-8601 date or datetime (e.g. 2026-09-01)") from exc


class _Batcher:
    """Concatenates small Arrow tables into items of about ARROW_BATCH_ROWS rows.

    If a resource found no rows at all, the final flush yields an empty table of the right schema,
    so the table exists (typed) for the SQL models and a replaced table is emptied.
    """

    def __init__(self, table: str) -> None:
        self._table = table
        self._tables: list[pa.Table] = []
        self._rows = 0
        self._yielded = False

    def add(self, table: pa.Table) -> Iterator[pa.Table]:
        if table.num_rows:
            self._tables.append(table)
            self._rows += table.num_rows
        if self._rows >= ARROW_BATCH_ROWS:
            yield from self.flush()

    def flush(self) -> Iterator[pa.Table]:
        if self._tables:
            self._yielded = True
            yield pa.concat_tables(self._tables, promote_options="permissive")
        elif not self._yielded:
            self._yielded = True
            yield to_table(self._table, [])
        self._tables, self._rows = [], 0
