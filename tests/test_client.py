"""The HTTP client against hand-written transports: retries, error mapping, metrics paging."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime

import httpx
import pytest

from class_source.client import (
    ApiUnavailableError,
    AuthError,
    BadResponseError,
    ClassApiClient,
    ConfigError,
    PageCannotAdvanceError,
    RequestRejectedError,
    RetryPolicy,
    ScopeError,
    metrics_pages,
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


# --- metrics paging ------------------------------------------------------------------------------


def events_api(events: list[dict]) -> Callable[[httpx.Request], httpx.Response]:
    """A metrics endpoint over `events` with the documented semantics (starting_after exclusive, seconds)."""

    def second(event: dict) -> int:
        from datetime import datetime

        return int(datetime.fromisoformat(event["event_start"].replace("Z", "+00:00")).timestamp())

    def handler(request: httpx.Request) -> httpx.Response:
        after = request.url.params.get("starting_after")
        limit = int(request.url.params.get("limit", 100))
        selected = [e for e in events if after is None or second(e) > int(after)]
        return httpx.Response(200, content=json.dumps(selected[:limit]).encode())

    return handler


def event(second_of_minute: int, millis: int, student: str) -> dict:
    start = f"2026-10-01T09:00:{second_of_minute:02d}.{millis:03d}Z"
    return {"student_id": student, "event_type": "REACTION", "event_value": "clap", "event_start": start, "event_end": start}


def collect(client: ClassApiClient, **kwargs) -> list[dict]:
    async def go():
        out = []
        async for page in metrics_pages(client, "c1", starting_after=kwargs.get("after"), ending_before=None, page_size=kwargs["page_size"]):
            out.extend(page.to_pylist())
        return out

    return run(go())


def test_page_boundary_inside_one_second_loses_and_duplicates_nothing():
    # 3 events in second :00, 3 in second :01 (a wave of reactions), 2 in :02; pages of 4 end mid-second
    events = [event(0, i, f"s{i}") for i in range(3)] + [event(1, i, f"t{i}") for i in range(3)] + [event(2, i, f"u{i}") for i in range(2)]
    got = collect(make_client(events_api(events)), page_size=4)
    assert [(e["event_start"], e["student_id"]) for e in got] == [
        (datetime.fromisoformat(e["event_start"].replace("Z", "+00:00")), e["student_id"]) for e in events
    ]


@pytest.mark.parametrize("wave", [4, 5])
def test_full_page_within_one_second_fails_naming_the_class_instead_of_looping(wave):
    # with a full page inside one second, whether more events share it is unknowable: never guess
    events = [event(4, 0, "before")] + [event(5, i, f"s{i}") for i in range(wave)]
    with pytest.raises(PageCannotAdvanceError, match="class c1: 4 or more events start within the second"):
        collect(make_client(events_api(events)), page_size=4)


def test_exactly_full_last_page_ends_cleanly():
    events = [event(0, 0, "a"), event(1, 0, "b"), event(2, 0, "c"), event(3, 0, "d")]
    got = collect(make_client(events_api(events)), page_size=2)
    assert [e["student_id"] for e in got] == ["a", "b", "c", "d"]
