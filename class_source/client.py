"""Async HTTP client for the Class API: auth, bounded concurrency, retries with backoff, error mapping.

One `ClassApiClient` owns one `httpx.AsyncClient` (keep-alive connections, one per concurrency slot,
on aiohttp's transport: see `transport.py`) and its request slots (`slots.py`), so every request of a run, whatever
resource issues it, shares the same pool and the same bound on in-flight requests.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import logging
import math
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from .errors import (
    ApiUnavailableError,
    ApiUnreachableError,
    AuthError,
    BadResponseError,
    ClassApiError,
    ConfigError,
    NotFoundError,
    RedirectError,
    RequestRejectedError,
    ResponseTooLargeError,
    ScopeError,
)
from .redact import redact, redact_bytes, register
from .slots import RequestSlots
from .transport import DEFAULT_MAX_RESPONSE_BYTES, AiohttpTransport, BodyTooLargeError

logger = logging.getLogger("class_elt.client")

API_PREFIX = "/api/v1"
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
# What a listing may say about itself: 10,000 pages of 1,000 records is ten million users or
# templates, beyond any school; a server claiming more is broken, and believing it costs memory.
MAX_TOTAL_PAGES = 10_000
JSON_MAX_DEPTH = 1024  # orjson's limit; no Class API answer nests deeper than four levels


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; `Retry-After` is honoured up to `max_delay_s`."""

    max_attempts: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0

    def delay(self, attempt: int, retry_after: str | None) -> float:
        asked = retry_after_seconds(retry_after) if retry_after is not None else None
        if asked is not None:
            return min(asked, self.max_delay_s)
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)


