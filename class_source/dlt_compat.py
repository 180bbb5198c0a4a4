"""Every part of dlt that class-elt uses beyond its documented top-level API, in one place.

dlt's public API (`dlt.source`, `dlt.resource`, `dlt.pipeline`, `dlt.destinations.*`, `dlt.secrets`,
...) is what the rest of the package uses directly. What is below is dlt's inside: module paths,
private methods, hint keys, file layout and column names that may change in any minor release.
Each item says why class-elt needs it. All were checked against dlt 1.31.0, and pyproject.toml pins
dlt to 1.31.x: when raising the pin, check each item here (and run the suite).

Import this module where the item is needed (inside the function), as the callers imported dlt's
modules before: importing dlt costs about a second, which `class-elt --help` need not pay.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

# Exceptions dlt raises that the CLI turns into one line (cli.py, destinations.py, destination_failures.py, recovery.py):
# a configuration value missing or unparsable, a destination that cannot be reached, a relation
# the dataset lacks (report, publish), a load package dlt aborted or a job that failed every retry.
from dlt.common.configuration.exceptions import ConfigFieldMissingException, ConfigurationException

# dlt's DuckDB and Postgres job clients, copy jobs and merge job, subclassed by duckdb_load.py,
# postgres_load.py and copy_once.py so that each load file is copied at most once and the metrics merge
# can skip dlt's staging dedupe; the load file name parser gives the ledger its key, and a completed
# job's info its file format. All of these are dlt's inside, not its API.
from dlt.common.destination.client import LoadJob, PreparedTableSchema

# The scd2 hint's typed dict, for the enrollments resource's `write_disposition` (typing only).
from dlt.common.schema.typing import TScd2StrategyDict
from dlt.common.storages.load_package import LoadJobInfo
from dlt.common.storages.load_storage import ParsedLoadJobFileName
from dlt.destinations.exceptions import DatabaseUndefinedRelation, DestinationConnectionError
from dlt.destinations.impl.duckdb.duck import DuckDbClient, DuckDbCopyJob

# Postgres credentials parsed the way dlt does, so that a DSN without a password can be accepted as
# libpq accepts it (postgres_credentials.py: dlt itself insists on a password).
from dlt.destinations.impl.postgres.configuration import PostgresCredentials
from dlt.destinations.impl.postgres.postgres import PostgresClient, PostgresParquetCopyJob
from dlt.destinations.job_client_impl import FollowupJobRequest
from dlt.destinations.sql_jobs import SqlMergeFollowupJob
from dlt.load.exceptions import LoadClientJobException, LoadClientJobRetry, LoadClientJobTerminalRetry, LoadPackageAborted

__all__ = [
    "DuckDbClient",
    "DuckDbCopyJob",
    "FollowupJobRequest",
    "LoadJob",
    "LoadJobInfo",
    "ParsedLoadJobFileName",
    "PreparedTableSchema",
    "SqlMergeFollowupJob",
    "ConfigFieldMissingException",
    "ConfigurationException",
    "DatabaseUndefinedRelation",
    "DestinationConnectionError",
    "LoadClientJobException",
    "LoadClientJobRetry",
    "LoadClientJobTerminalRetry",
    "LoadPackageAborted",
    "PostgresClient",
    "PostgresCredentials",
    "PostgresParquetCopyJob",
    "SCD2_VALIDITY_COLUMNS",
    "TScd2StrategyDict",
    "add_step_tracker",
    "delta_tables",
    "duckdb_global_settings",
    "extracted_packages",
    "information_schema_table",
    "lake_sql_client",
    "loaded_package_dir",
    "merge_strategy",
    "package_was_committed",
    "remove_step_tracker",
    "schemas_dir",
    "supported_merge_strategies",
]

# The validity columns dlt's scd2 strategy adds under its default names: where a destination cannot
# keep scd2 history (Delta), destination_fit.py fabricates them, since the SQL models read them.
SCD2_VALIDITY_COLUMNS = ("_dlt_valid_from", "_dlt_valid_to")


def merge_strategy(hints: Any) -> Optional[str]:
    """The merge strategy a resource declared, from its computed table schema: dlt keeps it under
    the hint key `x-merge-strategy`, which its typed dict does not name."""
    strategy = hints.get("x-merge-strategy")
    return None if strategy is None else str(strategy)


def supported_merge_strategies(destination: Any, table_format: Optional[str]) -> list[str]:
    """The merge strategies `destination` runs for `table_format`, from its capabilities (the
    filesystem's depend on the table format, through a selector dlt calls with a table schema)."""
    capabilities = destination.capabilities()
    supported = list(capabilities.supported_merge_strategies or [])
    if capabilities.merge_strategies_selector is not None:
        supported = list(capabilities.merge_strategies_selector(supported, table_schema={"table_format": table_format}))
    return supported


def duckdb_global_settings(sql_client: Any) -> dict[str, Any]:
    """The DuckDB settings `sql_client` applies (`SET GLOBAL`) when it opens the database: dlt keeps
    them in a private dict of its DuckDB SQL client (duckdb_load.py adds the load's memory limit)."""
    settings: dict[str, Any] = sql_client._global_config
    return settings


def information_schema_table(client: Any, view: str) -> tuple[str, Optional[str], str]:
    """(`view` of INFORMATION_SCHEMA qualified for `client`'s destination, its catalog or None, the
    dataset's schema name): dlt's SQL clients know how each destination qualifies them, in private
    methods only (models.py lists the relations and columns a dataset has)."""
    catalog, schema, _ = client._get_information_schema_components()
    return client._qualify_info_schema_table_name(view), catalog, schema


def lake_sql_client(destination_client: Any, dataset_name: str, database: Path) -> Any:
    """dlt's filesystem SQL client (DuckDB over the lake) with the DuckDB *file* `database` as its
    cache: the lake's models are built in a file that outlives the process, not in the in-memory
    DuckDB dlt uses by default (lake.py, LakeModels). Imported here, not at the top: the
    client's module costs 1.4 s to import."""
    from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
    from dlt.destinations.impl.filesystem.sql_client import FilesystemSqlClient

    return FilesystemSqlClient(destination_client, dataset_name, cache_db=DuckDbCredentials(str(database)))


def add_step_tracker(tracker: Any) -> None:
    """Have `tracker` called at the start and end of every pipeline step (interrupts.py names the
    step a Ctrl-C stopped): dlt's trace calls each of its TRACKING_MODULES, a list it does not export."""
    from dlt.pipeline import trace

    trace.TRACKING_MODULES.append(tracker)


def remove_step_tracker(tracker: Any) -> None:
    from dlt.pipeline import trace

    if tracker in trace.TRACKING_MODULES:
        trace.TRACKING_MODULES.remove(tracker)


def delta_tables(pipeline: Any) -> dict[str, Any]:
    """The pipeline's Delta tables (name -> deltalake.DeltaTable), as dlt's docs show them read; the
    helper lives in a module of dlt's, not in its top-level API."""
    from dlt.common.libs.deltalake import get_delta_tables

    return dict(get_delta_tables(pipeline))


# dlt's working directory, as laid out by its package storages: recovery.py repairs a package left
# half-committed by a kill, and names where an aborted package is kept; project.py tells whether a
# pipeline ever ran.


def extracted_packages(pipeline: Any) -> list[Path]:
    """The load packages extracted and waiting to be normalized."""
    extracted = Path(pipeline.working_dir) / "normalize" / "extracted"
    return sorted(extracted.iterdir()) if extracted.is_dir() else []


def package_was_committed(pipeline: Any, load_id: str) -> bool:
    """Whether normalize committed package `load_id` (it moved on to be loaded, or was loaded)."""
    root = Path(pipeline.working_dir) / "load"
    return any((root / stage / load_id).exists() for stage in ("normalized", "loaded"))


def loaded_package_dir(pipeline: Any, load_id: str) -> Path:
    """Where dlt keeps a package once loaded or aborted (its failed jobs and their messages included)."""
    return Path(pipeline.working_dir) / "load" / "loaded" / load_id


def schemas_dir(pipelines_dir: Path, pipeline_name: str) -> Path:
    """Where a pipeline keeps its schemas; dlt writes one there on the first extract."""
    return pipelines_dir / pipeline_name / "schemas"
