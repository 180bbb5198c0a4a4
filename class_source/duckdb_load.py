"""How class-elt loads into DuckDB: dlt's DuckDB destination with copy jobs that land at most once
(copy_once.py says why and what that buys), and a memory limit on the load's connections.

DuckDB keeps the blocks a load writes in its buffer pool until the pool reaches its memory limit, 80 %
of RAM by default: loading 20 M staged events peaked at 2.8 GiB. Within `load_memory_limit()` (around
`runner.extract_and_load`) every DuckDB client class-elt makes opens the database with
`LOAD_MEMORY_LIMIT` instead, so the pool evicts (spills) rather than grows. The SQL models, built
after the load on a connection opened anew, keep DuckDB's default: their sorts would spill too.

While the metrics table is empty (a first load), each metrics file is copied straight into it
instead of into the staging dataset: nothing stored can repeat its events, and each natural key
comes once per load (`UNIQUE_PER_LOAD`), so the merge has nothing to replace and the staging
copy's `INSERT ... SELECT` into the table is saved (measured in benchmarks/README.md). The copy
and its ledger row share one transaction, as every copy does, so a rerun copies nothing twice; a
copy that starts once rows have landed (a rerun, a slower job) goes through staging and the merge.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Optional, cast

import dlt

from .copy_once import LEDGER_TABLE, UNIQUE_PER_LOAD, LedgeredMerges, ledger_entry
from .dlt_compat import (
    DuckDbClient,
    DuckDbCopyJob,
    LoadJob,
    PreparedTableSchema,
    duckdb_global_settings,
)

LOAD_MEMORY_LIMIT = "512MB"
_active_load_memory_limit: Optional[str] = None


@contextlib.contextmanager
def load_memory_limit(limit: str = LOAD_MEMORY_LIMIT) -> Iterator[None]:
    """DuckDB clients made inside open the database with `limit` as its memory limit (a limit the
    user configured in the credentials' global_config wins). Process-wide, not per thread: dlt makes
    clients in its load workers' threads."""
    global _active_load_memory_limit
    outer, _active_load_memory_limit = _active_load_memory_limit, limit
    try:
        yield
    finally:
        _active_load_memory_limit = outer


class CopyOnceJob(DuckDbCopyJob):
    """dlt's DuckDB copy of one load file, skipped when the ledger says the file was copied."""

    def run(self) -> None:
        sql_client = self._job_client.sql_client
        ledger = sql_client.make_qualified_table_name(LEDGER_TABLE)
        entry = ledger_entry(self._file_path, self._load_id)
        with sql_client.begin_transaction():
            if sql_client.execute_sql(f"SELECT 1 FROM {ledger} WHERE copied_file = %s", entry):
                return  # copied by a run that was killed before dlt recorded it
            final_dataset = self._final_dataset_if_empty()
            if final_dataset is None:
                super().run()
            else:  # dlt's own copy, into the final table
                with sql_client.with_alternative_dataset_name(final_dataset):
                    super().run()
            sql_client.execute_sql(f"INSERT INTO {ledger} VALUES (%s)", entry)

    def _final_dataset_if_empty(self) -> Optional[str]:
        """The final dataset when this staged copy may go straight into its table: a
        `UNIQUE_PER_LOAD` table, a parquet file, and no row in the final table yet (seen in this
        copy's transaction)."""
        sql_client = self._job_client.sql_client
        if (
            self.load_table_name not in UNIQUE_PER_LOAD
            or not sql_client.is_staging_dataset_active
            or not self._file_path.endswith(".parquet")
        ):
            return None
        final_dataset = cast("CopyOnceDuckDbClient", self._job_client).final_dataset_name
        final = ".".join(sql_client.make_qualified_table_name_path(self.load_table_name, dataset_name=final_dataset))
        return None if sql_client.execute_sql(f"SELECT 1 FROM {final} LIMIT 1") else final_dataset


class CopyOnceDuckDbClient(LedgeredMerges, DuckDbClient):
    # the load file formats dlt's DuckDB copy job reads (insert_values and sql files have jobs of their own)
    COPIED_FORMATS = frozenset({"parquet", "jsonl", "csv"})

    def __init__(self, schema: Any, config: Any, capabilities: Any) -> None:
        credentials = config.credentials
        # no order to keep: a warehouse table has none, and keeping it makes DuckDB buffer a large
        # INSERT ... SELECT (measured: -0.3 s of CPU per million merged events); a configured value wins
        credentials.global_config = {"preserve_insertion_order": False, **(credentials.global_config or {})}
        super().__init__(schema, config, capabilities)
        self.final_dataset_name = self.sql_client.dataset_name  # the client starts outside the staging dataset
        if _active_load_memory_limit is not None and "memory_limit" not in credentials.global_config:
            duckdb_global_settings(self.sql_client)["memory_limit"] = _active_load_memory_limit

    def initialize_storage(self, truncate_tables: Any = None) -> None:
        super().initialize_storage(truncate_tables)
        # created here, once per dataset and load, not by concurrent copy jobs (DuckDB would refuse
        # two transactions creating one table)
        ledger = self.sql_client.make_qualified_table_name(LEDGER_TABLE)
        self.sql_client.execute_sql(f"CREATE TABLE IF NOT EXISTS {ledger} (copied_file VARCHAR NOT NULL)")

    def create_load_job(self, table: PreparedTableSchema, file_path: str, load_id: str, restore: bool = False) -> LoadJob:
        job = super().create_load_job(table, file_path, load_id, restore)
        if type(job) is DuckDbCopyJob:
            job = CopyOnceJob(file_path)
        return job


class copy_once_duckdb(dlt.destinations.duckdb):  # noqa: N801 - dlt names destination factories in lower case
    """`dlt.destinations.duckdb` whose load files are copied at most once (see the module docstring)."""

    @property
    def client_class(self) -> type[DuckDbClient]:
        return CopyOnceDuckDbClient

    @property
    def destination_type(self) -> str:
        return "dlt.destinations.duckdb"  # to dlt, its state and the models, this is DuckDB
