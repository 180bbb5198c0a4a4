"""How class-elt loads into Postgres: dlt's Postgres destination with copy jobs that land at most once
(copy_once.py says why and what that buys).

dlt 1.31 copies a parquet file through ADBC (`COPY ... FROM STDIN` in binary, on a connection of the
job's own), in one transaction that it commits. Here the file's ledger row is written first in that
same transaction: `INSERT ... ON CONFLICT DO NOTHING`
inserts nothing when the file is recorded (a run killed after the commit, before dlt recorded the
job), and the copy is skipped; were the killed run's transaction still committing on the server, the
insert waits for it on the ledger's primary key, so the two can never both copy.

A merge into a table that has no rows yet (a first load) adopts the staged table instead of copying
its rows: `_class_elt_adopt_staged_table`, in the merge's transaction, swaps the staging table in (as
dlt's `staging-optimized` replace does on Postgres) and leaves an empty staging table of the same
definition, so the merge's DELETE and INSERT that follow find nothing to do. It does so only when the
staged rows need no dedupe (copy_once.py) and the swap loses nothing: the table is empty, the loader
owns it, and nothing is attached to it that the staging table lacks (grants, views, triggers, row
security, comments, publications, inheritance, other indexes or constraints). Otherwise, and on
every later load, the merge copies the rows as dlt does.

The parquet copy also streams its file, one row group at a time: dlt hands ADBC a Python generator,
which ADBC's driver manager gathers into one table first (the whole file in memory).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import dlt

from .copy_once import LEDGER_TABLE, LedgeredMerges, MergeJob, ledger_entry
from .dlt_compat import (
    LoadJob,
    PostgresClient,
    PostgresParquetCopyJob,
    PreparedTableSchema,
)

# parquet copies at once: dlt starts a job per file (up to 20), and each ADBC copy holds its own
# buffers (5 M events in 13 files, all at once: the load step peaked at 889 MiB); two keep both of a
# 2-core server's cores busy
PARQUET_COPIES_AT_ONCE = threading.BoundedSemaphore(2)
ADOPT_FUNCTION = "_class_elt_adopt_staged_table"
# (target regclass, staged regclass) -> whether the staged table became the target; see the module doc
ADOPT_FUNCTION_BODY = """(target regclass, staged regclass) RETURNS boolean LANGUAGE plpgsql AS $body$
DECLARE
    target_schema name := (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = target);
    staged_schema name := (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = staged);
    table_name name := (SELECT relname FROM pg_class WHERE oid = target);
    has_rows boolean;
BEGIN
    EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', target);
    EXECUTE format('SELECT EXISTS (SELECT FROM %s)', target) INTO has_rows;
    IF has_rows
        OR EXISTS (SELECT FROM pg_class WHERE oid = target AND (relkind <> 'r' OR relhastriggers OR relrowsecurity
                   OR relacl IS DISTINCT FROM (SELECT relacl FROM pg_class WHERE oid = staged)
                   OR relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user)))
        OR EXISTS (SELECT FROM pg_depend WHERE refobjid = target AND classid = 'pg_rewrite'::regclass)
        OR EXISTS (SELECT FROM pg_description WHERE objoid = target)
        OR EXISTS (SELECT FROM pg_publication_rel WHERE prrelid = target)
        OR EXISTS (SELECT FROM pg_inherits WHERE inhrelid = target OR inhparent = target)
        OR EXISTS (SELECT FROM pg_constraint WHERE confrelid = target)
        OR (SELECT count(*) FROM pg_constraint WHERE conrelid = target) <> (SELECT count(*) FROM pg_constraint WHERE conrelid = staged)
        OR (SELECT count(*) FROM pg_index WHERE indrelid = target) <> (SELECT count(*) FROM pg_index WHERE indrelid = staged)
    THEN
        RETURN false;
    END IF;
    EXECUTE format('DROP TABLE %s', target);
    EXECUTE format('ALTER TABLE %s SET SCHEMA %I', staged, target_schema);
    EXECUTE format('CREATE TABLE %I.%I (LIKE %I.%I INCLUDING ALL)', staged_schema, table_name, target_schema, table_name);
    RETURN true;
