"""UTC timestamp formatting in the API's style: `2022-06-15T17:43:40.196Z` (always milliseconds)."""

from __future__ import annotations

import datetime as _dt

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
# Formatting is the hot path of metrics pages (two timestamps per event, 1,000 events per page):
# "YYYY-MM-DDTHH:MM:" is cached per minute and the rest comes from two small tables, which makes a
# timestamp three lookups and a concatenation instead of a datetime round trip.
_SECONDS = tuple(f"{s:02d}." for s in range(60))
_MILLIS = tuple(f"{m:03d}Z" for m in range(1000))
_minute_prefix: dict[int, str] = {}
_MAX_CACHED_MINUTES = 250_000  # a 15-week term is ~151k minutes


def _prefix(minute: int) -> str:
    text = (_EPOCH + _dt.timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:")
    if len(_minute_prefix) >= _MAX_CACHED_MINUTES:
        _minute_prefix.clear()
    _minute_prefix[minute] = text
    return text


def iso_ms(ms: int) -> str:
    """Format unix milliseconds as the API does."""
    minute, rem = divmod(ms, 60_000)
    prefix = _minute_prefix.get(minute) or _prefix(minute)
    seconds, millis = divmod(rem, 1000)
    return prefix + _SECONDS[seconds] + _MILLIS[millis]


def iso_s(seconds: int) -> str:
    """Format unix seconds as the API does (milliseconds are .000)."""
    return iso_ms(seconds * 1000)


def parse_iso_ms(text: str) -> int:
    """Parse an ISO-8601 timestamp with a timezone (e.g. as served) to unix milliseconds."""
    value = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no timezone")
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
