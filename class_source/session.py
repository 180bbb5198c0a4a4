"""One run's connection to the Class API, shared by every resource of a source instance.

It owns the HTTP event loop and client, learns which scopes the key has from the run's first
requests, and lists the organization's classes once per run for all per-class resources.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx

from .client import ClassApiClient, RetryPolicy
from .errors import NotFoundError, ScopeError
from .fanout import EventLoopThread
from .paging import expect_list, page_query
from .pii import PiiPolicy
from .progress import Progress
from .scopes import (
    CHECKED_WHEN_READ,
    PER_CLASS_SCOPES,
    RESOURCE_SCOPES,
    answers_scope,
    class_read,
    describe_missing,
    missing_scopes,
    probe_scopes,
)

logger = logging.getLogger("class_elt")
T = TypeVar("T")


@dataclass
class ClassDirectory:
    """The organization's classes as listed at the start of the run."""

    classes: list[dict[str, Any]] = field(default_factory=list)
    deferred_classes: list[dict[str, Any]] = field(default_factory=list)
    server_now_s: int | None = None  # the API's clock when it listed them (its Date header), if it sent one

    @property
    def regular_ids(self) -> list[str]:
        """Each regular class once, even if the listing repeats one."""
        return list(dict.fromkeys(c["class_id"] for c in self.classes))

    @property
    def all_ids(self) -> list[str]:
        """Regular and deferred classes: both have rosters and schedules."""
        seen = dict.fromkeys(self.regular_ids)
        seen.update(dict.fromkeys(c["class_id"] for c in self.deferred_classes))
        return list(seen)


