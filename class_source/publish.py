"""The BI copy: a DuckDB file of the marts and dimensions that dashboards open instead of the warehouse.

DuckDB allows one writer or many readers per file, so a dashboard holding the warehouse file open
(even read-only) would make every load fail on the file lock. `publish` writes the marts, read
through the pipeline's SQL client (any destination the models support), into a new file beside
PATH and renames it over PATH: a reader that has the old copy open keeps reading it (the rename
does not touch the open file), a reader that opens PATH afterwards sees the whole new build, and
the loader never needs a lock a reader holds.

The copy is written in an older storage format (`storage_version`, default "v1.0.0") so the DuckDB
1.x clients that BI tools bundle (JDBC/ODBC drivers, Metabase, Evidence, DBeaver) can open it.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from .errors import PublishError

__all__ = ["DEFAULT_STORAGE_VERSION", "PublishError", "configured_storage_version", "mart_names", "publish"]

# DuckDB's storage versions are named after the release that introduced them; 1.0.0 is read by
# every DuckDB from 1.0 on, and is enough for the marts (no type or feature newer than 1.0)
DEFAULT_STORAGE_VERSION = "v1.0.0"
ARROW_CHUNK_ROWS = 200_000  # rows per batch copied: bounds memory on the largest fact table
_STORAGE_VERSION = re.compile(r"^v\d+\.\d+\.\d+$")


def mart_names() -> list[str]:
    """The models a dashboard reads: every model under sql/marts (facts, dimensions, aggregates)."""
    from .models import load_models

    return [model.name for model in load_models() if model.path.parent.name == "marts"]


def configured_storage_version() -> str:
    """`[class_elt] publish_storage_version` in dlt's config, else DEFAULT_STORAGE_VERSION."""
    import dlt

    return str(dlt.config.get("class_elt.publish_storage_version") or DEFAULT_STORAGE_VERSION)


def publish(target: Any, path: str | Path, *, storage_version: str | None = None) -> Path:
    """Copy the marts of `target` (a pipeline, or lake.LakeModels) into the DuckDB file
    `path`, replacing it atomically; the tables keep their dataset's schema name (e.g.
    `class_data.fct_student_class_attendance`). `storage_version` defaults to the configured one.
    Returns the resolved path."""
    storage_version = storage_version or configured_storage_version()
    if not _STORAGE_VERSION.match(storage_version):
        raise PublishError(f"storage version {storage_version!r} is not like 'v1.0.0': use a DuckDB release name")
    destination = Path(path).expanduser().resolve()
    if destination.is_dir():
        raise PublishError(f"cannot publish to {destination}: it is a folder, give a file path (e.g. class_bi.duckdb)")
    destination.parent.mkdir(parents=True, exist_ok=True)
    # the temporary file sits in the same folder, so the rename is atomic (one file system)
    temporary = destination.with_name(f".{destination.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    names = mart_names()
    copy = duckdb.connect()
    try:
        copy.execute(f"ATTACH '{_sql_string(temporary)}' AS published (STORAGE_VERSION '{storage_version}')")
        with target.sql_client() as client:
            if destination in _duckdb_files(client):
                raise PublishError(f"cannot publish to {destination}: it is the warehouse itself, give another file")
            schema = client.dataset_name
            copy.execute(f'CREATE SCHEMA published."{schema}"')
            for name in names:
                _copy_table(client, copy, f'published."{schema}"."{name}"', name)
        copy.execute("DETACH published")
    except BaseException:
        copy.close()
        temporary.unlink(missing_ok=True)
        Path(f"{temporary}.wal").unlink(missing_ok=True)
        raise
    copy.close()
    os.replace(temporary, destination)
    return destination


def _duckdb_files(client: Any) -> set[Path]:
    """The database files the models' DuckDB connection has open (none on a server destination)."""
    native = getattr(client, "native_connection", None)
    if not isinstance(native, duckdb.DuckDBPyConnection):
        return set()
    rows = native.execute("SELECT path FROM duckdb_databases() WHERE path IS NOT NULL").fetchall()
    return {Path(path).resolve() for (path,) in rows}


def _copy_table(client: Any, copy: Any, qualified_target: str, name: str) -> None:
    query = f"SELECT * FROM {client.make_qualified_table_name(name)}"
    created = False
    for batch in _batches_of_mart(client, query, name):
        copy.register("_class_elt_batch", batch)
        verb = f"INSERT INTO {qualified_target}" if created else f"CREATE TABLE {qualified_target} AS"
        copy.execute(f"{verb} SELECT * FROM _class_elt_batch")
        copy.unregister("_class_elt_batch")
        created = True
    if not created:
        # a server destination's empty result carries no Arrow types: keep the mart's columns as text
        with client.execute_query(f"{query} LIMIT 0") as cursor:
            columns = ", ".join(f'"{column[0]}" VARCHAR' for column in cursor.description)
        copy.execute(f"CREATE TABLE {qualified_target} ({columns})")


def _batches_of_mart(client: Any, query: str, name: str) -> Iterator[Any]:
    from .dlt_compat import DatabaseUndefinedRelation

    try:
        yield from _arrow_batches(client, query)
    except (DatabaseUndefinedRelation, duckdb.CatalogException):
        raise PublishError(f"mart {name} is not in dataset {client.dataset_name}: build the models first (`class-elt models`)") from None


def _arrow_batches(client: Any, query: str) -> Iterator[Any]:
    """`query`'s rows as Arrow record batches: DuckDB's own reader where the models live in DuckDB
    (exact types, and a schema even without rows), else dlt's cursor (types inferred from values)."""
    native = getattr(client, "native_connection", None)
    if isinstance(native, duckdb.DuckDBPyConnection):
        reader = native.sql(query).to_arrow_reader(ARROW_CHUNK_ROWS)
        yield from _with_schema(reader)
        return
    with client.execute_query(query) as cursor:
        yield from cursor.iter_arrow(chunk_size=ARROW_CHUNK_ROWS)


def _with_schema(reader: Any) -> Iterator[Any]:
    import pyarrow as pa

    empty = True
    for batch in reader:
        empty = False
        yield pa.Table.from_batches([batch])
    if empty:
        yield reader.schema.empty_table()


def _sql_string(path: Path) -> str:
    return str(path).replace("'", "''")
