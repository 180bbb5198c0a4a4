"""API records -> typed `pyarrow` tables, one schema per warehouse table.

Building Arrow tables here (instead of yielding dicts) gives every table explicit column types
and lets dlt skip its row-by-row normalizer. Timestamps become UTC `timestamp` columns: ISO
strings with milliseconds keep millisecond precision, unix seconds become second-exact values.
Fields the API adds in the future are kept as extra columns rather than dropped.
"""

from __future__ import annotations

import functools
import io
import json
import logging
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import pendulum
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from .errors import RecordError

logger = logging.getLogger("class_elt")

# microseconds: every destination's default precision (the API itself sends milliseconds)
UTC_TS = pa.timestamp("us", tz="UTC")

# column -> Arrow type as landed; the field order is the table's column order
TABLE_SCHEMAS: dict[str, pa.Schema] = {
    "classes": pa.schema(
        [
            pa.field("class_id", pa.string(), nullable=False),
            ("ext_class_id", pa.string()),
            ("class_name", pa.string()),
            ("class_description", pa.string()),
            ("meeting_id", pa.string()),
            ("host", pa.string()),
            ("invite_link", pa.string()),
            ("password", pa.string()),
        ]
    ),
    "deferred_classes": pa.schema(
        [
            pa.field("class_deferred_id", pa.int64(), nullable=False),
            ("class_id", pa.string()),
            ("ext_class_id", pa.string()),
            ("email", pa.string()),
            ("class_name", pa.string()),
            ("class_description", pa.string()),
            ("created_at", UTC_TS),
            ("updated_at", UTC_TS),
        ]
    ),
    "users": pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            ("ext_user_id", pa.string()),
            ("email", pa.string()),
            ("user_name", pa.string()),
            ("roles", pa.list_(pa.string())),
            ("is_zoom_configured", pa.bool_()),
        ]
    ),
    "templates": pa.schema(
        [
            pa.field("template_id", pa.string(), nullable=False),
            ("name", pa.string()),
            ("description", pa.string()),
            ("status", pa.string()),
        ]
    ),
    "enrollments": pa.schema(
        [
            pa.field("class_id", pa.string(), nullable=False),
            pa.field("student_id", pa.string(), nullable=False),
            ("meeting_id", pa.string()),
            ("user_name", pa.string()),
            ("first_name", pa.string()),
            ("last_name", pa.string()),
            ("email", pa.string()),
            ("ext_person_id", pa.string()),
            ("role", pa.string()),
        ]
    ),
    "schedules": pa.schema(
        [
            pa.field("schedule_id", pa.string(), nullable=False),
            ("class_id", pa.string()),
            ("start_time", UTC_TS),
            ("end_time", UTC_TS),
        ]
    ),
    "attendance": pa.schema(
        [
            pa.field("class_id", pa.string(), nullable=False),
            pa.field("session_id", pa.string(), nullable=False),
            ("session_start_time", UTC_TS),
            ("session_end_time", UTC_TS),
            pa.field("student_id", pa.string(), nullable=False),
            ("email", pa.string()),
            ("ext_person_id", pa.string()),
            ("present", pa.bool_()),
            ("tardy", pa.bool_()),
            ("join_time", UTC_TS),
            ("leave_time", UTC_TS),
        ]
    ),
    "metrics": pa.schema(
        [
            pa.field("class_id", pa.string(), nullable=False),
            pa.field("student_id", pa.string(), nullable=False),
            ("email", pa.string()),
            ("ext_person_id", pa.string()),
            pa.field("event_start", UTC_TS, nullable=False),
            ("event_end", UTC_TS),
            ("event_duration", pa.int64()),
            pa.field("event_type", pa.string(), nullable=False),
            pa.field("event_value", pa.string(), nullable=False),  # part of the key: see VALUE_WHEN_MISSING
        ]
    ),
}

# Key columns a record may lack, and what is stored instead: an event's value is part of its key
# (two values at one instant are two events), and a key column cannot be NULL.
VALUE_WHEN_MISSING: dict[str, dict[str, str]] = {"metrics": {"event_value": ""}}

# Columns dlt adds to a table kept as SCD2 history (enrollments): when each version was first and
# last seen by a run (valid_to null = still current).
HISTORY_COLUMNS: dict[str, tuple[str, ...]] = {"enrollments": ("_dlt_valid_from", "_dlt_valid_to")}

# timestamp columns the API sends as unix seconds (all others arrive as ISO-8601 strings)
UNIX_SECONDS_COLUMNS = {"schedules": {"start_time", "end_time"}}


def column_hints(table: str) -> dict[str, dict[str, Any]]:
    """dlt column hints equal to `table`'s Arrow schema, for a resource that yields rows instead."""
    return {
        field.name: {"name": field.name, "nullable": field.nullable, "data_type": _DLT_TYPES[field.type]} for field in TABLE_SCHEMAS[table]
    }


