"""The ASGI middleware that acts out each request's fault (faults.py decides which) and logs it.

Over real HTTP (uvicorn) drop/truncate close the socket; in process, the middleware marks the
response with headers that transports.py turns into the httpx errors a real socket would cause.
/_emulator/ admin routes are never faulted, delayed or logged.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Awaitable, Callable, MutableMapping

from .faults import FaultConfig, decide
from .request_log import RequestLog

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_ERROR_BODIES = {"500": "Internal Server Error", "503": "Service Unavailable", "429": "Too Many Requests"}
# In-process signalling between the middleware and EmulatorTransport (never reaches a client).
INPROCESS_HEADER = b"x-emulator-transport"
FAULT_HEADER = "x-emulator-fault"
CUT_HEADER = "x-emulator-truncate-at"


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class FaultMiddleware:
    def __init__(self, app: ASGIApp, config: Callable[[], FaultConfig], seed: int, log: RequestLog, prefix: str = "/api/") -> None:
        self.app = app
        self._config = config
        self._seed = seed
        self.log = log
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        config = self._config()
        entry = self.log.record(f"{scope['method']} {scope['path']}", scope.get("query_string", b"").decode("latin-1"))
        decision = decide(config, self._seed, entry.endpoint, entry.ordinal)
        entry.fault = decision.fault
        in_process = any(name == INPROCESS_HEADER for name, _ in scope.get("headers", ()))
        fault = decision.fault

        async def logging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
                entry.answered = time.monotonic()
            await send(message)

        if fault is None and decision.delay_s > 0:
            # The latency is the whole time to answer: the emulator's own work happens inside it,
            # as a server's does, rather than on top of it (which would make a benchmark measure
            # this single-threaded emulator's Python, not the client).
            answer_at = asyncio.get_running_loop().time() + decision.delay_s
            start, body = await _capture(self.app, scope, receive)
            await asyncio.sleep(max(0.0, answer_at - asyncio.get_running_loop().time()))
            await logging_send(start)
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        if decision.delay_s > 0:
            await asyncio.sleep(decision.delay_s)  # never time.sleep: other requests must proceed
        if fault is None:
            await self.app(scope, receive, logging_send)
        elif fault in _ERROR_BODIES:
            headers = [(b"content-type", b"application/json")]
            if fault in ("429", "503"):
                headers.append((b"retry-after", str(config.retry_after_s).encode()))
            body = _json_bytes({"error": _ERROR_BODIES[fault]})
            headers.append((b"content-length", str(len(body)).encode()))
            await logging_send({"type": "http.response.start", "status": int(fault), "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})
        elif fault == "slow":
            await asyncio.sleep(config.slow_s)
            await self.app(scope, receive, logging_send)
        elif fault == "drop":
            if in_process:
                await send({"type": "http.response.start", "status": 599, "headers": [(FAULT_HEADER.encode(), b"drop")]})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            else:
                await _close_connection(send)
        else:  # truncate, truncate_silent
            start, body = await _capture(self.app, scope, receive)
            entry.status = start["status"]
            entry.answered = time.monotonic()
            cut = min(int(len(body) * config.truncate_fraction), max(len(body) - 1, 0))
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            if fault == "truncate_silent":
                headers.append((b"content-length", str(cut).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body[:cut], "more_body": False})
            elif in_process:
                headers += [
                    (FAULT_HEADER.encode(), b"truncate"),
                    (CUT_HEADER.encode(), str(cut).encode()),
                    (b"content-length", str(len(body)).encode()),
                ]
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body, "more_body": False})
            else:
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body[:cut], "more_body": True})
                await _close_connection(send)


async def _capture(app: ASGIApp, scope: Scope, receive: Receive) -> tuple[Message, bytes]:
    start: Message = {}
    chunks: list[bytes] = []

    async def capture(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, capture)
    return start, b"".join(chunks)


class InjectedDisconnect(Exception):
    """Raised when the server gives no socket access: most servers then close the connection."""


async def _close_connection(send: Send) -> None:
    """Close the client's socket from inside the app. uvicorn's `send` is a bound method of its
    request cycle, which holds the asyncio transport; there is no ASGI message for this."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise InjectedDisconnect("injected connection drop")
    transport.close()  # flushes what was written (the partial body), then closes
    # Let the server notice the disconnect before the app returns, so it does not try to answer
    # (or log) on its own.
    for _ in range(100):
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0.001)
