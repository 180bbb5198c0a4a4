"""The request slots every request of a run shares: at most `max_concurrency` in flight, and requests
that can wait (metrics pages) served after every other waiting request.

Why an order: a first load's snapshot resources (rosters, schedules, attendance) and its metrics
share the slots. Served first come, first served, they interleave and all end near the end of the
extract; served snapshots first, they end early, their load package is loaded while the metrics
pages are fetched, and the metrics can go on in packages of their own (parts.py). Either way every
slot stays busy while any request waits, so the order costs no time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator


class RequestSlots:
    """An asyncio semaphore of `slots` with two queues: a waiting request gets a freed slot before
    any waiting request marked `later`; within a queue, first come, first served."""

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._waiting: tuple[deque[asyncio.Future[None]], deque[asyncio.Future[None]]] = (deque(), deque())

    @contextlib.asynccontextmanager
    async def held(self, later: bool = False) -> AsyncIterator[None]:
        await self._acquire(later)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, later: bool) -> None:
        if self._free > 0 and not any(self._waiting):
            self._free -= 1
            return
        slot: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[later].append(slot)
        try:
            await slot
        except asyncio.CancelledError:
            if slot.done() and not slot.cancelled():  # handed a slot, then cancelled: hand it on
                self._release()
            elif slot in self._waiting[later]:
                self._waiting[later].remove(slot)
            raise

    def _release(self) -> None:
        for queue in self._waiting:
            while queue:
                slot = queue.popleft()
                if not slot.done():  # a cancelled waiter's future is done: skip it
                    slot.set_result(None)
                    return
        self._free += 1
