"""Latency, fault injection and the request log.

`FaultMiddleware` wraps the API app. For every request under /api/ it logs the request, decides
(seeded, from the endpoint and the request's ordinal for that endpoint) whether to delay it and
whether to fail it, and acts the fault out:

- "500", "503", "429": an error response (429 and 503 carry Retry-After);
- "slow": sleep `slow_s` (longer than a client's timeout) before answering normally;
- "drop": the connection closes with no response at all;
- "truncate": headers announce the full Content-Length, part of the body is sent, the connection
  closes (clients see httpx.RemoteProtocolError);
- "truncate_silent": a well-formed response whose body is cut short (invalid JSON).

Over real HTTP (uvicorn) drop/truncate close the socket; in-process (`EmulatorTransport`) the
transport raises the same httpx errors a real socket would. /_emulator/ admin routes are never
faulted, delayed or logged.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import threading
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Awaitable, Callable, Iterable, MutableMapping

import httpx

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FAULT_KINDS: tuple[str, ...] = ("500", "503", "429", "drop", "truncate", "truncate_silent", "slow")
NO_FAULT = "none"  # usable in scripted sequences: "let this request through"
DEFAULT_KINDS: dict[str, float] = {"500": 1.0, "503": 1.0, "429": 1.0, "drop": 1.0, "truncate": 1.0, "truncate_silent": 0.0, "slow": 0.0}
_ERROR_BODIES = {"500": "Internal Server Error", "503": "Service Unavailable", "429": "Too Many Requests"}
# In-process signalling between the middleware and EmulatorTransport (never reaches a client).
_INPROCESS_HEADER = b"x-emulator-transport"
_FAULT_HEADER = "x-emulator-fault"
_CUT_HEADER = "x-emulator-truncate-at"


@dataclass
class EndpointFaults:
    """Per-endpoint overrides ("GET /api/v1/reporting/metrics" -> ...); None = use the global value."""

    rate: float | None = None
    kinds: dict[str, float] | None = None
    latency_ms: float | None = None
    jitter_ms: float | None = None


@dataclass
class FaultConfig:
    """Mutable at runtime (emu.faults.rate = 0.2 takes effect on the next request)."""

    rate: float = 0.0  # probability that a request is faulted
    kinds: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_KINDS))  # relative weights
    retry_after_s: int = 1  # Retry-After seconds on 429 and 503
    slow_s: float = 30.0  # delay of a "slow" response
    truncate_fraction: float = 0.5  # share of the body sent before a truncation
    latency_ms: float = 0.0  # every API request is answered this long after it arrived (at the earliest)
    jitter_ms: float = 0.0  # plus uniform [0, jitter_ms)
    seed: int | None = None  # None: the emulator's seed
    endpoints: dict[str, EndpointFaults] = field(default_factory=dict)
    # Forced faults for the next requests of an endpoint ("*" = any endpoint), consumed in order
    # before any random draw: e.g. {"GET /api/v1/reporting/metrics": ["429", "none", "drop"]}.
    scripted: dict[str, list[str]] = field(default_factory=dict)

    def script(self, endpoint: str, kinds: Iterable[str]) -> None:
        kinds = list(kinds)
        for kind in kinds:
            if kind not in FAULT_KINDS and kind != NO_FAULT:
                raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS + (NO_FAULT,)}")
        self.scripted.setdefault(endpoint, []).extend(kinds)

    def validate(self) -> None:
        rates = [self.rate] + [e.rate for e in self.endpoints.values() if e.rate is not None]
        if any(not 0.0 <= r <= 1.0 for r in rates):
            raise ValueError("fault rates must be within [0, 1]")
        for kinds in [self.kinds] + [e.kinds for e in self.endpoints.values() if e.kinds is not None]:
            unknown = set(kinds) - set(FAULT_KINDS)
            if unknown:
                raise ValueError(f"unknown fault kinds {sorted(unknown)}; expected some of {FAULT_KINDS}")
            if any(w < 0 for w in kinds.values()):
                raise ValueError("fault kind weights must be >= 0")
        if self.retry_after_s < 0 or self.slow_s < 0 or self.latency_ms < 0 or self.jitter_ms < 0:
            raise ValueError("retry_after_s, slow_s, latency_ms and jitter_ms must be >= 0")
        if not 0.0 <= self.truncate_fraction < 1.0:
            raise ValueError("truncate_fraction must be within [0, 1)")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def update_from_json(self, data: dict[str, Any]) -> None:
        """Apply an admin-route update: known top-level keys only; endpoints replace per key."""
        known = set(self.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings {sorted(unknown)}")
        candidate = FaultConfig(**{**asdict(self), **{k: v for k, v in data.items() if k != "endpoints"}})
        candidate.endpoints = dict(self.endpoints)
        for key, value in (data.get("endpoints") or {}).items():
            candidate.endpoints[key] = EndpointFaults(**value)
        if "kinds" in data:
            candidate.kinds = {**{k: 0.0 for k in DEFAULT_KINDS}, **data["kinds"]}
        candidate.validate()
        for name in known:
            setattr(self, name, getattr(candidate, name))


@dataclass
class LoggedRequest:
    seq: int  # position in the whole log
    endpoint: str  # "GET /api/v1/classes"
    ordinal: int  # position among requests to this endpoint (drives fault decisions)
    query: str
    fault: str | None = None
    status: int | None = None  # None when the connection was dropped


class RequestLog:
    """Counts per endpoint plus the most recent requests (bounded)."""

    def __init__(self, keep: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._total = 0
        self.entries: deque[LoggedRequest] = deque(maxlen=keep)

    def record(self, endpoint: str, query: str) -> LoggedRequest:
        with self._lock:
            ordinal = self._counts.get(endpoint, 0)
            self._counts[endpoint] = ordinal + 1
            entry = LoggedRequest(self._total, endpoint, ordinal, query)
            self._total += 1
            self.entries.append(entry)
            return entry

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    @property
    def total(self) -> int:
        return self._total

    def status_counts(self) -> dict[int, int]:
        """Responses per HTTP status (dropped connections have none and are not counted)."""
        with self._lock:
            out: dict[int, int] = {}
            for entry in self.entries:
                if entry.status is not None:
                    out[entry.status] = out.get(entry.status, 0) + 1
            return out

    def faults(self) -> dict[str, int]:
        """How many requests got each fault kind (among the retained entries)."""
        with self._lock:
            out: dict[str, int] = {}
            for entry in self.entries:
                if entry.fault is not None:
                    out[entry.fault] = out.get(entry.fault, 0) + 1
            return out

    def reset(self) -> None:
        """Forget counts and entries; fault decisions restart from ordinal 0 (same sequence again)."""
        with self._lock:
            self._counts.clear()
            self._total = 0
            self.entries.clear()


def _unit(*parts: object) -> float:
    """A deterministic uniform [0, 1) from its inputs (stable across processes, unlike hash())."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class Decision:
    delay_s: float
    fault: str | None


