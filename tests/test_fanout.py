"""The sync-to-async bridge: every item once, bounded concurrency, failures surface, early close cancels."""

from __future__ import annotations

import asyncio
import threading

import pytest

from class_source.fanout import EventLoopThread


@pytest.fixture
def loop_thread():
    thread = EventLoopThread()
    yield thread
    thread.close()


def test_stream_yields_every_item_once_with_at_most_window_running(loop_thread):
    running, peak = 0, 0

    def producer(n: int):
        async def items():
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)
            for page in range(3):
                yield (n, page)
            running -= 1

        return items

    got = list(loop_thread.stream((producer(n) for n in range(40)), window=5))
    assert sorted(got) == [(n, p) for n in range(40) for p in range(3)]
    assert 1 < peak <= 5
    for n in range(40):  # one producer's items keep their order
        assert [p for m, p in got if m == n] == [0, 1, 2]


def test_a_failing_producer_stops_the_stream_with_its_error(loop_thread):
    def producer(n: int):
        async def items():
            await asyncio.sleep(0.001 * n)
            if n == 3:
                raise ValueError("class 3 broke")
            yield n

        return items

    with pytest.raises(ValueError, match="class 3 broke"):
        list(loop_thread.stream((producer(n) for n in range(100)), window=4))


def test_a_failure_among_producers_that_finish_at_once_still_ends_the_stream(loop_thread):
    """Three producers end and one fails within one turn of the loop (as timers do on a loaded machine):
    the next four start, are cancelled before they run, and must still give their slots back."""
    def producer(n: int):
        async def items():
            if n == 3:
                raise ValueError("class 3 broke")
            yield n

        return items

    raised: list[BaseException] = []

    def consume() -> None:
        try:
            list(loop_thread.stream((producer(n) for n in range(100)), window=4))
        except ValueError as error:
            raised.append(error)

    consumer = threading.Thread(target=consume, daemon=True)  # a hang fails the test, not the suite
    consumer.start()
    consumer.join(timeout=30)
    assert not consumer.is_alive(), "the stream never ended"
    assert [str(e) for e in raised] == ["class 3 broke"]


def test_closing_the_stream_early_cancels_outstanding_work(loop_thread):
    cancelled = []

    def producer(n: int):
        async def items():
            try:
                yield n
                await asyncio.sleep(10)
                yield n
            except asyncio.CancelledError:
                cancelled.append(n)
                raise

        return items

    stream = loop_thread.stream((producer(n) for n in range(3)), window=3)
    assert next(stream) in range(3)
    stream.close()
    loop_thread.run(asyncio.sleep(0.05))
    assert cancelled, "outstanding producers must be cancelled when the consumer stops"


def test_items_queued_while_the_consumer_is_busy_all_arrive_in_order_before_a_failure(loop_thread):
    """The consumer takes what piled up in the queue in one go: each item once, in order, and a
    failure queued behind them is raised only after they were yielded."""

    def producer():
        async def items():
            for n in range(30):
                yield n
            raise ValueError("broke after 30 items")

        return items

    got = []
    with pytest.raises(ValueError, match="broke after 30 items"):
        for item in loop_thread.stream([producer()], window=20):
            if not got:
                loop_thread.run(asyncio.sleep(0.1))  # the producer runs ahead and fills the queue meanwhile
            got.append(item)
    assert got == list(range(30))
