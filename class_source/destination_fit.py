"""Fit the source to the destination: the load file format per resource, and the write
dispositions the destination can run (dlt's scd2 on Delta becomes the current rows only)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from .destinations import destination_short_type
from .errors import DestinationError

logger = logging.getLogger("class_elt")


def adapt_source(source: Any, destination: Any, run_kwargs: Mapping[str, Any]) -> Any:
    """Fit the source to `destination` (a dlt destination object): the fastest load file format per
    resource, and write dispositions the destination can run.

    DuckDB/MotherDuck: every resource as parquet (Arrow items are already; rows would otherwise be
    loaded as INSERT statements, ~10x slower).

    Postgres: when the ADBC driver (`adbc-driver-postgresql`) is installed, every resource without a
    json column loads as parquet through ADBC, 2-3x faster than csv COPY for the connector's Arrow
    items (most of csv's cost is writing the csv). Resources with a json column (users) keep dlt's
    default, since ADBC cannot copy into the jsonb column an existing table has.

    A merge strategy the destination lacks would fail the whole run in extract. On Delta, attendance
    (replaced class by class with delete-insert elsewhere) is upserted by key instead. The other case
    the connector meets is a table kept as dlt `scd2` history (enrollments) on Delta, which supports
    upsert, insert-only and cdc only: there the table is replaced each run instead (the current
    roster), with `_dlt_valid_from` = this run's start and `_dlt_valid_to` null, so the models
    still build and read every row as current. The lake keeps no roster history; say so loudly.
    """
    if destination_short_type(destination) == "postgres" and postgres_adbc_available():
        _parquet_through_adbc(source)
    if destination_short_type(destination) in ("duckdb", "motherduck"):
        # rows (users; enrollments, which scd2 needs as rows) would load as INSERT statements
        for resource in source.selected_resources.values():
            if resource.compute_table_schema().get("file_format") in (None, "preferred"):
                resource.apply_hints(file_format="parquet")
    from .dlt_compat import merge_strategy, supported_merge_strategies

    table_format = run_kwargs.get("table_format")
    supported = supported_merge_strategies(destination, table_format)
    for resource in source.selected_resources.values():
        hints = resource.compute_table_schema()
        if hints.get("write_disposition") != "merge":
            continue
        strategy = merge_strategy(hints)
        if strategy is None or strategy in supported:
            continue  # no strategy: dlt takes the destination's first (upsert on Delta)
        if strategy == "delete-insert" and "upsert" in supported:  # attendance on Delta
            logger.warning(
                "%s on %s%s: rows are upserted by key, so rows of a class deleted in Class stay",
                resource.name,
                destination.destination_name,
                f" ({table_format})" if table_format else "",
            )
            resource.apply_hints(write_disposition={"disposition": "merge", "strategy": "upsert"})
            continue
        if strategy != "scd2":
            raise DestinationError(
                f"table {resource.name} merges with strategy {strategy}, which {destination.destination_name}"
                f"{' ' + table_format if table_format else ''} does not support (it has: {', '.join(supported) or 'none'})"
            )
        logger.warning(
            "%s on %s%s: dlt cannot keep scd2 history there, so the table holds the current rows only "
            "(replaced each run, valid from this run)",
            resource.name,
            destination.destination_name,
            f" ({table_format})" if table_format else "",
        )
        _current_rows_only(resource)
    return source


def postgres_adbc_available() -> bool:
    """Whether dlt can load parquet into Postgres here (it copies through ADBC's PyPI driver)."""
    return importlib.util.find_spec("adbc_driver_postgresql") is not None


def _parquet_through_adbc(source: Any) -> None:
    for resource in source.selected_resources.values():
        hints = resource.compute_table_schema()
        if hints.get("file_format") not in (None, "preferred"):
            continue  # chosen by whoever built the source
        if any(column.get("data_type") == "json" for column in hints.get("columns", {}).values()):
            continue
        resource.apply_hints(file_format="parquet")


def _current_rows_only(resource: Any) -> None:
    from .dlt_compat import SCD2_VALIDITY_COLUMNS

    # the validity columns dlt's scd2 would add, which the models read
    valid_from_column, valid_to_column = SCD2_VALIDITY_COLUMNS
    valid_from = dt.datetime.now(dt.timezone.utc)
    resource.apply_hints(
        write_disposition="replace",
        columns={
            valid_from_column: {"data_type": "timestamp", "timezone": True, "nullable": False},
            valid_to_column: {"data_type": "timestamp", "timezone": True, "nullable": True},
        },
    )

    def add_validity(item: Any) -> Any:
        if isinstance(item, (pa.Table, pa.RecordBatch)):
            rows = item.num_rows
            item = item.append_column(valid_from_column, pa.array([valid_from] * rows, pa.timestamp("us", tz="UTC")))
            return item.append_column(valid_to_column, pa.nulls(rows, pa.timestamp("us", tz="UTC")))
        return {**item, valid_from_column: valid_from, valid_to_column: None}

    resource.add_map(add_validity)