def retry_after_seconds(value: str, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header, in either form (RFC 9110: delay-seconds or an
    HTTP date); None for a value that is neither."""
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    return None if math.isnan(seconds) else max(seconds, 0.0)


def validate_base_url(base_url: str) -> str:
    """Return the base URL without a trailing slash; refuse plain http except on loopback, and any
    user name or password in it (never echoed: it may be the key)."""
    if not base_url or not isinstance(base_url, str):
        raise ConfigError("base_url is empty: set sources.class_api.base_url (env SOURCES__CLASS_API__BASE_URL)")
    if "@" in base_url:
        raise ConfigError(
            "base_url contains a user name or password (user:password@host), which is not shown here: "
            "remove it; the API key belongs in sources.class_api.api_key (env SOURCES__CLASS_API__API_KEY)"
        )
    try:
        parts = urlsplit(base_url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(f"base_url {base_url!r} is not a valid URL: use the base URL shown on the Class API Keys page") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"base_url {base_url!r} is not an http(s) URL: use the base URL shown on the Class API Keys page")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"base_url {base_url!r} uses plain http: the API key would travel unencrypted; use https "
            "(plain http is allowed only for loopback addresses such as the local emulator)"
        )
    if parts.path.rstrip("/").endswith(API_PREFIX):
        raise ConfigError(f"base_url {base_url!r} must not include {API_PREFIX}: give the organization's base URL only")
    return base_url.strip().rstrip("/")


def validate_api_key(api_key: Any) -> str:
    """The key without surrounding whitespace; refuse, without printing it, a key with a character no
    HTTP header can carry (copy and paste brings smart quotes, line breaks, non-breaking spaces)."""
    key = str(api_key or "").strip()
    if not key:
        raise ConfigError("api_key is empty: set sources.class_api.api_key (env SOURCES__CLASS_API__API_KEY)")
    for position, char in enumerate(key, start=1):
        if not "!" <= char <= "~":  # visible ASCII, the most a bearer token can be
            raise ConfigError(
                f"api_key has {_describe_char(char)} at character {position} of {len(key)}, which an HTTP header "
                "cannot carry: copy the key again as plain text into sources.class_api.api_key "
                "(env SOURCES__CLASS_API__API_KEY)"
            )
    return key


def _describe_char(char: str) -> str:
    if char in "\r\n":
        return "a line break"
    if char.isspace():
        return "a space" if char == " " else f"a whitespace character (U+{ord(char):04X})"
    if ord(char) < 0x20 or ord(char) == 0x7F:
        return f"a control character (U+{ord(char):04X})"
    return f"a non-ASCII character (U+{ord(char):04X}, e.g. a smart quote)" if ord(char) > 0x7F else "a character"


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
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        retries: Counter[str] | None = None,
    ) -> None:
        key = validate_api_key(api_key)
        register(key)  # before anything can quote it
        if max_concurrency < 1:
            raise ConfigError(f"max_concurrency must be a positive integer, got {max_concurrency}")
        if max_response_bytes < 1:
            raise ConfigError(f"the maximum response size must be positive, got {max_response_bytes} bytes")
        self.base_url = validate_base_url(base_url)
        self.host = urlsplit(self.base_url).netloc
        self._retry = retry
        self.retries: Counter[str] = retries if retries is not None else Counter()  # retried requests by reason
        self._timeout_s = timeout_s
        self._slots = RequestSlots(max_concurrency)
        self._http = httpx.AsyncClient(
            base_url=self.base_url + API_PREFIX,
            # gzip and deflate only: the transport bounds what they decompress to
            headers={"Authorization": f"Bearer {key}", "Accept": "application/json", "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,  # never forward the Authorization header anywhere but base_url
            transport=transport or AiohttpTransport(max_concurrency, deadline_s=timeout_s, max_response_bytes=max_response_bytes),
        )
        self.requests_sent = 0
        self.server_date: str | None = None  # the Date header of the latest 200: the API's clock

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        decode: Callable[[bytes, str], Awaitable[Any]] | None = None,
        later: bool = False,
    ) -> Any:
        """GET `path` (relative to /api/v1) and return the decoded JSON body.

        `decode(body, where)` replaces the plain JSON decoding of a 200 body; like it, it raises
        `json.JSONDecodeError` for a body that is not JSON (retried: it may have been cut short).
        `later`: the request waits for a slot until no other request does (slots.py).
        """
        where = _describe(path, params)
        attempt = 0
        while True:
            attempt += 1
            retry_after: str | None = None
            unreachable = False
            try:
                async with self._slots.held(later):
                    self.requests_sent += 1
                    response = await self._http.get(path, params=params)
                    body = response.content  # read inside the slot: a truncated body fails here
            except BodyTooLargeError as exc:
                raise ResponseTooLargeError(
                    f"{where} answered more than {_mebibytes(exc.limit)}, the most the connector reads from one "
                    "response (max_response_mb); the API or a proxy in front of it is misbehaving"
                ) from None
            except httpx.ConnectTimeout:
                unreachable, failure, kind = True, f"no connection within {self._timeout_s:g}s", "connect timeout"
            except httpx.TimeoutException:
                failure, kind = f"no complete answer within {self._timeout_s:g}s (request_timeout_s)", "timeout"
            except httpx.RequestError as exc:  # transport failures, and bodies that cannot be decoded
                unreachable = isinstance(exc, httpx.ConnectError)
                failure, kind = redact(str(exc)) or type(exc).__name__, "connection"
            else:
                status = response.status_code
                if status == 200:
                    self.server_date = response.headers.get("date", self.server_date)
                    try:
                        payload = await decode(body, where) if decode else decode_json(body, where)
                    except json.JSONDecodeError:
                        failure, kind = "200 with a body that is not JSON", "not JSON"
                        if attempt >= self._retry.max_attempts:
                            raise BadResponseError(
                                f"{where} answered 200 with a body that is not JSON after {attempt} attempts "
                                f"(starts {redact_bytes(body)[:60]!r}); the API or a proxy in front of it is misbehaving"
                            ) from None
                    else:
                        return _checked_listing(payload, where)
                elif status in RETRYABLE_STATUS:
                    failure, kind = f"HTTP {status}", str(status)
                    retry_after = response.headers.get("Retry-After")
                else:
                    raise _status_error(status, body, where)
            if attempt >= self._retry.max_attempts:
                if unreachable:
                    raise ApiUnreachableError(
                        f"cannot connect to {self.host} ({failure}) after {attempt} attempts: check the host name and port of base_url"
                    )
                raise ApiUnavailableError(
                    f"{where} still failing after {attempt} attempts (last: {failure}); "
                    f"the Class API at {self.host} is unavailable, try again later"
                )
            delay = self._retry.delay(attempt, retry_after)
            self.retries[kind] += 1
            logger.info("%s failed (%s), retry %d in %.2fs", where, failure, attempt, delay)
            await asyncio.sleep(delay)


def decode_json(body: bytes, where: str) -> Any:
    """JSON from a 200 body (orjson: a metrics page decodes several times faster than with json);
    bytes that are not UTF-8 become U+FFFD rather than failing the run. JSON nested deeper than
    orjson parses is a `BadResponseError` (not retried: the same body would come again)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if _too_deep(exc):
            raise _too_deep_error(where) from None
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            raise
    logger.warning("%s answered invalid UTF-8; undecodable bytes were replaced by U+FFFD", where)
    try:
        return orjson.loads(body.decode("utf-8", errors="replace"))
    except orjson.JSONDecodeError as exc:
        if _too_deep(exc):
            raise _too_deep_error(where) from None
        raise


def _too_deep(exc: orjson.JSONDecodeError) -> bool:
    return str(exc).startswith("depth limit exceeded")


def _too_deep_error(where: str) -> BadResponseError:
    return BadResponseError(
        f"{where} answered JSON nested more than {JSON_MAX_DEPTH} levels deep, which no Class API answer is; "
        "the API or a proxy in front of it is misbehaving"
    )


def _checked_listing(payload: Any, where: str) -> Any:
    """`payload`, once what a paged listing says about itself is plausible: a `total_pages` beyond
    MAX_TOTAL_PAGES would have the connector queue that many requests before reading page 2."""
    pagination = payload.get("pagination") if isinstance(payload, dict) else None
    if isinstance(pagination, dict) and pagination.get("total_pages") is not None:
        claimed = pagination["total_pages"]
        try:
            pages = int(claimed)
        except (TypeError, ValueError, OverflowError):
            raise BadResponseError(f"{where} answered total_pages {str(claimed)[:40]!r}, which is not a number") from None
        if pages > MAX_TOTAL_PAGES:
            raise BadResponseError(
                f"{where} answered total_pages {pages}, more than the {MAX_TOTAL_PAGES:,} pages the connector "
                "accepts from one listing; the API is misbehaving, report it to Class support"
            )
    return payload


def _mebibytes(size: int) -> str:
    return f"{size / 2**20:g} MiB"


def _describe(path: str, params: Mapping[str, Any] | None) -> str:
    query = "&".join(f"{k}={v}" for k, v in (params or {}).items())
    return f"GET {API_PREFIX}{path}" + (f"?{query}" if query else "")


def _error_text(body: bytes) -> str:
    """What an error body says, at most 200 characters, secrets masked before it is cut."""
    body = redact_bytes(body)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:  # not JSON, not UTF-8, or nested too deep
        return redact(body.decode("utf-8", "replace"))[:200]
    if isinstance(payload, dict) and "error" in payload:
        detail = payload.get("data")
        text = f"{payload['error']}" + (f" {_compact_json(detail)}" if detail else "")
    else:
        text = _compact_json(payload)
    return redact(text)[:200]


def _compact_json(value: Any) -> str:
    return orjson.dumps(value).decode()  # as deep as orjson parsed it, where json.dumps would recurse out


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