_DLT_TYPES = {
    pa.string(): "text",
    pa.int64(): "bigint",
    pa.bool_(): "bool",
    UTC_TS: "timestamp",
    pa.list_(pa.string()): "json",
}


def warehouse_columns(table: str) -> tuple[tuple[str, str], ...]:
    """(column, SQL type) of `table` as landed, history columns included, for the SQL models."""
    sql_types = {"text": "text", "bigint": "bigint", "bool": "boolean", "timestamp": "timestamptz", "json": "json"}
    columns = [(field.name, sql_types[_DLT_TYPES[field.type]]) for field in TABLE_SCHEMAS[table]]
    return tuple(columns + [(name, "timestamptz") for name in HISTORY_COLUMNS.get(table, ())])


def to_table(table: str, records: Sequence[Mapping[str, Any]], constants: Mapping[str, Any] | None = None) -> pa.Table:
    """Type `records` (API JSON objects) as `table`'s Arrow schema.

    `constants` fills columns the records don't carry themselves, e.g. the `class_id` of a
    per-class endpoint's answer. Well-formed pages take Arrow's C++ path; a page with a value of an
    unexpected type or format takes the column-by-column path that coerces or names it.
    """
    schema = TABLE_SCHEMAS[table]
    constants = constants or {}
    try:
        result = _fast_table(table, schema, records, constants)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, OverflowError):
        result = _careful_table(table, schema, records, constants)
    result = _fill_missing(table, result)
    for field in schema:
        column = result.column(field.name)
        if not field.nullable and column.null_count:
            bad = records[column.is_null().combine_chunks().index(True).as_py()]
            raise RecordError(f"{table} record without its key {field.name}: {_excerpt(bad)}")
    for name in sorted(_extra_fields(records, schema)):
        result = result.append_column(name, _extra_column([record.get(name) for record in records]))
    return result


def keys_are_distinct(table: pa.Table, columns: Sequence[str]) -> bool:
    """Whether no two rows of `table` have the same values in `columns` (exact). For the few hundred
    rows of one class's answer, Python tuples are several times cheaper than an Arrow group_by."""
    return len(set(zip(*(table.column(name).to_pylist() for name in columns)))) == table.num_rows


def _extra_fields(records: Sequence[Mapping[str, Any]], schema: pa.Schema) -> set[str]:
    if not records:
        return set()
    first = records[0].keys()
    if all(record.keys() == first for record in records):  # the usual page: one shape, compared in C
        return set(first) - set(schema.names)
    return set().union(*(record.keys() for record in records)) - set(schema.names)


def _fast_table(table: str, schema: pa.Schema, records: Sequence[Mapping[str, Any]], constants: Mapping[str, Any]) -> pa.Table:
    raw = pa.Table.from_pylist(list(records), schema=_as_sent(table, schema, constants))
    return _from_raw(table, schema, raw, constants)


def _as_sent(table: str, schema: pa.Schema, constants: Collection[str]) -> pa.Schema:
    """`schema` as the API sends it: timestamps as ISO strings or unix seconds, constants absent."""
    unix_columns = UNIX_SECONDS_COLUMNS.get(table, set())
    return pa.schema(
        [
            pa.field(f.name, (pa.int64() if f.name in unix_columns else pa.string()) if pa.types.is_timestamp(f.type) else f.type)
            for f in schema
            if f.name not in constants
        ]
    )