class ApiSession:
    """The API as the resources of one source instance see it.

    Nothing runs until a resource needs the API: the first `using()` starts the event loop thread
    and the HTTP client, and when the last resource using them finishes (or fails, or is closed),
    they are closed, so no thread or connection outlives the extraction.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        max_concurrency: int = 16,
        timeout_s: float = 30.0,
        max_retries: int = 6,
        max_response_bytes: int = 64 * 1024 * 1024,
        skip_missing_scopes: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        progress: Progress | None = None,
        pii: PiiPolicy | None = None,
    ) -> None:
        def new_client() -> ClassApiClient:
            return ClassApiClient(
                base_url,
                api_key,
                max_concurrency=max_concurrency,
                timeout_s=timeout_s,
                retry=RetryPolicy(max_attempts=max(1, max_retries + 1)),
                max_response_bytes=max_response_bytes,
                transport=transport,
                retries=self.progress.retries,  # one count for the whole run, whichever client retried
            )

        self.progress = progress or Progress()
        self._new_client = new_client
        self._client: ClassApiClient | None = new_client()  # validates the configuration now; opens nothing
        self.window = 2 * max_concurrency
        self.skip_missing_scopes = skip_missing_scopes
        self.pii = pii or PiiPolicy()
        self._loop: EventLoopThread | None = None
        self._users = 0
        self._open_lock = threading.Lock()  # the loop, the client, their users
        self._lock = threading.Lock()  # the scopes and the class listing, fetched once
        self._granted: dict[str, bool] | None = None
        self._selected: list[str] = []  # the resources the run selected (as the first to check its scopes saw them)
        self._refusals = 0  # resources answered 403 by their first read (scopes.CHECKED_WHEN_READ)
        self._directory: ClassDirectory | None = None
        self._listing: asyncio.Future[ClassDirectory] | None = None  # the class listing, asked while learning the scopes
        self._kept: dict[_RequestKey, asyncio.Future[Any] | _Settled] = {}  # on the event loop only
        self._schedules: dict[str, asyncio.Future[Any]] = {}  # touched on the event loop only
        self.metrics_read: Any = None  # the run's metrics read while it goes on over several packages (parts.py)
        self.resources_extracting = 0  # parts.py: the metrics end a part once they extract alone

    @property
    def client(self) -> ClassApiClient:
        with self._open_lock:
            if self._client is None:
                self._client = self._new_client()
            return self._client

    @contextmanager
    def using(self) -> Iterator[None]:
        """Hold the API open for one resource's extraction; the last holder to leave closes it."""
        with self._open_lock:
            self._users += 1
        try:
            yield
        finally:
            with self._open_lock:
                self._users -= 1
                if self._users == 0:
                    self._shut()

    @contextmanager
    def extracting(self) -> Iterator[None]:
        """`using()` for one resource's extraction, counted in `resources_extracting`."""
        with self.using():
            with self._open_lock:
                self.resources_extracting += 1
            try:
                yield
            finally:
                with self._open_lock:
                    self.resources_extracting -= 1

    def _running_loop(self) -> EventLoopThread:
        with self._open_lock:
            if self._loop is None:
                self._loop = EventLoopThread()
            return self._loop

    def _shut(self) -> None:
        loop, client = self._loop, self._client
        # the answers already in outlive the loop: a resource that skips itself may close the API
        # before the next resource opens it again
        listing = _settled(self._listing) if self._listing is not None else None
        if self._directory is None and listing is not None and listing.error is None:
            self._directory = listing.value
        self._kept = {key: settled for key, answer in self._kept.items() if (settled := _settled(answer))}
        self._loop, self._client, self._listing, self._schedules = None, None, None, {}
        if loop is not None:
            _close(loop, client)

    # --- scopes -------------------------------------------------------------------------------
    def runnable(self, resources: Iterable[str]) -> list[str]:
        """The resources whose scopes the key has, as far as the run's first requests tell (scopes in
        `CHECKED_WHEN_READ` are checked by their resource's first read: `refused`); a missing scope
        fails the run, naming every missing one, or with skip_missing_scopes skips its resources."""
        resources = list(resources)
        with self._lock:
            learned = self._granted is None
            if self._granted is None:
                self._selected = resources
                self._granted = self.run(self._learn_scopes(resources, every_scope=False))
            granted = self._granted
        missing = {r: m for r in resources if (m := missing_scopes(r, granted))}
        self._refuse_or_skip(missing, warn=learned)  # every resource asks: one warning
        return [r for r in resources if r not in missing]

    def refused(self, resource: str, error: ScopeError) -> None:
        """`resource`, whose scope is checked by its first read (`CHECKED_WHEN_READ`), was answered
        `error` before it read anything: fail the run, or with skip_missing_scopes warn that it is
        skipped. The first such refusal asks the first class about the other scopes checked that way,
        so that one message names every one missing. A 403 naming another scope is raised as it is."""
        own = [scope for scope in RESOURCE_SCOPES[resource] if scope in CHECKED_WHEN_READ]
        if not set(error.missing_scopes) <= set(own):
            raise error  # e.g. schedules (read by the activity rule) refused in the middle of the run
        lazy = [r for r in self._selected or [resource] if any(s in CHECKED_WHEN_READ for s in RESOURCE_SCOPES[r])]
        with self._lock:
            self._refusals += 1
            first = self._refusals == 1
            granted = dict(self._granted or {}) | dict.fromkeys(own, False)
            if first:
                unknown = [s for r in lazy for s in RESOURCE_SCOPES[r] if s in CHECKED_WHEN_READ and s not in granted]
                granted |= self.run(self._per_class_scopes(unknown))
            self._granted = granted
        missing = {r: m for r in lazy if (m := missing_scopes(r, granted))}
        self._refuse_or_skip(missing, warn=first)  # whichever refusal's error the run reports, it names them all

    def _refuse_or_skip(self, missing: dict[str, tuple[str, ...]], *, warn: bool) -> None:
        if missing and not self.skip_missing_scopes:
            raise ScopeError(
                f"API key lacks scope {describe_missing(missing)}: grant it to the key in the Class admin portal, "
                "leave those resources out (--resources), or set skip_missing_scopes = true",
                tuple(sorted({s for m in missing.values() for s in m})),
            )
        if missing and warn:
            logger.warning("skipping resources the API key has no scope for: %s", describe_missing(missing))

    def key_scopes(self) -> dict[str, bool]:
        """Every scope a resource needs, granted or not (for `class-elt check`)."""
        return self.run(self._learn_scopes(list(RESOURCE_SCOPES), every_scope=True))

    async def _learn_scopes(self, resources: list[str], *, every_scope: bool) -> dict[str, bool]:
        """{scope: granted} for the scopes of `resources`, learned from requests the resources make
        anyway, whose answers are kept for them (`get`): the class listing, the first users page, the
        templates, then one class's roster and schedules. The scopes in `CHECKED_WHEN_READ` are left
        to their resources' first reads unless `every_scope`, or unless another scope is missing (then
        they are asked too, so that one message names every missing scope)."""
        wanted = {scope for resource in resources for scope in RESOURCE_SCOPES[resource]}
        if wanted & CHECKED_WHEN_READ:
            wanted.add("schedule:read")  # whether the activity rule can read schedules (activity.py)
        first: dict[str, Awaitable[Any]] = {}
        if "class:read" in wanted:
            self._listing = asyncio.ensure_future(self._list_classes())
            self._listing.add_done_callback(_retrieved)  # a failed listing is raised by directory(), if it is ever called
            first["class:read"] = self._listing
        if "user:read" in wanted:
            first["user:read"] = self._keep("/users", page_query(1))
        if "template:read" in wanted:
            first["template:read"] = self._keep("/templates")
        granted = await _answers(first)
        per_class = [s for s in PER_CLASS_SCOPES if s in wanted]
        now = [s for s in per_class if every_scope or s not in CHECKED_WHEN_READ]
        granted |= await self._per_class_scopes(now)
        later = [s for s in per_class if s not in now]
        if later and any(missing_scopes(r, granted) for r in resources):
            granted |= await self._per_class_scopes(later)
        return granted

    async def _per_class_scopes(self, scopes: list[str]) -> dict[str, bool]:
        """Ask one listed class for each per-class scope (the requests its resources make of it);
        without one (no class:read, or no class at all) ask a class that cannot exist instead."""
        if not scopes:
            return {}
        listing = self._directory
        if listing is None and self._listing is not None and not self._listing.exception():
            listing = self._listing.result()
        class_ids = [] if listing is None else listing.regular_ids or listing.all_ids
        if not class_ids:
            return await probe_scopes(self.client, scopes)
        return await _answers({scope: self._keep(*class_read(scope, class_ids[0])) for scope in scopes})

    def _keep(self, path: str, params: dict[str, Any] | None = None) -> asyncio.Future[Any]:
        """Send a GET whose answer a resource will ask for: `get` hands it over (once)."""
        answer = asyncio.ensure_future(self.client.get(path, params))
        answer.add_done_callback(_retrieved)  # a failure is raised to the resource that asks for it
        self._kept[_request_key(path, params)] = answer
        return answer

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET `path`: the answer kept from learning the scopes if this request was made then, else a new request."""
        kept = self._kept.pop(_request_key(path, params), None)
        if isinstance(kept, _Settled):
            return kept.result()
        return await (kept if kept is not None else self.client.get(path, params))

    # --- classes ------------------------------------------------------------------------------
    def directory(self) -> ClassDirectory:
        with self._lock:
            if self._directory is None:
                listing, self._listing = self._listing, None
                self._directory = self.run(_result(listing) if listing is not None else self._list_classes())
            return self._directory

    async def _list_classes(self) -> ClassDirectory:
        regular, deferred = await asyncio.gather(self.client.get("/classes"), self.client.get("/classes", {"deferred": "true"}))
        return ClassDirectory(
            expect_list(regular, "/classes"), expect_list(deferred, "/classes?deferred=true"), _unix_s(self.client.server_date)
        )

    async def schedules_of(self, class_id: str) -> Any:
        """GET /schedules of one class, requested once per run by whichever resource asks first
        (the schedules resource loads it, the activity rule reads it)."""
        task = self._schedules.get(class_id)
        if task is None:
            task = self._schedules[class_id] = asyncio.ensure_future(self.get("/schedules", {"class_id": class_id}))
        return await asyncio.shield(task)  # one asker cancelled must not cancel the other's answer

    # --- running requests ---------------------------------------------------------------------
    def can_read_schedules(self) -> bool:
        """Whether the key can read schedules (known once `runnable` has run; unknown: no class listed)."""
        with self._lock:
            granted = self._granted or {}
        return all(granted.get(scope) for scope in RESOURCE_SCOPES["schedules"])

    def run(self, coro: Any) -> Any:
        return self._running_loop().run(coro)

    def per_class(
        self,
        class_ids: Iterable[str],
        fetch: Callable[[str], AsyncIterator[T]],
        weight: int = 1,
        buffer: int = 0,
    ) -> Iterator[tuple[str, T]]:
        """Run `fetch(class_id)` for every class concurrently, yielding (class_id, item) as they come
        (at most `buffer` items waiting to be taken; default: twice the classes running at once).

        A class deleted between the listing and its fetch (404) is skipped with a warning.
        """

        def producer(class_id: str) -> Callable[[], AsyncIterator[tuple[str, T]]]:
            async def items() -> AsyncIterator[tuple[str, T]]:
                try:
                    async for item in fetch(class_id):
                        yield class_id, item
                except NotFoundError:
                    logger.warning("class %s disappeared during the run (404); skipped", class_id)

            return items

        return self._running_loop().stream((producer(class_id) for class_id in class_ids), self.window * weight, buffer)

    def close(self) -> None:
        """Close the API now (for use outside a source, e.g. `class-elt check`)."""
        with self._open_lock:
            self._shut()


async def _result(future: asyncio.Future[T]) -> T:
    return await future


async def _answers(requests: dict[str, Awaitable[Any]]) -> dict[str, bool]:
    """{scope: granted} from the answers of the requests that ask about each scope."""
    granted = await asyncio.gather(*(answers_scope(request) for request in requests.values()))
    return dict(zip(requests, granted))


_RequestKey = tuple[str, tuple[tuple[str, Any], ...]]


def _request_key(path: str, params: dict[str, Any] | None) -> _RequestKey:
    return path, tuple(sorted((params or {}).items()))


@dataclass(frozen=True)
class _Settled:
    """An answer that outlived the event loop it came in on: its value, or the error it raised."""

    value: Any = None
    error: BaseException | None = None

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


def _settled(answer: asyncio.Future[Any] | _Settled) -> _Settled | None:
    """`answer` as a `_Settled`, if it has come in (None if it is still pending or was cancelled)."""
    if isinstance(answer, _Settled):
        return answer
    if not answer.done() or answer.cancelled():
        return None
    error = answer.exception()
    return _Settled(error=error) if error is not None else _Settled(answer.result())


def _retrieved(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: asyncio would otherwise log it when the future is collected


def _unix_s(http_date: str | None) -> int | None:
    try:
        parsed = parsedate_to_datetime(http_date) if http_date else None
    except (TypeError, ValueError):  # a Date header that is not an HTTP date: as if there were none
        return None
    return None if parsed is None else int(parsed.replace(tzinfo=parsed.tzinfo or timezone.utc).timestamp())


def _close(loop: EventLoopThread, client: ClassApiClient | None) -> None:
    try:
        if client is not None:
            asyncio.run_coroutine_threadsafe(client.aclose(), loop.loop).result(timeout=5)
    except Exception:  # noqa: BLE001 - closing idle connections at exit must never fail a run
        logger.debug("closing the HTTP client failed", exc_info=True)
    finally:
        loop.close()
