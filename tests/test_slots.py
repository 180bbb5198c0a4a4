"""Request slots (class_source/slots.py): a bound on requests in flight, and `later` requests served
only when no other request waits."""

from __future__ import annotations

import asyncio

from class_source.slots import RequestSlots


def test_never_more_requests_in_flight_than_slots():
    async def scenario() -> int:
        slots, running, peak = RequestSlots(3), 0, 0

        async def request(later: bool) -> None:
            nonlocal running, peak
            async with slots.held(later):
                running += 1
                peak = max(peak, running)
                await asyncio.sleep(0.001)
                running -= 1

        await asyncio.gather(*(request(n % 2 == 0) for n in range(40)))
        return peak

    assert asyncio.run(scenario()) == 3


def test_a_freed_slot_goes_to_every_waiting_request_before_a_later_one():
    async def scenario() -> list[str]:
        slots, order = RequestSlots(1), []
        release = asyncio.Event()

        async def request(name: str, later: bool) -> None:
            async with slots.held(later):
                order.append(name)
                if name == "first":
                    await release.wait()

        first = asyncio.ensure_future(request("first", False))
        await asyncio.sleep(0)  # holds the only slot
        waiting = [
            asyncio.ensure_future(request(name, later))
            for name, later in [("metrics 1", True), ("roster 1", False), ("metrics 2", True), ("roster 2", False)]
        ]
        await asyncio.sleep(0)  # all four queued, the metrics pages first
        release.set()
        await asyncio.gather(first, *waiting)
        return order

    assert asyncio.run(scenario()) == ["first", "roster 1", "roster 2", "metrics 1", "metrics 2"]


def test_a_cancelled_waiter_leaves_no_slot_taken_or_lost():
    async def scenario() -> tuple[list[str], int]:
        slots, order = RequestSlots(1), []

        async def request(name: str, later: bool = False) -> None:
            async with slots.held(later):
                order.append(name)

        holder = slots.held()
        await holder.__aenter__()  # the only slot, taken
        cancelled = asyncio.ensure_future(request("cancelled while waiting"))
        handed_then_cancelled = asyncio.ensure_future(request("cancelled once handed the slot", later=True))
        last = asyncio.ensure_future(request("last", later=True))
        await asyncio.sleep(0)  # all three wait
        cancelled.cancel()
        await asyncio.sleep(0)
        await holder.__aexit__(None, None, None)  # hands the slot to the first live waiter ...
        handed_then_cancelled.cancel()  # ... cancelled before it runs: the slot must go on to `last`
        await asyncio.gather(cancelled, handed_then_cancelled, return_exceptions=True)
        await asyncio.wait_for(last, timeout=5)
        async with slots.held():  # and the one slot is free again
            order.append("after")
        return order, slots._free

    order, free = asyncio.run(scenario())
    assert order == ["last", "after"]
    assert free == 1
