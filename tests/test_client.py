"""The HTTP client against hand-written transports: retries, error mapping, metrics paging."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from datetime import datetime, timezone

from class_source.client import (
    ApiUnavailableError,
    ApiUnreachableError,
    AuthError,
    BadResponseError,
    ClassApiClient,
    ConfigError,
    NotFoundError,
    RequestRejectedError,
    ResponseTooLargeError,
    RetryPolicy,
    ScopeError,
    retry_after_seconds,
    validate_base_url,
)
from class_source.transport import BodyTooLargeError

SECRET = "s3cr3t-key-value"
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay_s=0.0, max_delay_s=0.0)


def make_client(handler: Callable[[httpx.Request], httpx.Response], **kwargs) -> ClassApiClient:
    return ClassApiClient(
        "http://127.0.0.1:9", SECRET, transport=httpx.MockTransport(handler), retry=kwargs.pop("retry", FAST_RETRY), **kwargs
    )


def run(coro):
    return asyncio.run(coro)


@pytest.mark.parametrize(
    "url",
    ["http://example.com", "ftp://x", "", "https://school.class.com/api/v1", "not a url"],
)
def test_base_url_rejects_unsafe_or_malformed(url):
    with pytest.raises(ConfigError):
        validate_base_url(url)


@pytest.mark.parametrize("url", ["https://school.class.com/", "http://127.0.0.1:8765", "http://localhost:1", "http://[::1]:80"])
def test_base_url_accepts_https_and_loopback(url):
    assert validate_base_url(url) == url.rstrip("/")


def test_sends_bearer_key_and_decodes_json():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["auth"] = request.headers["Authorization"]
        seen["url"] = str(request.url)
        return httpx.Response(200, json=[{"class_id": "a"}])

    body = run(make_client(handler).get("/classes", {"deferred": "true"}))
    assert body == [{"class_id": "a"}]
    assert seen == {"auth": f"Bearer {SECRET}", "url": "http://127.0.0.1:9/api/v1/classes?deferred=true"}


@pytest.mark.parametrize("failure", [500, 503, 429, "drop", "not-json"])
def test_retries_transient_failures_then_succeeds(failure):
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            if failure == "drop":
                raise httpx.RemoteProtocolError("peer closed connection", request=request)
            if failure == "not-json":
                return httpx.Response(200, content=b"<html>gateway</html>")
            return httpx.Response(failure, headers={"Retry-After": "0"}, json={"error": "busy"})
        return httpx.Response(200, json=[])

    assert run(make_client(handler).get("/templates")) == []
    assert len(calls) == 3


def test_gives_up_after_the_retry_budget_with_one_line_reason():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": "maintenance"})

    with pytest.raises(ApiUnavailableError, match=r"after 4 attempts \(last: HTTP 503\)"):
        run(make_client(handler).get("/templates"))


def test_non_json_200_after_retries_is_a_bad_response():
    with pytest.raises(BadResponseError, match="not JSON"):
        run(make_client(lambda r: httpx.Response(200, content=b"<html>")).get("/templates"))


def test_retry_after_is_honoured():
    assert RetryPolicy(max_delay_s=30).delay(1, "7") == 7.0
    assert RetryPolicy(max_delay_s=5).delay(1, "600") == 5.0  # capped
    assert 0 <= RetryPolicy(base_delay_s=1, max_delay_s=30).delay(3, None) <= 4.0


def test_401_maps_to_invalid_or_expired_without_the_secret():
    client = make_client(lambda r: httpx.Response(401, json={"error": "Unauthorized"}))
    with pytest.raises(AuthError, match="API key invalid or expired") as caught:
        run(client.get("/classes"))
    assert SECRET not in str(caught.value)


def test_403_names_the_missing_scope():
    client = make_client(lambda r: httpx.Response(403, json={"error": "Api key scope metrics:read required"}))
    with pytest.raises(ScopeError) as caught:
        run(client.get("/reporting/metrics", {"class_id": "x"}))
    assert caught.value.missing_scopes == ("metrics:read",)


def test_400_is_not_retried_and_carries_the_validation_detail():
    calls = []

    def handler(request):
        calls.append(1)
        return httpx.Response(400, json={"error": "Request failed validation", "data": {"limit": ["too big"]}})

    with pytest.raises(RequestRejectedError, match="too big"):
        run(make_client(handler).get("/users", {"page": 1, "limit": 5000}))
    assert len(calls) == 1


def test_redirect_is_not_followed():
    client = make_client(lambda r: httpx.Response(302, headers={"Location": "https://evil.example/"}))
    with pytest.raises(RequestRejectedError, match="redirect"):
        run(client.get("/classes"))


# --- hostile answers (issue 12) ----------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://user:PASSWORD-1@127.0.0.1:8765", "https://PASSWORD-1@school.class.com",
                                 "ftp://u:PASSWORD-1@x", "user:PASSWORD-1@school.class.com/api/v1"])
def test_a_base_url_with_userinfo_is_refused_without_echoing_it(url):
    with pytest.raises(ConfigError, match="user name or password") as caught:
        validate_base_url(url)
    assert "PASSWORD-1" not in str(caught.value)


@pytest.mark.parametrize(
    ("key", "named"),
    [("\u201cs3cr3t-key-value\u201d", "a non-ASCII character (U+201C"), ("s3cr3t-key\nvalue", "a line break"),
     ("s3cr3t key-value", "a space"), ("s3cr3t-key\u00a0value", "a whitespace character (U+00A0)")],
)
def test_a_key_no_http_header_can_carry_is_refused_in_one_line_without_printing_it(key, named):
    with pytest.raises(ConfigError) as caught:
        ClassApiClient("http://127.0.0.1:9", key)
    message = str(caught.value)
    assert named in message and "\n" not in message
    assert "s3cr3t" not in message and "value" not in message.replace("env SOURCES", "")


@pytest.mark.parametrize("status", [400, 403, 404, 418])
def test_an_error_body_echoing_the_authorization_header_is_quoted_without_the_key(status):
    def echo(request: httpx.Request) -> httpx.Response:
        echoed = f"you sent Authorization: {request.headers['Authorization']} " + "x" * 150
        return httpx.Response(status, json={"error": echoed, "data": {"headers": dict(request.headers)}})

    with pytest.raises((RequestRejectedError, ScopeError, NotFoundError)) as caught:
        run(make_client(echo).get("/classes"))
    assert "you sent Authorization: Bearer ***" in str(caught.value)
    assert SECRET not in str(caught.value) and SECRET[:8] not in str(caught.value)
    assert SECRET not in repr(getattr(caught.value, "missing_scopes", ""))


def test_a_200_that_is_not_json_echoing_the_key_is_quoted_without_it():
    client = make_client(lambda r: httpx.Response(200, content=r.headers["Authorization"].encode() + b" <html>"))
    with pytest.raises(BadResponseError, match=r"starts b'Bearer \*\*\* <html>'") as caught:
        run(client.get("/templates"))
    assert SECRET[:4] not in str(caught.value)


def test_json_nested_too_deep_is_reported_as_such_and_not_retried():
    calls = []

    def deep(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, content=b"[" * 5000 + b"]" * 5000)

    with pytest.raises(BadResponseError, match="nested more than 1024 levels deep") as caught:
        run(make_client(deep).get("/classes"))
    assert "not JSON" not in str(caught.value) and len(calls) == 1


def test_a_deep_error_body_still_gives_one_line():
    client = make_client(lambda r: httpx.Response(400, content=b'{"error":' + b"[" * 100_000 + b"]" * 100_000 + b"}"))
    with pytest.raises(RequestRejectedError, match="answered 400"):
        run(client.get("/classes"))


@pytest.mark.parametrize("total_pages", [10_000_000, "lots"])
def test_a_listing_claiming_implausibly_many_pages_is_refused_before_any_other_page(total_pages):
    calls = []

    def claim(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(200, json={"data": [], "pagination": {"total_pages": total_pages, "current_page": 1}})

    with pytest.raises(BadResponseError, match="total_pages") as caught:
        run(make_client(claim).get("/users", {"page": 1, "limit": 1000}))
    if total_pages == 10_000_000:
        assert "more than the 10,000 pages" in str(caught.value)
    assert len(calls) == 1


def test_a_listing_with_plausible_pages_passes():
    body = {"data": [{"id": 1}], "pagination": {"total_pages": 10_000, "current_page": 1}}
    assert run(make_client(lambda r: httpx.Response(200, json=body)).get("/users")) == body


def test_a_body_over_the_size_limit_fails_at_once_naming_the_limit():
    calls = []

    def too_big(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise BodyTooLargeError(64 * 2**20, request)

    with pytest.raises(ResponseTooLargeError, match=r"^GET /api/v1/classes answered more than 64 MiB, the most the connector reads from one response \(max_response_mb\);"):
        run(make_client(too_big).get("/classes"))
    assert len(calls) == 1


def test_a_host_that_never_accepts_a_connection_is_named_and_not_called_unavailable():
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("nothing accepts connections on port 9", request=request)

    with pytest.raises(ApiUnreachableError) as caught:
        run(make_client(refused).get("/classes"))
    assert str(caught.value) == (
        "cannot connect to 127.0.0.1:9 (nothing accepts connections on port 9) after 4 attempts: "
        "check the host name and port of base_url"
    )


def test_5xx_names_the_host_and_says_try_later():
    with pytest.raises(ApiUnavailableError, match=r"the Class API at 127.0.0.1:9 is unavailable, try again later") as caught:
        run(make_client(lambda r: httpx.Response(503)).get("/classes"))
    assert not isinstance(caught.value, ApiUnreachableError)


def test_retry_after_as_an_http_date_is_honoured_and_capped():
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:09 GMT", now) == 9.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:27:00 GMT", now) == 0.0  # in the past: now
    assert retry_after_seconds("soon", now) is None and retry_after_seconds("nan", now) is None
    in_a_day = "Thu, 01 Jan 2099 00:00:00 GMT"
    assert RetryPolicy(max_delay_s=30).delay(1, in_a_day) == 30.0
    assert RetryPolicy(max_delay_s=30).delay(1, "inf") == 30.0
