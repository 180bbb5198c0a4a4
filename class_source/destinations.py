"""Where class-elt loads: the dlt destinations the connector supports, how it loads into each, and
where the SQL models live on a lake.

`make_destination(name, **options)` is what `class-elt run --destination NAME` calls: it validates
the name, checks the destination's client library is installed, and returns the dlt destination
plus the `pipeline.run` keyword arguments the connector needs there (e.g. `table_format="delta"` on
the filesystem). `adapt_source` downgrades a resource's merge strategy the destination cannot run
(dlt's `scd2` on Delta). `models_target` says where `build_models`/`drop_models` should run: the
warehouse itself for SQL destinations, a DuckDB file beside the lake for the filesystem.

Write dispositions per filesystem table format (dlt 1.31), and what class-elt does with each:

| table format | append | replace | merge strategies | class-elt |
|---|---|---|---|---|
| delta | yes | yes (overwrite, `insert-from-staging`) | upsert (default), insert-only, cdc | the lake format |
| iceberg | yes | yes | upsert, insert-only | refused: its DuckDB reader is a download |
| none (parquet/jsonl/csv files) | yes | `truncate-and-insert` only | none: dlt appends | refused: metrics would duplicate |

Plain files cannot merge, so every rerun's 24-hour metrics lookback would land again as duplicate
rows; class-elt refuses that combination with one line rather than fall back to append.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pyarrow as pa
import pyarrow.compute as pc

from .client import ConfigError

__all__ = [
    "DESTINATIONS",
    "LAKE_TABLE_FORMATS",
    "DestinationError",
    "LakeModels",
    "adapt_source",
    "default_models_database",
    "destination_failure",
    "fill_null_event_values",
    "make_destination",
    "models_target",
    "refresh_lake_views",
    "row_counts",
]

logger = logging.getLogger("class_elt")


@dataclass(frozen=True)
class _Spec:
    module: Optional[str]  # the client library the destination needs (import name)
    extra: Optional[str]  # the dlt extra that installs it
    run_kwargs: Mapping[str, Any]  # pipeline.run arguments for the connector's Arrow items


# No run-wide file format anywhere: dlt writes Arrow items as parquet on DuckDB and as csv (COPY) on
# Postgres by itself, and a run-wide format would also apply to users, whose roles list neither
# csv nor an ADBC copy (no jsonb) can take. Postgres gets parquet per resource, see adapt_source.
DESTINATIONS: dict[str, _Spec] = {
    "duckdb": _Spec("duckdb", "duckdb", {}),
    "postgres": _Spec("psycopg2", "postgres", {}),
    "filesystem": _Spec("deltalake", "deltalake", {"table_format": "delta"}),
    "motherduck": _Spec("duckdb", "motherduck", {}),
    "bigquery": _Spec("google.cloud.bigquery", "bigquery", {}),
    "snowflake": _Spec("snowflake.connector", "snowflake", {}),
}

LAKE_TABLE_FORMATS = ("delta",)
TRANSACTIONAL_DUCKDB = ("duckdb", "motherduck")


class DestinationError(ConfigError):
    """A destination class-elt cannot load into as configured (one line, exit code 1)."""


def make_destination(name: str, *, validate: bool = True, **options: Any) -> tuple[Any, dict[str, Any]]:
    """The dlt destination `name` and the `pipeline.run` kwargs for the connector there.

    `options` go to the dlt destination factory (e.g. `credentials=`, `bucket_url=`), except
    `table_format` (filesystem only; `delta`, the default, or None for plain files, which is refused).
    Anything not given comes from dlt's configuration, as usual (DESTINATION__POSTGRES__CREDENTIALS,
    DESTINATION__FILESYSTEM__BUCKET_URL, ...). With `validate`, configuration the destination cannot
    do without (credentials, bucket_url) must be there now, not after the extract: one DestinationError
    names what to set.
    """
    import dlt

    short = str(name).strip().lower()
    if short not in DESTINATIONS:
        raise DestinationError(f"unknown destination {name!r}; supported: {', '.join(DESTINATIONS)}")
    spec = DESTINATIONS[short]
    run_kwargs = dict(spec.run_kwargs)
    if short == "filesystem":
        table_format = options.pop("table_format", "delta")
        if table_format not in LAKE_TABLE_FORMATS:
            raise DestinationError(
                f"filesystem table_format {table_format!r} is not supported: "
                + (
                    "plain parquet/jsonl/csv files cannot merge, so each run's metrics lookback would land as duplicates"
                    if table_format in (None, "", "none", "parquet", "jsonl", "csv")
                    else "class-elt reads its lake tables with DuckDB, which has no built-in reader for it"
                )
                + "; use table_format 'delta'"
            )
        run_kwargs["table_format"] = table_format
    elif "table_format" in options:
        raise DestinationError(f"table_format applies to the filesystem destination only, not to {short}")
    _require_module(short, spec)
    if short in TRANSACTIONAL_DUCKDB:
        # dlt 1.31 leaves DuckDB's transactions off: a replace/merge is a DELETE then an INSERT,
        # committed separately, so a reader (or a kill) between them sees a half-loaded table
        options.setdefault("supports_transactions", True)
    if short == "postgres" and "credentials" not in options:
        credentials = _postgres_credentials_the_libpq_way()
        if credentials is not None:
            options["credentials"] = credentials
    from .duckdb_load import copy_once_duckdb

    destination = (copy_once_duckdb if short == "duckdb" else getattr(dlt.destinations, short))(**options)
    if validate:
        _require_configuration(short, destination)
    return destination, run_kwargs


def _postgres_credentials_the_libpq_way() -> Any:
    """The configured Postgres connection string, accepted without a password as libpq accepts it
    (trust authentication, ~/.pgpass, PGPASSWORD), where dlt would insist on one; None when the
    credentials are not a connection string (dlt resolves and checks them as usual)."""
    import os

    import dlt
    from dlt.destinations.impl.postgres.configuration import PostgresCredentials

    configured: Any = dlt.secrets.get("destination.postgres.credentials")
    if not isinstance(configured, str) or "://" not in configured:
        return None
    credentials = PostgresCredentials()
    try:
        credentials.parse_native_representation(configured)
    except Exception:  # noqa: BLE001 - let dlt's own resolution name what is wrong
        return None
    if credentials.password is None:
        # an empty password makes libpq look in ~/.pgpass; PGPASSWORD must be passed on explicitly
        credentials.password = os.environ.get("PGPASSWORD", "")
    return credentials


# filled in by the pipeline, not by the user
_PIPELINE_FIELDS = frozenset({"dataset_name", "local_dir", "pipeline_name", "default_schema_name"})


def _require_configuration(name: str, destination: Any) -> None:
    from dlt.common.configuration.exceptions import ConfigFieldMissingException, ConfigurationException

    try:
        destination.configuration(None)
    except ConfigFieldMissingException as exc:
        missing = [field for field in exc.fields if field not in _PIPELINE_FIELDS]
        if missing:
            variables = ", ".join(f"DESTINATION__{name.upper()}__{field.upper()}" for field in missing)
            raise DestinationError(
                f"destination {name} needs {', '.join(missing)}: set {variables} "
                f"(or [destination.{name}] in .dlt/secrets.toml), see README 'Scaling out'"
            ) from None
    except ConfigurationException as exc:  # e.g. a credentials string that does not parse
        raise DestinationError(f"destination {name} is misconfigured: {_first_line(exc)}") from None


def destination_failure(exc: BaseException) -> Optional[str]:
    """One line for an expected destination failure (it cannot be reached), else None; the CLI
    prints it instead of a traceback."""
    from dlt.destinations.exceptions import DestinationConnectionError

    locked = _DUCKDB_FILE_LOCKED.search(str(exc))
    if locked:
        # DuckDB allows one writer or many readers per file: another program has the warehouse open
        return (
            f"the warehouse file {locked['file']} is open in another program ({locked['program']}, pid {locked['pid']}): "
            "close it and run again, or point dashboards at a copy made with `class-elt run --publish PATH` "
            "(README 'Dashboards')"
        )
    kind = type(exc)
    if isinstance(exc, DestinationConnectionError) or (kind.__module__.split(".")[0] == "psycopg2" and kind.__name__ == "OperationalError"):
        return f"cannot reach the destination: {_first_line(exc)}"
    return None


_DUCKDB_FILE_LOCKED = re.compile(
    r'Could not set lock on file "(?P<file>[^"]+)": Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)'
)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _require_module(name: str, spec: _Spec) -> None:
    if spec.module is None:
        return
    try:
        found = importlib.util.find_spec(spec.module) is not None
    except ModuleNotFoundError:  # a parent package (google.cloud) is missing
        found = False
    if not found:
        raise DestinationError(
            f'destination {name} needs the {spec.module} package: install dlt[{spec.extra}] (e.g. `uv add "dlt[{spec.extra}]"`)'
        )


# --- resources the destination cannot merge as declared --------------------------------------------


def adapt_source(source: Any, destination: Any, run_kwargs: Mapping[str, Any]) -> Any:
    """Fit the source to `destination` (a dlt destination object): the fastest load file format per
    resource, and write dispositions the destination can run.

    DuckDB/MotherDuck: every resource as parquet (Arrow items are already; rows would otherwise be
    loaded as INSERT statements, ~10x slower).

    Postgres: when the ADBC driver (`adbc-driver-postgresql`) is installed, every resource without a
    json column loads as parquet through ADBC, 2-3x faster than csv COPY for the connector's Arrow
    items (most of csv's cost is writing the csv). Resources with a json column (users) keep dlt's
    default, since ADBC cannot copy into the jsonb column an existing table has.

    A merge strategy the destination lacks would fail the whole run in extract. The only case the
    connector meets is a table kept as dlt `scd2` history (enrollments) on Delta, which supports
    upsert, insert-only and cdc only: there the table is replaced each run instead (the current
    roster), with `_dlt_valid_from` = this run's start and `_dlt_valid_to` null, so the models
    still build and read every row as current. The lake keeps no roster history; say so loudly.
    """
    if _destination_short_type(destination) == "postgres" and postgres_adbc_available():
        _parquet_through_adbc(source)
    if _destination_short_type(destination) in ("duckdb", "motherduck"):
        # rows (users; enrollments, which scd2 needs as rows) would load as INSERT statements
        for resource in source.selected_resources.values():
            if resource.compute_table_schema().get("file_format") in (None, "preferred"):
                resource.apply_hints(file_format="parquet")
    capabilities = destination.capabilities()
    table_format = run_kwargs.get("table_format")
    supported = list(capabilities.supported_merge_strategies or [])
    if capabilities.merge_strategies_selector is not None:
        supported = list(capabilities.merge_strategies_selector(supported, table_schema={"table_format": table_format}))
    for resource in source.selected_resources.values():
        hints = resource.compute_table_schema()
        if hints.get("write_disposition") != "merge":
            continue
        strategy = hints.get("x-merge-strategy")  # type: ignore[misc]
        if strategy is None or strategy in supported:
            continue  # no strategy: dlt takes the destination's first (upsert on Delta)
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


def _destination_short_type(destination: Any) -> str:
    return str(destination.destination_type).rsplit(".", 1)[-1]


def _current_rows_only(resource: Any) -> None:
    # the validity columns dlt's scd2 would add, which the models read
    valid_from = dt.datetime.now(dt.timezone.utc)
    resource.apply_hints(
        write_disposition="replace",
        columns={
            "_dlt_valid_from": {"data_type": "timestamp", "timezone": True, "nullable": False},
            "_dlt_valid_to": {"data_type": "timestamp", "timezone": True, "nullable": True},
        },
    )

    def add_validity(item: Any) -> Any:
        if isinstance(item, (pa.Table, pa.RecordBatch)):
            rows = item.num_rows
            item = item.append_column("_dlt_valid_from", pa.array([valid_from] * rows, pa.timestamp("us", tz="UTC")))
            return item.append_column("_dlt_valid_to", pa.nulls(rows, pa.timestamp("us", tz="UTC")))
        return {**item, "_dlt_valid_from": valid_from, "_dlt_valid_to": None}

    resource.add_map(add_validity)


# --- where the models live ----------------------------------------------------------------------


def default_models_database(pipeline: Any) -> Path:
    """The DuckDB file a lake's models go to unless told otherwise: `./<pipeline>_models.duckdb`."""
    return Path.cwd() / f"{pipeline.pipeline_name}_models.duckdb"


def models_target(pipeline: Any, models_database: Optional[str | Path] = None) -> Any:
    """What to hand to `build_models`/`drop_models`: the pipeline itself on a SQL destination, and
    on the filesystem a LakeModels over a DuckDB file (the models must outlive the process)."""
    if not _is_filesystem(pipeline):
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
        from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
        from dlt.destinations.impl.filesystem.sql_client import FilesystemSqlClient

        from .models import ModelError

        delta_tables = _delta_tables(self.pipeline)  # checked before the models file is created
        if not delta_tables:
            raise ModelError(
                f"dataset {self.pipeline.dataset_name} has no Delta tables at {_bucket(self.pipeline)}: run the pipeline first"
            )
        self.database.parent.mkdir(parents=True, exist_ok=True)
        client = FilesystemSqlClient(
            self.pipeline.destination_client(),
            self.pipeline.dataset_name,
            cache_db=DuckDbCredentials(str(self.database)),
        )
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


def row_counts(pipeline: Any, tables: Iterable[str]) -> dict[str, int]:
    """Rows now in each of `tables` that exists on the pipeline's destination (for the run summary).

    On the filesystem the counts come from the Delta logs (no DuckDB, no data read); elsewhere
    from `count(*)` through the pipeline's SQL client."""
    wanted = list(tables)
    if _is_filesystem(pipeline):
        delta = _delta_tables(pipeline)
        return {name: _delta_rows(delta[name]) for name in wanted if name in delta}
    counts: dict[str, int] = {}
    with pipeline.sql_client() as client:
        for name in wanted:
            try:
                counts[name] = int(client.execute_sql(f"SELECT count(*) FROM {client.make_qualified_table_name(name)}")[0][0])
            except Exception:  # noqa: BLE001 - a resource that was not selected has no table yet
                continue
    return counts


def fill_null_event_values(pipeline: Any) -> int:
    """Set `metrics.event_value` to '' where it is NULL (the one-time migration of the metrics key);
    returns how many events changed."""
    if _is_filesystem(pipeline):
        delta = _delta_tables(pipeline).get("metrics")
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


def _is_filesystem(pipeline: Any) -> bool:
    return pipeline.destination is not None and _destination_short_type(pipeline.destination) == "filesystem"


def _delta_tables(pipeline: Any) -> dict[str, Any]:
    from deltalake.exceptions import TableNotFoundError
    from dlt.common.libs.deltalake import get_delta_tables

    if pipeline.default_schema_name is None:
        return {}
    try:
        return get_delta_tables(pipeline)
    except TableNotFoundError:  # the schema knows tables whose folders are gone (e.g. a dropped bucket)
        return {}


def _check_plain_parquet(name: str, table: Any) -> None:
    """read_parquet reads a snapshot's files exactly only without deletion vectors, column mapping or
    partitions; delta-rs (what dlt writes with) uses none of them, but a table changed by other tools might."""
    from .models import ModelError

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
