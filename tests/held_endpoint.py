"""Keep a run inside its extract for exactly as long as a test needs.

`HeldEndpoint` wraps an emulator's app (before `serve()`): the first request to one path waits,
unanswered, until the test releases it; later requests (another run's) are answered at once. The
test learns that the run got there from an event, not by polling the request log, and a loaded
machine cannot make the run finish early, as a long latency could (nor make the test wait out that
latency once it is done).
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
from typing import Any

from class_source.emulator import Emulator

TIMEOUT_S = 120.0
# a held run's request timeout (SOURCES__CLASS_API__REQUEST_TIMEOUT_S): its held request must not
# time out, whatever the test does meanwhile on a busy machine
HOLD_TIMEOUT_S = 600


class HeldEndpoint:
    def __init__(self, emulator: Emulator, path: str) -> None:
        self.path = path
        self.reached = threading.Event()
        self._released = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None  # the server's, known from the first held request
        self._gate: asyncio.Event | None = None
        self._app = emulator.app
        emulator.app = self  # type: ignore[assignment]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == self.path and self._gate is None:
            self._gate, self._loop = asyncio.Event(), asyncio.get_running_loop()
            if self._released.is_set():  # released before the request came
                self._gate.set()
            self.reached.set()
            await self._gate.wait()  # the server's loop keeps serving every other request
        await self._app(scope, receive, send)

    def wait_until_reached(self, run: subprocess.Popen) -> None:
        """Until `run` has asked for the path (the request held); fails at once if it ended instead."""
        for _ in range(int(TIMEOUT_S / 0.05)):
            if self.reached.wait(0.05):
                return
            assert run.poll() is None, run.communicate()
        raise AssertionError(f"the run never asked for {self.path} within {TIMEOUT_S:.0f} s")

    def release(self) -> None:
        self._released.set()
        if self._loop is not None and self._gate is not None:
            self._loop.call_soon_threadsafe(self._gate.set)
