"""Bridge from dlt's synchronous resources to one asyncio loop that runs every HTTP request.

dlt pulls items from resource generators in its own thread. The requests behind those items run
concurrently in a single event loop on a background thread, so all resources share one
`httpx.AsyncClient` (keep-alive) and one concurrency limit, and a resource fanning out over
thousands of classes costs about requests x latency / concurrency in wall time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class EventLoopThread:
    """An asyncio event loop running forever in a daemon thread, with its own small thread pool.

    The pool (`asyncio.to_thread`) parses metrics pages with Arrow, which runs without the GIL.
    Two threads: more only contend for the GIL at each page's start and end and keep the event
    loop waiting (500-class load at 50 ms: median 13.5 s with asyncio's default of six, 12.6 s
    with two); two already parse ~800 pages/s, more than 16 requests in flight deliver.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="class-elt-parse")
        self.loop.set_default_executor(self._executor)
        self._thread = threading.Thread(target=self.loop.run_forever, name="class-elt-http", daemon=True)
        self._thread.start()

    def run(self, coro: Awaitable[T]) -> T:
        """Run a coroutine on the loop and wait for its result in the calling thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()  # type: ignore[arg-type]

    def stream(self, producers: Iterable[Callable[[], AsyncIterator[T]]], window: int, buffer: int = 0) -> Iterator[T]:
        """Yield the items of many async generators as they arrive, at most `window` running at once,
        and at most `buffer` items (default: twice the window) waiting to be taken.

        Items of one producer keep their order; producers interleave. The first failure stops all
        producers and is raised here. Closing the iterator early cancels the remaining work.
        """
        queue: asyncio.Queue = asyncio.Queue(maxsize=max(buffer or 2 * window, 2))

        async def run_one(make: Callable[[], AsyncIterator[T]]) -> None:
            async for item in make():
                await queue.put(item)

        async def coordinate() -> None:
            slots = asyncio.Semaphore(window)
            running: set[asyncio.Task] = set()
            errors: list[BaseException] = []

            def finished(task: asyncio.Task) -> None:
                running.discard(task)
                if not task.cancelled() and task.exception() is not None:
                    errors.append(task.exception())  # type: ignore[arg-type]
                    for sibling in list(running):  # fail fast: don't wait for the others
                        sibling.cancel()
                # the slot is freed here, after the error is recorded, and for a task cancelled before it
                # ever ran too (its body, and a `finally` in it, never runs): freed in the body, a slot
                # could go to a new task the failure then cancels unstarted, and never come back
                slots.release()

            try:
                for make in producers:
                    await slots.acquire()
                    if errors:
                        break
                    task = asyncio.ensure_future(run_one(make))
                    running.add(task)
                    task.add_done_callback(finished)
                while running:
                    await asyncio.wait(set(running))
            except asyncio.CancelledError:
                for task in running:
                    task.cancel()
                raise
            except BaseException as error:  # noqa: BLE001 - a failing producer iterable
                errors.append(error)
                for task in running:
                    task.cancel()
            await queue.put(_Failure(errors[0]) if errors else _DONE)

        async def take() -> list[object]:
            """What the queue holds, at least one item: one cross-thread round trip per batch, not
            per item (each costs the loop a wake-up of this thread, on the loop's busiest path)."""
            items = [await queue.get()]
            while not queue.empty():
                items.append(queue.get_nowait())
            return items

        coordinator = asyncio.run_coroutine_threadsafe(coordinate(), self.loop)
        try:
            while True:
                for item in asyncio.run_coroutine_threadsafe(take(), self.loop).result():
                    if item is _DONE:
                        return
                    if isinstance(item, _Failure):
                        raise item.error
                    yield item  # type: ignore[misc]
        finally:
            if not coordinator.done():
                coordinator.cancel()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()  # a loop still running (a callback stuck past the timeout) cannot be closed
        self._executor.shutdown(wait=False)