END
$body$"""


class CopyOnceParquetJob(PostgresParquetCopyJob):
    """dlt's ADBC copy of one parquet file, skipped when the ledger says the file was copied."""

    def run(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        sql_client = self._job_client.sql_client
        ledger = sql_client.make_qualified_table_name(LEDGER_TABLE)
        entry = ledger_entry(self._file_path, self._load_id)
        with PARQUET_COPIES_AT_ONCE, self._connect() as connection, connection.cursor() as cursor:  # autocommit is off
            cursor.execute(f"INSERT INTO {ledger} VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1", parameters=(entry,))
            if not cursor.fetchall():
                return  # copied by a run that was killed before dlt recorded it (closing rolls back)
            catalog, schema = self._set_catalog_and_schema()
            with pq.ParquetFile(self._file_path) as parquet:
                batches: Iterator[pa.RecordBatch] = (
                    batch for group in range(parquet.num_row_groups) for batch in parquet.read_row_group(group).to_batches()
                )
                cursor.adbc_ingest(
                    self.load_table_name,
                    pa.RecordBatchReader.from_batches(parquet.schema_arrow, batches),
                    mode="append",
                    catalog_name=catalog,
                    db_schema_name=schema,
                )
            connection.commit()


class AdoptingMergeJob(MergeJob):
    """The merge, preceded by the adoption of the staged table when its rows need no dedupe (the
    module doc says when the adoption happens)."""

    @classmethod
    def gen_merge_sql(cls, table_chain: Sequence[PreparedTableSchema], sql_client: Any) -> list[str]:
        merge = list(super().gen_merge_sql(table_chain, sql_client))
        root = table_chain[0]
        hard_delete = any(column.get("hard_delete") for column in root["columns"].values())
        if (
            len(table_chain) > 1
            or not root.get("x-stage-data-deduplicated")
            or hard_delete
            or any(cls.get_merge_conditions(root, sql_client))
        ):
            return merge
        target, staged = sql_client.get_qualified_table_names(root["name"])
        literal = sql_client.capabilities.escape_literal
        adopt = f"{sql_client.fully_qualified_dataset_name(staging=True)}.{ADOPT_FUNCTION}"
        return [f"SELECT {adopt}({literal(target)}::regclass, {literal(staged)}::regclass)", *merge]


class CopyOncePostgresClient(LedgeredMerges, PostgresClient):
    # csv files (no ADBC driver) go through dlt's own COPY job, and their merges keep dlt's dedupe
    COPIED_FORMATS = frozenset({"parquet"})
    MERGE_JOB = AdoptingMergeJob

    def initialize_storage(self, truncate_tables: Any = None) -> None:
        super().initialize_storage(truncate_tables)
        # once per dataset and load, before any copy job runs
        ledger = self.sql_client.make_qualified_table_name(LEDGER_TABLE)
        self.sql_client.execute_sql(f"CREATE TABLE IF NOT EXISTS {ledger} (copied_file VARCHAR PRIMARY KEY)")
        adopt = f"{self.sql_client.fully_qualified_dataset_name()}.{ADOPT_FUNCTION}"
        self.sql_client.execute_sql(f"CREATE OR REPLACE FUNCTION {adopt} {ADOPT_FUNCTION_BODY}")

    def create_load_job(self, table: PreparedTableSchema, file_path: str, load_id: str, restore: bool = False) -> LoadJob:
        job = super().create_load_job(table, file_path, load_id, restore)
        if type(job) is PostgresParquetCopyJob:
            job = CopyOnceParquetJob(file_path)
        return job


class copy_once_postgres(dlt.destinations.postgres):  # noqa: N801 - dlt names destination factories in lower case
    """`dlt.destinations.postgres` whose load files are copied at most once (see the module docstring)."""

    @property
    def client_class(self) -> type[PostgresClient]:
        return CopyOncePostgresClient

    @property
    def destination_type(self) -> str:
        return "dlt.destinations.postgres"  # to dlt, its state and the models, this is Postgres
