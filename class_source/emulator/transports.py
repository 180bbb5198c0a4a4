"""In-process transports over the emulator's ASGI app, failing as a real socket would."""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import sys
import threading
from dataclasses import dataclass

import httpx

from .fault_middleware import CUT_HEADER, FAULT_HEADER, INPROCESS_HEADER, ASGIApp


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


def _remember_that_sniffio_is_absent() -> None:
    """httpx's ASGITransport tries `import sniffio` on every request (to tell trio from asyncio); without
    sniffio installed, each failed import searches sys.path again: 0.08 ms a request, 12% of the event
    loop's samples in benchmarks/cpu.py. A None entry in sys.modules makes that import fail at once."""
    if importlib.util.find_spec("sniffio") is None:
        sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]


def _read_timeout(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout") or {}
    return timeout.get("read")


class EmulatorTransport(httpx.AsyncBaseTransport):
    """In-process transport over the ASGI app, with the failure behaviour of a real socket:
    dropped connections and truncated bodies raise httpx.RemoteProtocolError, and the client's read
    timeout is enforced (httpx.ASGITransport ignores timeouts, so "slow" faults need this)."""

    def __init__(self, app: ASGIApp) -> None:
        _remember_that_sniffio_is_absent()
        self._inner = httpx.ASGITransport(app=app)  # type: ignore[arg-type]

    async def exchange(self, request: httpx.Request) -> _Exchange:
        request.headers[INPROCESS_HEADER.decode()] = "1"
        response = await self._inner.handle_async_request(request)
        body = await response.aread()
        fault = response.headers.get(FAULT_HEADER)
        if fault == "drop":
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        truncate_at = int(response.headers[CUT_HEADER]) if fault == "truncate" else None
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
