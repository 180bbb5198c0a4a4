"""Helpers to compare a warehouse with the emulator's ground truth."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

# the tables' natural keys, as specified in the README's table of resources
KEYS: dict[str, tuple[str, ...]] = {
    "classes": ("class_id",),
    "deferred_classes": ("class_deferred_id",),
    "users": ("id",),
    "templates": ("template_id",),
    "enrollments": ("class_id", "student_id"),
    "schedules": ("schedule_id",),
    "attendance": ("class_id", "session_id", "student_id"),
    "metrics": ("class_id", "student_id", "event_type", "event_start", "event_value"),
}
TIMESTAMP_KEYS = {"event_start"}
# tables kept as SCD2 history: their current rows are the ones still valid
CURRENT_ROWS = {"enrollments": "_dlt_valid_to is null"}


def _normalize(column: str, value: Any) -> Any:
    if column in TIMESTAMP_KEYS:
        if isinstance(value, str):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return value.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    if column == "class_deferred_id" or column == "id":
        return int(value)
    return value


def truth_keys(truth: dict[str, list[dict[str, Any]]], table: str) -> set[tuple[Any, ...]]:
    columns = KEYS[table]
    return {tuple(_normalize(c, row[c]) for c in columns) for row in truth[table]}


def warehouse_rows(database: Path, table: str, dataset: str = "class_data") -> list[tuple[Any, ...]]:
    columns = KEYS[table]
    with duckdb.connect(str(database), read_only=True) as con:
        where = f" where {CURRENT_ROWS[table]}" if table in CURRENT_ROWS else ""
        rows = con.execute(f'select {", ".join(columns)} from "{dataset}"."{table}"{where}').fetchall()
    return [tuple(_normalize(c, v) for c, v in zip(columns, row)) for row in rows]


def assert_matches_truth(database: Path, truth: dict[str, list[dict[str, Any]]], tables=KEYS, dataset: str = "class_data") -> None:
    """Every table holds exactly the ground truth's keys, each exactly once."""
    for table in tables:
        rows = warehouse_rows(database, table, dataset)
        expected = truth_keys(truth, table)
        assert len(rows) == len(set(rows)), f"{table}: {len(rows) - len(set(rows))} duplicate rows"
        missing, extra = expected - set(rows), set(rows) - expected
        assert not missing and not extra, (
            f"{table}: {len(missing)} missing (e.g. {sorted(missing)[:3]}), {len(extra)} unexpected (e.g. {sorted(extra)[:3]})"
        )


def table_counts(database: Path, dataset: str = "class_data") -> dict[str, int]:
    """Rows per table (all versions of history tables: a rerun that changes nothing adds none)."""
    with duckdb.connect(str(database), read_only=True) as con:
        return {t: con.execute(f'select count(*) from "{dataset}"."{t}"').fetchone()[0] for t in KEYS}
