"""The wire under the connector's `httpx.AsyncClient`: aiohttp's connection pool and HTTP parser.

httpx stays the client (base URL, auth header, timeouts, retries around it, and in tests its
MockTransport or the emulator's in-process transport). Only the network transport is aiohttp's,
because a large load is bound by the loader's CPU per request, and httpx's own transport spends
most of it in pure-Python HTTP parsing and connection-pool bookkeeping (encode/httpcore#928).
Measured on loopback, 270 KB metrics pages, 16 connections: 3.4-4.4 ms of CPU per request with
httpx's transport, 1.5 ms with it pooled per connection, 0.3 ms with aiohttp alone; over a
500-class load, the metrics resource went from 8.2 s to 5.9 s.

aiohttp's failures are raised as the httpx exceptions they correspond to, so callers see one
exception family whatever the transport.

Why not the `httpx-aiohttp` package, which is the same adapter: measured, it is no faster (1-6 %
more CPU), and it lacks what this module is for (the deadline, the size bounds, the
per-host proxy, exact URLs and error mapping), all of which would stay here around it; the
figures are in benchmarks/README.md.

Whatever a server sends, a request ends: within `deadline_s` from connecting to the last byte (a
server trickling a byte a second never times out a per-read timeout), and with at most
`max_response_bytes` read, compressed or decompressed (an endless or huge body is refused when it
passes the limit, not after it filled the memory).
"""

from __future__ import annotations

import asyncio
import socket
import urllib.request
import zlib

import aiohttp
import httpx
import yarl

# the largest legitimate page (1,000 metrics events) is about 300 KB: 64 MiB is far above it
DEFAULT_MAX_RESPONSE_BYTES = 64 * 2**20
_READ_CHUNK = 2**16
_ZLIB_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class BodyTooLargeError(httpx.TransportError):
    """The response body (or what it decompresses to) exceeds `limit` bytes."""

    def __init__(self, limit: int, request: httpx.Request) -> None:
        super().__init__(f"response body larger than {limit} bytes", request=request)
        self.limit = limit


class AiohttpTransport(httpx.AsyncBaseTransport):
    """At most `max_connections` keep-alive connections; redirects are returned, never followed;
    each request bounded in time (`deadline_s`, None: only httpx's per-phase timeouts) and size."""

    def __init__(
        self,
        max_connections: int,
        *,
        deadline_s: float | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self._max_connections = max_connections
        self._deadline_s = deadline_s
        self._max_response_bytes = max_response_bytes
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}

    def _open(self) -> aiohttp.ClientSession:
        # created on first use: an aiohttp session belongs to the event loop it is created in
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._max_connections, ssl=httpx.create_ssl_context()),
            auto_decompress=False,  # the body goes to httpx undecoded; httpx decodes per Content-Encoding
            skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent"),  # httpx sends its own
        )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session or self._open()
        timeout = request.extensions.get("timeout", {})
        try:
            async with session.request(
                request.method,
                yarl.URL(str(request.url), encoded=True),  # httpx has encoded the query already
                headers=request.headers.multi_items(),
                data=request.content or None,
                allow_redirects=False,  # the API key must never follow a redirect elsewhere
                proxy=self._proxy(request.url),
                timeout=aiohttp.ClientTimeout(total=self._deadline_s, sock_connect=timeout.get("connect"), sock_read=timeout.get("read")),
            ) as response:
                content = await self._read_bounded(response, request)
                headers = response.raw_headers
                if content and response.headers.get("Content-Encoding", "").strip().lower() in _ZLIB_WBITS:
                    content = self._decompress_bounded(content, response.headers["Content-Encoding"], request)
                    headers = tuple((k, v) for k, v in headers if k.lower() not in (b"content-encoding", b"content-length"))
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(_reason(exc), request=request) from exc
        except asyncio.TimeoutError as exc:  # aiohttp's read timeouts and its total deadline subclass it
            raise httpx.ReadTimeout(_reason(exc), request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(_connect_failure(exc), request=request) from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError) as exc:
            raise httpx.RemoteProtocolError(_reason(exc), request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(_reason(exc), request=request) from exc
        return httpx.Response(
            response.status,
            headers=headers,
            content=content,
            extensions={"http_version": _http_version(response.version)},
        )

    async def _read_bounded(self, response: aiohttp.ClientResponse, request: httpx.Request) -> bytes:
        """The body, refused as soon as it passes the limit (a declared length over it: before reading)."""
        limit = self._max_response_bytes
        if response.content_length is not None and response.content_length > limit:
            raise BodyTooLargeError(limit, request)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(_READ_CHUNK):
            size += len(chunk)
            if size > limit:
                raise BodyTooLargeError(limit, request)
            chunks.append(chunk)
        return b"".join(chunks)

    def _decompress_bounded(self, content: bytes, encoding: str, request: httpx.Request) -> bytes:
        """gzip/deflate decoded here rather than by httpx, so that a small compressed body cannot
        decompress to gigabytes."""
        limit = self._max_response_bytes
        decoder = zlib.decompressobj(_ZLIB_WBITS[encoding.strip().lower()])
        try:
            plain = decoder.decompress(content, limit + 1)
        except zlib.error as exc:
            raise httpx.DecodingError(f"{encoding} body cannot be decoded: {exc}", request=request) from exc
        if len(plain) > limit:
            raise BodyTooLargeError(limit, request)
        return plain

    def _proxy(self, url: httpx.URL) -> str | None:
        """The proxy from HTTP(S)_PROXY / NO_PROXY for `url`'s host, looked up once per host (aiohttp's
        own trust_env reads the environment and ~/.netrc on every request: 15 % of a load's time)."""
        key = (url.scheme, url.host)
        if key not in self._proxies:
            bypass = urllib.request.proxy_bypass(url.host)
            self._proxies[key] = None if bypass else urllib.request.getproxies().get(url.scheme)
        return self._proxies[key]

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _connect_failure(exc: aiohttp.ClientConnectorError) -> str:
    """Why no connection opened, in words that point at the fix (the host name, or the port)."""
    cause = exc.os_error
    if isinstance(cause, socket.gaierror):
        return f"the host name {exc.host} does not resolve"
    if isinstance(cause, ConnectionRefusedError):
        return f"nothing accepts connections on port {exc.port}"
    return _reason(exc)


def _http_version(version: aiohttp.HttpVersion | None) -> bytes:
    return b"HTTP/1.1" if version is None else f"HTTP/{version.major}.{version.minor}".encode()


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