def _from_raw(table: str, schema: pa.Schema, raw: pa.Table, constants: Mapping[str, Any]) -> pa.Table:
    unix_columns = UNIX_SECONDS_COLUMNS.get(table, set())
    columns = []
    for field in schema:
        if field.name in constants:
            columns.append(pa.repeat(pa.scalar(constants[field.name], field.type), raw.num_rows))
        elif field.name in unix_columns:
            columns.append(raw.column(field.name).cast(pa.timestamp("s", tz="UTC")).cast(field.type))
        else:
            column = raw.column(field.name)
            columns.append(column if column.type == field.type else column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def table_from_json(table: str, body: bytes, constants: Mapping[str, Any] | None = None) -> pa.Table | None:
    """`table`'s Arrow table straight from a response body that is a JSON array of flat records, or
    None when the body is anything but exactly the documented shape (the caller then decodes it and
    takes `to_table`, which coerces or names what is wrong).

    Arrow's JSON reader parses in C++ without holding the GIL, so pages decoded on worker threads
    overlap with the event loop's HTTP work: for metrics pages this is most of the loader's CPU.
    """
    if not _is_utf8(body):
        return None  # Arrow would keep the bytes as they are; the slow path repairs them as every path does
    schema = TABLE_SCHEMAS[table]
    constants = constants or {}
    try:
        parsed = pa_json.read_json(
            io.BytesIO(b'{"records":' + body + b"}"),  # one JSON object: the reader wants objects, not arrays
            read_options=pa_json.ReadOptions(use_threads=False, block_size=len(body) + 64),
            parse_options=_wrapped_records(table, frozenset(constants)),
        )
        records = pc.list_flatten(parsed.column("records")).combine_chunks()
        result = _from_raw(table, schema, pa.Table.from_struct_array(records), constants)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    result = _fill_missing(table, result)
    if any(not field.nullable and result.column(field.name).null_count for field in schema):
        return None  # to_table names the record without its key
    return result


@functools.cache
def _wrapped_records(table: str, constants: frozenset[str]) -> pa_json.ParseOptions:
    """How Arrow reads `{"records": <a page of table's records>}`: exactly the documented fields as
    the API sends them (built once per table, not per page)."""
    sent = _as_sent(table, TABLE_SCHEMAS[table], constants)
    wrapped = pa.schema([pa.field("records", pa.list_(pa.struct(list(sent))))])
    return pa_json.ParseOptions(explicit_schema=wrapped, newlines_in_values=True, unexpected_field_behavior="error")


def _fill_missing(table: str, result: pa.Table) -> pa.Table:
    for name, value in VALUE_WHEN_MISSING.get(table, {}).items():
        column = result.column(name)
        if column.null_count:
            logger.warning("%d %s record(s) without %s, stored with %s %r", column.null_count, table, name, name, value)
            result = result.set_column(result.schema.get_field_index(name), result.schema.field(name), pc.fill_null(column, value))
    return result


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _careful_table(table: str, schema: pa.Schema, records: Sequence[Mapping[str, Any]], constants: Mapping[str, Any]) -> pa.Table:
    unix_columns = UNIX_SECONDS_COLUMNS.get(table, set())
    columns: list[pa.Array] = []
    for field in schema:
        if field.name in constants:
            columns.append(pa.repeat(pa.scalar(constants[field.name], field.type), len(records)))
            continue
        values = [record.get(field.name) for record in records]
        columns.append(_column(table, field, values, field.name in unix_columns))
    return pa.Table.from_arrays(columns, schema=schema)


def _column(table: str, field: pa.Field, values: list[Any], unix_seconds: bool) -> pa.Array:
    if pa.types.is_timestamp(field.type):
        return _timestamps(table, field.name, values, unix_seconds)
    try:
        return pa.array(values, type=field.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        return pa.array([_coerce(table, field, value) for value in values], type=field.type)


def _coerce(table: str, field: pa.Field, value: Any) -> Any:
    """Coerce one value of an unexpected JSON type; documented in the README's bad-data table."""
    if value is None:
        return None
    kind = field.type
    try:
        if pa.types.is_string(kind):
            return value if isinstance(value, str) else json.dumps(value)
        if pa.types.is_integer(kind) and not isinstance(value, bool):
            number = int(value) if isinstance(value, (int, str)) else None
            if number is not None:
                return number
        if pa.types.is_boolean(kind) and isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if pa.types.is_list(kind) and isinstance(value, list):
            return [v if isinstance(v, str) else json.dumps(v) for v in value]
    except ValueError:
        pass
    raise RecordError(f"{table}.{field.name}: cannot read {value!r} as {kind}")


def _timestamps(table: str, column: str, values: list[Any], unix_seconds: bool) -> pa.Array:
    if unix_seconds:
        try:
            seconds = pa.array([None if v is None else int(v) for v in values], type=pa.int64())
            return seconds.cast(pa.timestamp("s", tz="UTC")).cast(UTC_TS)
        except (TypeError, ValueError) as exc:
            bad = next(v for v in values if v is not None and not _is_int_like(v))
            raise RecordError(f"{table}.{column}: {bad!r} is not a unix timestamp in seconds") from exc
    try:
        return pa.array(values, type=pa.string()).cast(UTC_TS)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([_parse_iso(table, column, v) for v in values], type=UTC_TS)


def _parse_iso(table: str, column: str, value: Any) -> Any:
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise RecordError(f"{table}.{column}: {value!r} is not an ISO-8601 timestamp") from exc


def parse_timestamp(value: Any) -> datetime:
    """A UTC datetime from an ISO-8601 string (any offset), or from an epoch number where a string
    was documented (seconds, or milliseconds when that large). Raises ValueError otherwise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) >= 100_000_000_000 else value
        return datetime.fromtimestamp(seconds, tz=timezone.utc)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        pass
    try:
        return pendulum.parse(str(value)).in_timezone("UTC")  # type: ignore[union-attr]
    except Exception as exc:  # pendulum raises several parser error types
        raise ValueError(f"{value!r} is not an ISO-8601 timestamp") from exc


def _is_int_like(value: Any) -> bool:
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool)


def _extra_column(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else json.dumps(v) for v in values], type=pa.string())


def _excerpt(record: Mapping[str, Any]) -> str:
    text = json.dumps(record, default=str, ensure_ascii=False)
    return text if len(text) <= 300 else text[:300] + "..."
