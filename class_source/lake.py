"""Where the SQL models live on a lake: a DuckDB file beside the Delta tables, whose raw tables are
views over the parquet files of each table's current snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

import pyarrow as pa

from .destinations import is_filesystem
from .errors import DestinationError, ModelError


def default_models_database(pipeline: Any) -> Path:
    """The DuckDB file a lake's models go to unless told otherwise: `./<pipeline>_models.duckdb`."""
    return Path.cwd() / f"{pipeline.pipeline_name}_models.duckdb"


def models_target(pipeline: Any, models_database: Optional[str | Path] = None) -> Any:
    """What to hand to `build_models`/`drop_models`: the pipeline itself on a SQL destination, and
    on the filesystem a LakeModels over a DuckDB file (the models must outlive the process)."""
    if not is_filesystem(pipeline):
        if models_database is not None:
            name = pipeline.destination.destination_name if pipeline.destination else "no destination"
            raise DestinationError(f"a models database applies to the filesystem destination only, not to {name}")
        return pipeline
    return LakeModels(pipeline, Path(models_database) if models_database else default_models_database(pipeline))


class LakeModels:
    """The SQL models of a Delta lake, kept in a DuckDB file.

    dlt's filesystem SQL client is DuckDB over the lake, but in memory by default: models built
    there vanish when the run ends, and it reads Delta through DuckDB's `delta` extension, which
    DuckDB downloads on first use. Here the same client works on a DuckDB *file* (dlt's `cache_db`),
    and before every build each raw table becomes a view over the parquet files of its current Delta
    snapshot (`read_parquet`, built in). The marts are tables in that file, the staging views read
    the raw views: a BI tool opening the file sees the same marts as on a warehouse.

    The raw views are pinned to the Delta version of the last build (rebuilt after every run);
    reading the file from another process needs access to the bucket (for S3/GCS/Azure, a DuckDB
    secret, as dlt creates one for its own connection).
    """

    def __init__(self, pipeline: Any, database: Path) -> None:
        import dlt

        self.pipeline = pipeline
        self.database = Path(database).resolve()
        self.pipeline_name = pipeline.pipeline_name
        # the models' dialect and transactions are DuckDB's: that is where they are built
        self.destination = dlt.destinations.duckdb(str(self.database))

    def sql_client(self) -> Any:
        """A dlt SQL client on the models database, with the lake's current tables as views."""
        from .dlt_compat import lake_sql_client

        delta_tables = lake_tables(self.pipeline)  # checked before the models file is created
        if not delta_tables:
            raise ModelError(
                f"dataset {self.pipeline.dataset_name} has no Delta tables at {_bucket(self.pipeline)}: run the pipeline first"
            )
        self.database.parent.mkdir(parents=True, exist_ok=True)
        client = lake_sql_client(self.pipeline.destination_client(), self.pipeline.dataset_name, self.database)
        with client:
            refresh_lake_views(client, delta_tables)
        return client


def refresh_lake_views(client: Any, delta_tables: Mapping[str, Any]) -> list[str]:
    """(Re)create one view per raw table in `client`'s dataset over the parquet files of its Delta
    snapshot (`delta_tables`: name -> deltalake.DeltaTable); returns the tables mapped. A table
    without files (loaded, but no rows) becomes an empty table of its columns."""
    from .models import RAW_TABLES

    mapped = []
    # DDL through the DuckDB connection itself: dlt's execute_sql would first map every table the
    # statement names to a delta_scan view (the extension download this module avoids)
    connection = client.native_connection
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS {client.fully_qualified_dataset_name()}")
    for name, table in sorted(delta_tables.items()):
        if name not in RAW_TABLES:
            continue
        _check_plain_parquet(name, table)
        target = client.make_qualified_table_name(name)
        kind = _relation_kind(connection, client.dataset_name, name)
        files = table.file_uris()
        if files:
            listing = ", ".join("'" + uri.replace("'", "''") + "'" for uri in files)
            if kind == "table":
                connection.execute(f"DROP TABLE {target}")
            # union_by_name: files written before a column was added (schema evolution) lack it
            scan = f"read_parquet([{listing}], union_by_name = true)"
            connection.execute(f"CREATE OR REPLACE VIEW {target} AS SELECT * FROM {scan}")
        else:
            if kind == "view":
                connection.execute(f"DROP VIEW {target}")
            # a table loaded without rows has a schema but no files: an empty table of its columns
            connection.register("_class_elt_empty", pa.schema(table.schema().to_arrow()).empty_table())
            try:
                connection.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM _class_elt_empty")
            finally:
                connection.unregister("_class_elt_empty")
        mapped.append(name)
    return mapped


def lake_tables(pipeline: Any) -> dict[str, Any]:
    """The pipeline's Delta tables by name; none before its first load or when their folders are gone."""
    from deltalake.exceptions import TableNotFoundError

    from .dlt_compat import delta_tables

    if pipeline.default_schema_name is None:
        return {}
    try:
        return delta_tables(pipeline)
    except TableNotFoundError:  # the schema knows tables whose folders are gone (e.g. a dropped bucket)
        return {}


def _check_plain_parquet(name: str, table: Any) -> None:
    """read_parquet reads a snapshot's files exactly only without deletion vectors, column mapping or
    partitions; delta-rs (what dlt writes with) uses none of them, but a table changed by other tools might."""
    protocol = table.protocol()
    features = set(protocol.reader_features or ())
    unsupported = features & {"deletionVectors", "columnMapping"}
    partitions = table.metadata().partition_columns
    if unsupported or partitions:
        reason = ", ".join(sorted(unsupported)) or f"partitioned by {', '.join(partitions)}"
        raise ModelError(f"Delta table {name} uses {reason}: class-elt's lake models read plain Delta tables as dlt writes them")


def _relation_kind(connection: Any, schema: str, name: str) -> Optional[str]:
    rows = connection.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, name]
    ).fetchall()
    if not rows:
        return None
    return "view" if "VIEW" in str(rows[0][0]).upper() else "table"


def _bucket(pipeline: Any) -> str:
    try:
        return str(pipeline.destination_client().config.bucket_url)
    except Exception:  # noqa: BLE001 - only for the message
        return "the bucket"
