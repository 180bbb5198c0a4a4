"""API records become typed Arrow tables; bad records fail naming what is wrong."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pyarrow as pa
import pytest

from class_source.records import RecordError, keys_are_distinct, table_from_json, to_table

EVENT = {
    "student_id": "s1", "email": None, "ext_person_id": None,
    "event_start": "2022-06-15T17:43:40.196Z", "event_end": "2022-06-15T17:53:40.197Z",
    "event_duration": 36000, "event_type": "FOCUSED", "event_value": "true",
}


def test_metrics_keep_milliseconds_as_utc_timestamps_and_attach_the_class():
    table = to_table("metrics", [EVENT], {"class_id": "c1"})
    row = table.to_pylist()[0]
    assert row["class_id"] == "c1"
    assert row["event_start"] == datetime(2022, 6, 15, 17, 43, 40, 196000, tzinfo=timezone.utc)
    assert row["event_duration"] == 36000  # raw, as the API sent it
    assert table.schema.field("event_start").type == pa.timestamp("us", tz="UTC")


def test_schedule_unix_seconds_become_timestamps():
    table = to_table("schedules", [{"schedule_id": "x", "start_time": 1628859600, "end_time": 1628920800}], {"class_id": "c"})
    assert table.to_pylist()[0]["start_time"] == datetime(2021, 8, 13, 13, 0, tzinfo=timezone.utc)


def test_unknown_fields_land_as_extra_columns():
    table = to_table("templates", [{"template_id": "t", "name": "n", "status": "draft", "owner": "x"}])
    assert table.column("owner").to_pylist() == ["x"]


def test_values_of_an_unexpected_json_type_are_coerced():
    table = to_table("metrics", [{**EVENT, "event_value": 1, "event_duration": "600"}], {"class_id": "c"})
    row = table.to_pylist()[0]
    assert (row["event_value"], row["event_duration"]) == ("1", 600)


def test_other_timestamp_formats_are_parsed():
    table = to_table("metrics", [{**EVENT, "event_start": "2022-06-15 17:43:40+02:00"}], {"class_id": "c"})
    assert table.to_pylist()[0]["event_start"] == datetime(2022, 6, 15, 15, 43, 40, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("table", "record", "message"),
    [
        ("metrics", {**EVENT, "student_id": None}, "metrics record without its key student_id"),
        ("metrics", {**EVENT, "event_start": "yesterday-ish"}, "metrics.event_start: 'yesterday-ish' is not an ISO-8601"),
        ("schedules", {"schedule_id": "x", "start_time": "soon", "end_time": 1}, "schedules.start_time: 'soon' is not a unix timestamp"),
        ("users", {"id": "seven", "user_name": "x"}, "users.id: cannot read 'seven'"),
    ],
)
def test_bad_records_fail_naming_table_column_and_value(table, record, message):
    with pytest.raises(RecordError, match=message.replace("(", r"\(")):
        to_table(table, [record], {"class_id": "c"} if table in ("metrics", "schedules") else None)


# --- straight from the response body ---------------------------------------------------------------


def _body(records) -> bytes:
    return json.dumps(records).encode()


@pytest.mark.parametrize(
    "records",
    [
        [EVENT, {**EVENT, "student_id": "s2", "event_start": "2022-06-15T19:43:40.196+02:00", "email": "a@b.org"}],
        [{**EVENT, "event_start": "2022-06-15T17:43:40Z", "event_duration": None, "event_value": None}],
        [],
    ],
)
def test_a_documented_page_is_typed_from_its_body_exactly_as_from_its_records(records):
    from_body = table_from_json("metrics", _body(records), {"class_id": "c1"})
    assert from_body is not None
    assert from_body.equals(to_table("metrics", records, {"class_id": "c1"}))


def test_a_pretty_printed_body_is_read_too():
    body = json.dumps([EVENT, EVENT | {"student_id": "s2"}], indent=2).encode()
    assert table_from_json("metrics", body, {"class_id": "c1"}).column("student_id").to_pylist() == ["s1", "s2"]


@pytest.mark.parametrize(
    "body",
    [
        _body([EVENT | {"new_field": 1}]),  # to_table keeps it as an extra column
        _body([EVENT | {"event_duration": "36000"}]),  # to_table coerces it
        _body([EVENT | {"student_id": None}]),  # to_table names the record without its key
        b'{"error": "not a list"}',
        b"[{\"student_id\": \"s1\", ",  # cut short
    ],
)
def test_anything_but_the_documented_shape_is_left_to_to_table(body):
    assert table_from_json("metrics", body, {"class_id": "c1"}) is None


def test_keys_are_distinct_compares_whole_keys():
    table = pa.table({"a": ["x", "x", "xy"], "b": ["y1", "y2", "1"], "c": [1, 1, 2]})
    assert keys_are_distinct(table, ["a", "b"])  # ("x", "y1") and ("xy", "1"): the same characters, two keys
    assert not keys_are_distinct(table, ["a", "c"])  # rows 1 and 2: ("x", 1) twice
    assert keys_are_distinct(table, ["b"])
    assert keys_are_distinct(table.slice(0, 0), ["a"])
