"""One run's connection to the Class API, shared by every resource of a source instance.

It owns the HTTP event loop and client, remembers which scopes the key has, and lists the
organization's classes once per run for all per-class resources.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from .client import ClassApiClient, NotFoundError, RetryPolicy, ScopeError
from .paging import expect_list
from .fanout import EventLoopThread
from .pii import PiiPolicy
from .progress import Progress
from .scopes import RESOURCE_SCOPES, describe_missing, missing_scopes, probe_scopes

logger = logging.getLogger("class_elt")
T = TypeVar("T")


@dataclass
class ClassDirectory:
    """The organization's classes as listed at the start of the run."""

    classes: list[dict[str, Any]] = field(default_factory=list)
    deferred_classes: list[dict[str, Any]] = field(default_factory=list)

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
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        max_concurrency: int = 16,
        timeout_s: float = 30.0,
        max_retries: int = 6,
        skip_missing_scopes: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        progress: Progress | None = None,
        pii: PiiPolicy | None = None,
    ) -> None:
        self.client = ClassApiClient(
            base_url,
            api_key,
            max_concurrency=max_concurrency,
            timeout_s=timeout_s,
            retry=RetryPolicy(max_attempts=max(1, max_retries + 1)),
            transport=transport,
        )
        self.window = 2 * max_concurrency
        self.skip_missing_scopes = skip_missing_scopes
        self.progress = progress or Progress()
        self.pii = pii or PiiPolicy()
        self._loop = EventLoopThread()
        self._lock = threading.Lock()
        self._granted: dict[str, bool] | None = None
        self._directory: ClassDirectory | None = None
        # dlt gives a source no end-of-run hook: the connections close when the session is collected
        self._closer = weakref.finalize(self, _close, self._loop, self.client)

    # --- scopes -------------------------------------------------------------------------------
    def granted_scopes(self) -> dict[str, bool]:
        with self._lock:
            if self._granted is None:
                all_scopes = {s for scopes in RESOURCE_SCOPES.values() for s in scopes}
                self._granted = self._loop.run(probe_scopes(self.client, all_scopes))
            return self._granted

    def runnable(self, resources: Iterable[str]) -> list[str]:
        """The resources whose scopes the key has; the others are skipped with a warning or fail."""
        granted = self.granted_scopes()
        missing = {r: m for r in resources if (m := missing_scopes(r, granted))}
        if missing and not self.skip_missing_scopes:
            raise ScopeError(
                f"API key lacks scope {describe_missing(missing)}: grant it to the key in the Class admin portal, "
                "leave those resources out (--resources), or set skip_missing_scopes = true",
                tuple(sorted({s for m in missing.values() for s in m})),
            )
        if missing:
            logger.warning("skipping resources the API key has no scope for: %s", describe_missing(missing))
        return [r for r in resources if r not in missing]

    # --- classes ------------------------------------------------------------------------------
    def directory(self) -> ClassDirectory:
        with self._lock:
            if self._directory is None:
                self._directory = self._loop.run(self._list_classes())
            return self._directory

    async def _list_classes(self) -> ClassDirectory:
        regular, deferred = await asyncio.gather(
            self.client.get("/classes"), self.client.get("/classes", {"deferred": "true"})
        )
        return ClassDirectory(expect_list(regular, "/classes"), expect_list(deferred, "/classes?deferred=true"))

    # --- running requests ---------------------------------------------------------------------
    def run(self, coro: Any) -> Any:
        return self._loop.run(coro)

    def per_class(
        self,
        class_ids: Iterable[str],
        fetch: Callable[[str], AsyncIterator[T]],
        weight: int = 1,
    ) -> Iterator[tuple[str, T]]:
        """Run `fetch(class_id)` for every class concurrently, yielding (class_id, item) as they come.

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

        return self._loop.stream((producer(class_id) for class_id in class_ids), self.window * weight)

    def close(self) -> None:
        self._closer()


def _close(loop: EventLoopThread, client: ClassApiClient) -> None:
    try:
        asyncio.run_coroutine_threadsafe(client.aclose(), loop.loop).result(timeout=5)
    except Exception:  # noqa: BLE001 - closing idle connections at exit must never fail a run
        logger.debug("closing the HTTP client failed", exc_info=True)
    finally:
        loop.close()
