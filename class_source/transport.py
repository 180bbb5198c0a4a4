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
"""

from __future__ import annotations

import asyncio
import urllib.request

import aiohttp
import httpx
import yarl


class AiohttpTransport(httpx.AsyncBaseTransport):
    """At most `max_connections` keep-alive connections; redirects are returned, never followed."""

    def __init__(self, max_connections: int) -> None:
        self._max_connections = max_connections
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
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeout.get("connect"), sock_read=timeout.get("read")),
            ) as response:
                content = await response.read()
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(_reason(exc), request=request) from exc
        except asyncio.TimeoutError as exc:  # aiohttp's read timeouts subclass it
            raise httpx.ReadTimeout(_reason(exc), request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(_reason(exc), request=request) from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError) as exc:
            raise httpx.RemoteProtocolError(_reason(exc), request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(_reason(exc), request=request) from exc
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            content=content,
            extensions={"http_version": f"HTTP/{response.version.major}.{response.version.minor}".encode()},
        )

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


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
