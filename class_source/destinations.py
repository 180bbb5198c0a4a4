"""Where class-elt loads: the dlt destinations the connector supports, and the destination for a name.

`make_destination(name, **options)` is what `class-elt run --destination NAME` calls: it validates
the name, checks the destination's client library is installed, and returns the dlt destination
plus the `pipeline.run` keyword arguments the connector needs there (e.g. `table_format="delta"` on
the filesystem). The rest of loading somewhere other than one DuckDB file has its own modules:
destination_fit.py fits the source to the destination (file formats, scd2 on Delta),
postgres_credentials.py reads a Postgres DSN as libpq does, lake.py builds the models beside a lake,
loaded_tables.py counts and migrates what was loaded, destination_failures.py words the failures.

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

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from .destination_failures import first_line
from .errors import DestinationError

__all__ = [
    "DESTINATIONS",
    "LAKE_TABLE_FORMATS",
    "destination_short_type",
    "is_filesystem",
    "make_destination",
]


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
POSTGRES_LOAD_FILE_BYTES = 8 * 2**20
# destinations whose SQL jobs dlt 1.31 runs without a transaction unless told they have them
TRANSACTIONS_OFF_IN_DLT = ("duckdb", "motherduck", "postgres")


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
    if short in TRANSACTIONS_OFF_IN_DLT:
        # dlt 1.31 leaves DuckDB's and Postgres's transactions off (only DDL runs in one on Postgres): a
        # replace/merge is a DELETE then an INSERT, committed separately, so a reader (or a kill)
        # between them sees a half-loaded table
        options.setdefault("supports_transactions", True)
    if short == "postgres":
        options.setdefault("recommended_file_size", POSTGRES_LOAD_FILE_BYTES)
    if short == "postgres" and "credentials" not in options:
        from .postgres_credentials import libpq_credentials

        credentials = libpq_credentials()
        if credentials is not None:
            options["credentials"] = credentials
    from .duckdb_load import copy_once_duckdb
    from .postgres_load import copy_once_postgres

    factory = {"duckdb": copy_once_duckdb, "postgres": copy_once_postgres}.get(short) or getattr(dlt.destinations, short)
    destination = factory(**options)
    if validate:
        _require_configuration(short, destination)
    return destination, run_kwargs


# filled in by the pipeline, not by the user
_PIPELINE_FIELDS = frozenset({"dataset_name", "local_dir", "pipeline_name", "default_schema_name"})


def _require_configuration(name: str, destination: Any) -> None:
    from .dlt_compat import ConfigFieldMissingException, ConfigurationException

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
        raise DestinationError(f"destination {name} is misconfigured: {first_line(exc)}") from None


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


def destination_short_type(destination: Any) -> str:
    return str(destination.destination_type).rsplit(".", 1)[-1]


def is_filesystem(pipeline: Any) -> bool:
    return pipeline.destination is not None and destination_short_type(pipeline.destination) == "filesystem"
