"""The HTTP client against hand-written transports: retries, error mapping, metrics paging."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from class_source.client import (
    ApiUnavailableError,
    AuthError,
    BadResponseError,
    ClassApiClient,
    ConfigError,
    RequestRejectedError,
    RetryPolicy,
    ScopeError,
    validate_base_url,
)

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
