"""What the run does with the tables it loaded: count their rows for the summary, and the one-time
migration of the metrics key (NULL event values become '')."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .destinations import is_filesystem
from .lake import lake_tables


def row_counts(pipeline: Any, tables: Iterable[str]) -> dict[str, int]:
    """Rows now in each of `tables` that exists on the pipeline's destination (for the run summary).

    On the filesystem the counts come from the Delta logs (no DuckDB, no data read); elsewhere
    from `count(*)` through the pipeline's SQL client."""
    wanted = list(tables)
    if is_filesystem(pipeline):
        delta = lake_tables(pipeline)
        return {name: _delta_rows(delta[name]) for name in wanted if name in delta}
    counts: dict[str, int] = {}
    with pipeline.sql_client() as client:
        for name in wanted:
            try:
                counts[name] = int(client.execute_sql(f"SELECT count(*) FROM {client.make_qualified_table_name(name)}")[0][0])
            except Exception:  # noqa: BLE001 - a resource that was not selected has no table yet
                continue
    return counts


def metrics_table_is_empty(pipeline: Any) -> bool:
    """Whether the metrics table holds no event: it does not exist, or has no row. Strict, unlike
    `row_counts`: any other failure is raised, since a first load's later parts are appended without
    a merge (parts.py)."""
    from .dlt_compat import DatabaseUndefinedRelation

    with pipeline.sql_client() as client:
        try:
            return not client.execute_sql(f"SELECT 1 FROM {client.make_qualified_table_name('metrics')} LIMIT 1")
        except DatabaseUndefinedRelation:
            return True


def fill_null_event_values(pipeline: Any) -> int:
    """Set `metrics.event_value` to '' where it is NULL (the one-time migration of the metrics key);
    returns how many events changed."""
    if is_filesystem(pipeline):
        delta = lake_tables(pipeline).get("metrics")
        if delta is None:
            return 0
        metrics = delta.update(predicate="event_value IS NULL", updates={"event_value": "''"})
        return int(metrics.get("num_updated_rows", 0))
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name("metrics")
        try:
            nulls = int(client.execute_sql(f"SELECT count(*) FROM {table} WHERE event_value IS NULL")[0][0])
        except Exception:  # noqa: BLE001 - the schema knows the table but the dataset lost it (dropped by hand)
            return 0
        if nulls:
            client.execute_sql(f"UPDATE {table} SET event_value = '' WHERE event_value IS NULL")
        return nulls


def _delta_rows(table: Any) -> int:
    actions = pa.table(table.get_add_actions(flatten=True))
    return int(pc.sum(actions["num_records"]).as_py() or 0) if actions.num_rows else 0