def decide(config: FaultConfig, default_seed: int, endpoint: str, ordinal: int) -> Decision:
    """The latency and fault of the `ordinal`-th request to `endpoint` (pure except for scripts)."""
    seed = default_seed if config.seed is None else config.seed
    override = config.endpoints.get(endpoint) or EndpointFaults()
    latency = config.latency_ms if override.latency_ms is None else override.latency_ms
    jitter = config.jitter_ms if override.jitter_ms is None else override.jitter_ms
    delay_s = (latency + jitter * _unit(seed, endpoint, ordinal, "jitter")) / 1000.0
    for key in (endpoint, "*"):
        queue = config.scripted.get(key)
        if queue:
            try:
                kind = queue.pop(0)
            except IndexError:  # emptied by a concurrent request (server thread vs. in-process)
                continue
            return Decision(delay_s, None if kind == NO_FAULT else kind)
    rate = config.rate if override.rate is None else override.rate
    if rate <= 0 or _unit(seed, endpoint, ordinal, "fault") >= rate:
        return Decision(delay_s, None)
    weights = [(k, w) for k, w in (config.kinds if override.kinds is None else override.kinds).items() if w > 0]
    total = sum(w for _, w in weights)
    if total <= 0:
        return Decision(delay_s, None)
    pick = _unit(seed, endpoint, ordinal, "kind") * total
    for kind, weight in weights:
        pick -= weight
        if pick < 0:
            return Decision(delay_s, kind)
    return Decision(delay_s, weights[-1][0])


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
        in_process = any(name == _INPROCESS_HEADER for name, _ in scope.get("headers", ()))
        fault = decision.fault

        async def logging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
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
                await send({"type": "http.response.start", "status": 599, "headers": [(_FAULT_HEADER.encode(), b"drop")]})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            else:
                await _close_connection(send)
        else:  # truncate, truncate_silent
            start, body = await _capture(self.app, scope, receive)
            entry.status = start["status"]
            cut = min(int(len(body) * config.truncate_fraction), max(len(body) - 1, 0))
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            if fault == "truncate_silent":
                headers.append((b"content-length", str(cut).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body[:cut], "more_body": False})
            elif in_process:
                headers += [
                    (_FAULT_HEADER.encode(), b"truncate"),
                    (_CUT_HEADER.encode(), str(cut).encode()),
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


# ---------------------------------------------------------------------------- in-process transports
@dataclass
class _Exchange:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    truncate_at: int | None


class _TruncatedAsyncStream(httpx.AsyncByteStream):
    def __init__(self, data: bytes, request: httpx.Request) -> None:
        self._data, self._request = data, request

    async def __aiter__(self):  # type: ignore[override]
        if self._data:
            yield self._data
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body", request=self._request)


class _TruncatedSyncStream(httpx.SyncByteStream):
    def __init__(self, data: bytes, request: httpx.Request) -> None:
        self._data, self._request = data, request

    def __iter__(self):  # type: ignore[override]
        if self._data:
            yield self._data
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body", request=self._request)


def _read_timeout(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout") or {}
    return timeout.get("read")


class EmulatorTransport(httpx.AsyncBaseTransport):
    """In-process transport over the ASGI app, with the failure behaviour of a real socket:
    dropped connections and truncated bodies raise httpx.RemoteProtocolError, and the client's read
    timeout is enforced (httpx.ASGITransport ignores timeouts, so "slow" faults need this)."""

    def __init__(self, app: ASGIApp) -> None:
        self._inner = httpx.ASGITransport(app=app)  # type: ignore[arg-type]

    async def exchange(self, request: httpx.Request) -> _Exchange:
        request.headers[_INPROCESS_HEADER.decode()] = "1"
        response = await self._inner.handle_async_request(request)
        body = await response.aread()
        fault = response.headers.get(_FAULT_HEADER)
        if fault == "drop":
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        truncate_at = int(response.headers[_CUT_HEADER]) if fault == "truncate" else None
        headers = [(k, v) for k, v in response.headers.raw if not k.lower().startswith(b"x-emulator-")]
        return _Exchange(response.status_code, headers, body, truncate_at)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = _read_timeout(request)
        try:
            result = await asyncio.wait_for(self.exchange(request), timeout)
        except asyncio.TimeoutError:
            raise httpx.ReadTimeout(f"no response within {timeout} s", request=request) from None
        if result.truncate_at is not None:
            return httpx.Response(
                result.status,
                headers=result.headers,
                stream=_TruncatedAsyncStream(result.body[: result.truncate_at], request),
                request=request,
            )
        return httpx.Response(result.status, headers=result.headers, content=result.body, request=request)


class SyncEmulatorTransport(httpx.BaseTransport):
    """The same for synchronous httpx clients: the app runs on a private event-loop thread."""

    def __init__(self, app: ASGIApp) -> None:
        self._async = EmulatorTransport(app)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="emulator-sync-transport", daemon=True)
        self._thread.start()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        async_request = httpx.Request(request.method, request.url, headers=request.headers, content=body, extensions=request.extensions)
        future = asyncio.run_coroutine_threadsafe(self._async.exchange(async_request), self._loop)
        timeout = _read_timeout(request)
        try:
            result = future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise httpx.ReadTimeout(f"no response within {timeout} s", request=request) from None
        except httpx.TransportError as exc:
            exc.request = request
            raise
        if result.truncate_at is not None:
            return httpx.Response(
                result.status,
                headers=result.headers,
                stream=_TruncatedSyncStream(result.body[: result.truncate_at], request),
                request=request,
            )
        return httpx.Response(result.status, headers=result.headers, content=result.body, request=request)

    def close(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        if not self._loop.is_running():
            self._loop.close()
