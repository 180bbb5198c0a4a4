"""API records become typed Arrow tables; bad records fail naming what is wrong."""

from __future__ import annotations

from datetime import datetime, timezone

import pyarrow as pa
import pytest

from class_source.records import RecordError, to_table

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
