"""What the connector does with bad data from the API (the README's "Bad data" table, row by row)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dlt
import duckdb
import httpx
import pytest

from class_source import embedded_source
from class_source.cli import expected_failure
from class_source.emulator import Emulator

Tamper = Callable[[httpx.Request, bytes], bytes]


class TamperingTransport(httpx.AsyncBaseTransport):
    """The in-process emulator, with the 200 bodies of one endpoint rewritten by `tamper`."""

    def __init__(self, emulator: Emulator, path: str, tamper: Tamper, times: int | None = None) -> None:
        self._inner = emulator.transport()
        self._path, self._tamper, self._left = path, tamper, times

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        body = await response.aread()
        if request.url.path == self._path and response.status_code == 200 and self._left != 0:
            self._left = None if self._left is None else self._left - 1
            body = self._tamper(request, body)
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        return httpx.Response(response.status_code, headers=headers, content=body, request=request)


def json_tamper(change: Callable[[Any], Any]) -> Tamper:
    return lambda request, body: json.dumps(change(json.loads(body))).encode()


def load(tmp_path: Path, emulator: Emulator, transport: httpx.AsyncBaseTransport, *resources: str) -> dlt.Pipeline:
    pipeline = dlt.pipeline(
        pipeline_name="bad_data",
        destination=dlt.destinations.duckdb(str(tmp_path / "bad.duckdb")),
        dataset_name="class_data",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    source = embedded_source(
        base_url="http://127.0.0.1:1", api_key=emulator.mint_key(), transport=transport, max_retries=2, request_timeout_s=5
    )
    pipeline.run(source.with_resources(*resources) if resources else source)
    return pipeline


def query(tmp_path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(tmp_path / "bad.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture
def emulator() -> Emulator:
    return Emulator(seed=3, classes=3)


def first_item(change: Callable[[dict], dict]) -> Callable[[Any], Any]:
    return lambda items: [change(items[0])] + items[1:] if items else items


def test_unknown_new_fields_land_as_new_columns(tmp_path, emulator):
    tamper = json_tamper(lambda items: [{**c, "room": f"R{i}"} for i, c in enumerate(items)])
    load(tmp_path, emulator, TamperingTransport(emulator, "/api/v1/classes", tamper), "classes")
    assert sorted(query(tmp_path, "select room from class_data.classes")) == [(f"R{i}",) for i in range(len(emulator.school.class_ids()))]


def test_a_field_that_changes_type_is_coerced_to_the_documented_type(tmp_path, emulator):
    tamper = json_tamper(first_item(lambda e: {**e, "event_type": "RAISED_HAND", "event_value": 1, "event_duration": "60"}))
    load(tmp_path, emulator, TamperingTransport(emulator, "/api/v1/reporting/metrics", tamper, times=1), "metrics")
    values = query(tmp_path, "select distinct typeof(event_value), typeof(event_duration) from class_data.metrics")
    assert values == [("VARCHAR", "BIGINT")]
    assert query(tmp_path, "select count(*) from class_data.metrics where event_type = 'RAISED_HAND' and event_value = '1' and event_duration = 60") == [(1,)]


@pytest.mark.parametrize("raw", ["2022-06-15 17:43:40+02:00", 1655307820, 1655307820000])
def test_timestamps_in_unexpected_formats_are_parsed(tmp_path, emulator, raw):
    tamper = json_tamper(first_item(lambda e: {**e, "event_start": raw, "event_type": "STARS", "event_value": "3"}))
    load(tmp_path, emulator, TamperingTransport(emulator, "/api/v1/reporting/metrics", tamper, times=1), "metrics")
    rows = query(tmp_path, "select epoch(event_start) from class_data.metrics where event_type = 'STARS' and event_value = '3' and epoch(event_start) = 1655307820")
    assert rows == [(1655307820.0,)]


def test_a_record_without_its_key_fails_the_run_naming_it_and_loads_nothing(tmp_path, emulator):
    load(tmp_path, emulator, emulator.transport(), "metrics")
    before = query(tmp_path, "select count(*) from class_data.metrics")
    emulator.clock.advance(86400)
    tamper = json_tamper(first_item(lambda e: {**e, "student_id": None}))
    with pytest.raises(Exception) as caught:
        load(tmp_path, emulator, TamperingTransport(emulator, "/api/v1/reporting/metrics", tamper, times=1), "metrics")
    reason = expected_failure(caught.value)
    assert reason is not None and reason.startswith("metrics record without its key student_id: {")
    assert query(tmp_path, "select count(*) from class_data.metrics") == before  # nothing half-written


@pytest.mark.parametrize("body", [b"<html><body>Bad gateway</body></html>", b""])
def test_a_200_that_is_not_json_is_retried_then_fails_with_one_line(tmp_path, emulator, body):
    transport = TamperingTransport(emulator, "/api/v1/templates", lambda request, _: body)
    with pytest.raises(Exception) as caught:
        load(tmp_path, emulator, transport, "templates")
    reason = expected_failure(caught.value)
    assert reason is not None and "answered 200 with a body that is not JSON after 3 attempts" in reason
    assert "\n" not in reason


def test_a_single_non_json_200_is_retried_and_the_load_completes(tmp_path, emulator):
    transport = TamperingTransport(emulator, "/api/v1/templates", lambda request, _: b"<html>", times=1)
    load(tmp_path, emulator, transport, "templates")
    expected = {t["template_id"] for t in emulator.school.ground_truth()["templates"]}
    assert {r[0] for r in query(tmp_path, "select template_id from class_data.templates")} == expected


def test_invalid_utf8_becomes_replacement_characters_not_a_failed_run(tmp_path, emulator):
    def break_encoding(request: httpx.Request, body: bytes) -> bytes:
        return body.replace(b'"class_name": "', b'"class_name": "\xff\xfe', 1).replace(b'"class_name":"', b'"class_name":"\xff\xfe', 1)

    load(tmp_path, emulator, TamperingTransport(emulator, "/api/v1/classes", break_encoding), "classes")
    names = [r[0] for r in query(tmp_path, "select class_name from class_data.classes")]
    assert sum(name.startswith("\ufffd\ufffd") for name in names) == 1


def test_huge_strings_land_intact(tmp_path, emulator):
    huge = "Ω" * 1_000_000
    tamper = json_tamper(first_item(lambda c: {**c, "class_description": huge}))
    load(tmp_path, emulator, TamperingTransport(emulator, "/api/v1/classes", tamper), "classes")
    assert query(tmp_path, "select max(length(class_description)) from class_data.classes") == [(1_000_000,)]
