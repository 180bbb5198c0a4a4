"""Async HTTP client for the Class API: auth, bounded concurrency, retries with backoff, error mapping.

One `ClassApiClient` owns one `httpx.AsyncClient` (keep-alive connections, one per concurrency slot,
on aiohttp's transport: see `transport.py`) and a semaphore, so every request of a run, whatever resource issues it, shares
the same pool and the same bound on in-flight requests.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from .transport import AiohttpTransport

logger = logging.getLogger("class_elt.client")

API_PREFIX = "/api/v1"
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class ClassApiError(Exception):
    """Base class of every error this connector reports about the Class API."""


class ConfigError(ClassApiError):
    """The connector's configuration is unusable (base URL, key, options)."""


class AuthError(ClassApiError):
    """The API rejected the key (401)."""


class ScopeError(ClassApiError):
    """The key lacks one or more scopes that the selected resources need (403)."""

    def __init__(self, message: str, missing_scopes: tuple[str, ...]) -> None:
        super().__init__(message)
        self.missing_scopes = missing_scopes


class NotFoundError(ClassApiError):
    """The API answered 404 for an entity (e.g. a class deleted during the run)."""


class ApiUnavailableError(ClassApiError):
    """The API kept failing after every retry (5xx, 429, timeouts, dropped connections)."""


class BadResponseError(ClassApiError):
    """The API answered something that is not the documented JSON (after retries)."""


class RequestRejectedError(ClassApiError):
    """The API refused the request as malformed (400) or answered an unexpected status."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; `Retry-After` is honoured up to `max_delay_s`."""

    max_attempts: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0

    def delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after is not None:
            try:
                return min(max(float(retry_after), 0.0), self.max_delay_s)
            except ValueError:
                pass  # an HTTP-date or garbage: fall back to our own backoff
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)


def validate_base_url(base_url: str) -> str:
    """Return the base URL without a trailing slash; refuse plain http except on loopback."""
    if not base_url or not isinstance(base_url, str):
        raise ConfigError("base_url is empty: set sources.class_api.base_url (env SOURCES__CLASS_API__BASE_URL)")
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"base_url {base_url!r} is not an http(s) URL: use the base URL shown on the Class API Keys page"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"base_url {base_url!r} uses plain http: the API key would travel unencrypted; use https "
            "(plain http is allowed only for loopback addresses such as the local emulator)"
        )
    if parts.path.rstrip("/").endswith(API_PREFIX):
        raise ConfigError(f"base_url {base_url!r} must not include {API_PREFIX}: give the organization's base URL only")
    return base_url.strip().rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ClassApiClient:
    """GETs JSON from the Class API with retries; maps failures to `ClassApiError` subclasses.

    Messages never contain the API key: requests are described by method, path and query only.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        max_concurrency: int = 16,
        timeout_s: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not api_key or not str(api_key).strip():
            raise ConfigError("api_key is empty: set sources.class_api.api_key (env SOURCES__CLASS_API__API_KEY)")
        if max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be a positive integer, got {max_concurrency}")
        self.base_url = validate_base_url(base_url)
        self._retry = retry
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._http = httpx.AsyncClient(
            base_url=self.base_url + API_PREFIX,
            headers={"Authorization": f"Bearer {str(api_key).strip()}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,  # never forward the Authorization header anywhere but base_url
            transport=transport or AiohttpTransport(max_concurrency),
        )
        self.requests_sent = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        decode: Callable[[bytes, str], Awaitable[Any]] | None = None,
    ) -> Any:
        """GET `path` (relative to /api/v1) and return the decoded JSON body.

        `decode(body, where)` replaces the plain JSON decoding of a 200 body; like it, it raises
        `json.JSONDecodeError` for a body that is not JSON (retried: it may have been cut short).
        """
        where = _describe(path, params)
        attempt = 0
        while True:
            attempt += 1
            retry_after: str | None = None
            try:
                async with self._semaphore:
                    self.requests_sent += 1
                    response = await self._http.get(path, params=params)
                    body = response.content  # read inside the semaphore: a truncated body fails here
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                failure = f"{type(exc).__name__}"
            else:
                status = response.status_code
                if status == 200:
                    try:
                        return await decode(body, where) if decode else decode_json(body, where)
                    except json.JSONDecodeError:
                        failure = "200 with a body that is not JSON"
                        if attempt >= self._retry.max_attempts:
                            raise BadResponseError(
                                f"{where} answered 200 with a body that is not JSON after {attempt} attempts "
                                f"(starts {body[:60]!r}); the API or a proxy in front of it is misbehaving"
                            ) from None
                elif status in RETRYABLE_STATUS:
                    failure = f"HTTP {status}"
                    retry_after = response.headers.get("Retry-After")
                else:
                    raise _status_error(status, body, where)
            if attempt >= self._retry.max_attempts:
                raise ApiUnavailableError(
                    f"{where} still failing after {attempt} attempts (last: {failure}); "
                    "the Class API is unavailable, try again later"
                )
            delay = self._retry.delay(attempt, retry_after)
            logger.info("%s failed (%s), retry %d in %.2fs", where, failure, attempt, delay)
            await asyncio.sleep(delay)


def decode_json(body: bytes, where: str) -> Any:
    """JSON from a 200 body (orjson: a metrics page decodes several times faster than with json);
    bytes that are not UTF-8 become U+FFFD rather than failing the run."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            logger.warning("%s answered invalid UTF-8; undecodable bytes were replaced by U+FFFD", where)
            return orjson.loads(body.decode("utf-8", errors="replace"))
        raise


def _describe(path: str, params: Mapping[str, Any] | None) -> str:
    query = "&".join(f"{k}={v}" for k, v in (params or {}).items())
    return f"GET {API_PREFIX}{path}" + (f"?{query}" if query else "")


def _error_text(body: bytes) -> str:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return body[:200].decode("utf-8", "replace")
    if isinstance(payload, dict) and "error" in payload:
        detail = payload.get("data")
        return f"{payload['error']}" + (f" {json.dumps(detail)}" if detail else "")
    return json.dumps(payload)[:200]


def _status_error(status: int, body: bytes, where: str) -> ClassApiError:
    text = _error_text(body)
    if status == 401:
        return AuthError(
            "API key invalid or expired (the Class API answered 401 Unauthorized): create a new key in the "
            "Class admin portal and set sources.class_api.api_key (env SOURCES__CLASS_API__API_KEY)"
        )
    if status == 403:
        scope = text.removeprefix("Api key scope ").removesuffix(" required").strip()
        return ScopeError(f"{where} answered 403: {text}", (scope,))
    if status == 404:
        return NotFoundError(f"{where} answered 404: {text}")
    if 300 <= status < 400:
        return RedirectError(
            f"{where} answered a redirect ({status}); set base_url to the final address "
            "(redirects are not followed so the key is never sent to another host)"
        )
    return RequestRejectedError(f"{where} answered {status}: {text}")


class RedirectError(RequestRejectedError):
    """The API answered a redirect, which is never followed (the key must not go elsewhere)."""
