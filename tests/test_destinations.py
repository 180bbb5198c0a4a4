"""class-elt beyond one DuckDB file (class_source/destinations.py): PostgreSQL for real, a Delta lake
on a local folder with its SQL models in a DuckDB file, and the destination checks.

End to end through `class-elt run`, against the emulator served on loopback, as tests/test_cli.py
does; the expected rows are the emulator's ground truth, read back from each destination with its
own reader (psycopg2 for Postgres, deltalake for the lake), never through the code under test.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pyarrow as pa
import pytest

from class_source.cli import main
from class_source.destination_fit import adapt_source, postgres_adbc_available
from class_source.destinations import DESTINATIONS, make_destination
from class_source.errors import DestinationError
from class_source.lake import models_target
from class_source.emulator import Emulator
from class_source.models import ModelError, build_models, load_models
from tests.support import KEYS, _normalize, truth_keys
from tests.test_cli import _create_class_with_history, _event, _late_event_key, point_at

PIPELINE = "class_elt"  # the CLI's default pipeline name
MART_PREFIXES = ("fct_", "dim_", "agg_")
HISTORY_COLUMNS = {"valid_from", "valid_to"}  # load times: differ between two loads by design


# --- reading each destination back -----------------------------------------------------------------


def _current(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of a table kept as dlt scd2 history: only the current versions (the API's present)."""
    if rows and "_dlt_valid_to" in rows[0]:
        return [row for row in rows if row["_dlt_valid_to"] is None]
    return rows


def _keys(table: str, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [tuple(_normalize(column, row[column]) for column in KEYS[table]) for row in _current(rows)]


def assert_rows_match_truth(rows_of: Any, truth: dict[str, list[dict[str, Any]]], tables: Any = KEYS) -> None:
    """Every table (of `tables`) holds exactly the ground truth's keys, each exactly once."""
    for table in tables:
        rows = _keys(table, rows_of(table))
        expected = truth_keys(truth, table)
        assert len(rows) == len(set(rows)), f"{table}: {len(rows) - len(set(rows))} duplicate rows"
        missing, extra = expected - set(rows), set(rows) - expected
        assert not missing and not extra, (
            f"{table}: {len(missing)} missing (e.g. {sorted(missing)[:3]}), {len(extra)} unexpected (e.g. {sorted(extra)[:3]})"
        )


def postgres_execute(url: str, sql: str) -> list[tuple[Any, ...]] | tuple[list[str], list[tuple[Any, ...]]]:
    """Run one statement on its own connection (closed after); a query returns (columns, rows)."""
    import psycopg2

    with contextlib.closing(psycopg2.connect(url)) as connection, connection, connection.cursor() as cursor:
        cursor.execute(sql)
        if cursor.description is None:
            return []
        return [d[0] for d in cursor.description], cursor.fetchall()


def postgres_rows(url: str, dataset: str, table: str) -> list[dict[str, Any]]:
    columns, rows = postgres_execute(url, f'select * from "{dataset}"."{table}"')
    return [dict(zip(columns, row, strict=True)) for row in rows]


def postgres_file_formats(pipelines_dir: Path) -> dict[str, set[str]]:
    """The load file formats of the last run, per table, from the pipeline's persisted trace."""
    pipeline = dlt.attach(pipeline_name=PIPELINE, pipelines_dir=str(pipelines_dir))
    formats: dict[str, set[str]] = {}
    for package in pipeline.last_trace.last_load_info.load_packages:
        for job in package.jobs["completed_jobs"]:
            formats.setdefault(job.job_file_info.table_name, set()).add(job.job_file_info.file_format)
    return formats


def lake_rows(bucket: Path, dataset: str, table: str) -> list[dict[str, Any]]:
    from deltalake import DeltaTable

    return DeltaTable(str(bucket / dataset / table)).to_pyarrow_table().to_pylist()


def lake_version(bucket: Path, dataset: str, table: str) -> int:
    from deltalake import DeltaTable

    return DeltaTable(str(bucket / dataset / table)).version()


def mart_rows(database: Path, dataset: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every mart of a models database as sorted rows, load-time history columns left out."""
    marts: dict[str, list[tuple[Any, ...]]] = {}
    with duckdb.connect(str(database), read_only=True) as con:
        for model in load_models():
            if not model.name.startswith(MART_PREFIXES):
                continue
            columns = [
                name
                for (name,) in con.execute(
                    "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                    "order by ordinal_position",
                    [dataset, model.name],
                ).fetchall()
                if name not in HISTORY_COLUMNS
            ]
            rows = [
                tuple(_approximately(value) for value in row)
                for row in con.execute(f'select {", ".join(columns)} from "{dataset}"."{model.name}"').fetchall()
            ]
            marts[model.name] = sorted(rows, key=lambda row: tuple((v is None, str(v)) for v in row))
    return marts


def _approximately(value: Any) -> Any:
    # DuckDB sums floats in parallel, in no fixed order: the last bits of an average may differ
    return round(value, 9) if isinstance(value, float) else value


@pytest.fixture
def postgres_dataset(postgres_url: str) -> Iterator[str]:
    """A dataset name of its own on the local server; it and dlt's staging dataset are dropped afterwards."""
    name = f"class_dest_{uuid.uuid4().hex[:10]}"
    yield name
    postgres_execute(postgres_url, f'drop schema if exists "{name}" cascade; drop schema if exists "{name}_staging" cascade')


# --- Postgres --------------------------------------------------------------------------------------


@pytest.mark.postgres
def test_a_run_on_a_postgres_schema_another_machine_is_loading_is_refused(workdir, monkeypatch, capsys, postgres_url, postgres_dataset):
    """Another machine's run holds the schema through the server's advisory lock (no local lock file
    can see it): the run is refused in one line and loads nothing; once it is released, it loads."""
    import hashlib

    import psycopg2

    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_url)
    emulator = Emulator(seed=8, classes=2)
    key = int.from_bytes(hashlib.sha256(f"class-elt test {postgres_dataset}".encode()).digest()[:8], "big", signed=True)
    other_machine = psycopg2.connect(postgres_url)
    other_machine.autocommit = True
    with other_machine.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", (key,))
    run = ["run", "--destination", "postgres", "--dataset-name", postgres_dataset, "--no-models"]
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        try:
            capsys.readouterr()
            assert main(run) == 1
            refused = capsys.readouterr().err.strip().splitlines()
            assert len(refused) == 1 and f"another class-elt run writing dataset {postgres_dataset} on postgres" in refused[0], refused
            assert postgres_execute(postgres_url, f"select 1 from information_schema.tables where table_schema = '{postgres_dataset}'")[1] == []
        finally:
            other_machine.close()
        assert main(run) == 0
    assert len(postgres_rows(postgres_url, postgres_dataset, "classes")) == len(emulator.school.ground_truth()["classes"])


@pytest.mark.postgres
def test_a_postgres_url_without_a_password_loads_as_libpq_would_connect(workdir, monkeypatch, postgres_url, postgres_dataset):
    """The local server trusts loopback: `postgresql://postgres@127.0.0.1:5432/test` is a valid libpq URL
    (trust, ~/.pgpass or PGPASSWORD supply the rest), and dlt alone would refuse it for lack of a password."""
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", "postgresql://postgres@127.0.0.1:5432/test")
    monkeypatch.delenv("PGPASSWORD", raising=False)
    emulator = Emulator(seed=9, classes=2)
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        assert main(["run", "--destination", "postgres", "--dataset-name", postgres_dataset, "--no-models",
                     "--resources", "classes,templates"]) == 0
    assert len(postgres_rows(postgres_url, postgres_dataset, "templates")) == len(emulator.school.ground_truth()["templates"])


@pytest.mark.postgres
def test_postgres_run_is_exact_idempotent_incremental_and_builds_the_models(
    workdir, monkeypatch, capsys, postgres_url, postgres_dataset
):
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_url)
    run = ["run", "--destination", "postgres", "--dataset-name", postgres_dataset]
    emulator = Emulator(seed=5, classes=4)
    school = emulator.school
    class_id = school.class_ids()[0]
    student = next(r for r in school.ground_truth()["enrollments"] if r["class_id"] == class_id)
    now = emulator.clock.now
    # a long event running past the first run: only the second run's lookback can land it
    late = _event(student, start=now - 2 * 3600, end=now + 1800, kind="PRESENTING")
    school.add_events(class_id, [late, _event(student, start=now - 3600, end=now - 3590, kind="RAISED_HAND", value="1")])

    def rows_of(table: str) -> list[dict[str, Any]]:
        return postgres_rows(postgres_url, postgres_dataset, table)

    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        assert main(run + ["--no-models"]) == 0
        assert_rows_match_truth(rows_of, school.ground_truth())
        first = {table: len(rows_of(table)) for table in KEYS}
        assert all(first[t] > 0 for t in ("classes", "users", "enrollments", "schedules", "attendance", "metrics"))
        assert _late_event_key(late, class_id) not in set(_keys("metrics", rows_of("metrics")))
        # the fast path: parquet through ADBC when its driver is installed, else csv (COPY), never
        # INSERT statements; users (a json column) stay rows; sql jobs are dlt's merge/replace
        # statements, the first load of metrics included (it merges, so a retried job cannot duplicate)
        fast = "parquet" if postgres_adbc_available() else "csv"
        formats = postgres_file_formats(workdir / "dlt_data" / "pipelines")
        assert formats["attendance"] == {fast, "sql"} and formats["metrics"] == {fast, "sql"}, formats
        assert formats["users"] == {"insert_values", "sql"}, formats

        assert main(run + ["--no-models"]) == 0  # nothing changed in Class: nothing changes here
        assert {table: len(rows_of(table)) for table in KEYS} == first

        emulator.clock.advance(6 * 3600)  # live sessions happen, the long event ends
        new_class = _create_class_with_history(emulator, base_url, student)
        gone = school.delete_template(school.ground_truth()["templates"][0]["template_id"])  # replace drops it
        capsys.readouterr()
        assert main(run) == 0  # and this time the models too
        truth = school.ground_truth()
    assert_rows_match_truth(rows_of, truth)
    keys = set(_keys("metrics", rows_of("metrics")))
    assert _late_event_key(late, class_id) in keys
    assert {k for k in keys if k[0] == new_class} == {k for k in truth_keys(truth, "metrics") if k[0] == new_class}
    assert gone["template_id"] not in {row["template_id"] for row in rows_of("templates")}
    assert "every grain check passed" in capsys.readouterr().out
    # the marts are there and agree with the raw tables: one attendance row per raw attendance row
    assert len(rows_of("fct_session_attendance")) == len(truth["attendance"])


# --- a Delta lake on a local folder ----------------------------------------------------------------


def test_delta_lake_round_trip_with_models_in_a_duckdb_file(workdir, monkeypatch, capsys):
    bucket, models_db, dataset = workdir / "lake", workdir / "lake_models.duckdb", "class_lake"
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", bucket.as_uri())
    run = ["run", "--destination", "filesystem", "--dataset-name", dataset, "--models-database", str(models_db)]
    emulator = Emulator(seed=5, classes=4)
    school = emulator.school
    class_id = school.class_ids()[0]
    student = next(r for r in school.ground_truth()["enrollments"] if r["class_id"] == class_id)
    now = emulator.clock.now
    late = _event(student, start=now - 2 * 3600, end=now + 1800, kind="PRESENTING")
    school.add_events(class_id, [late, _event(student, start=now - 3600, end=now - 3590, kind="RAISED_HAND", value="1")])

    def rows_of(table: str) -> list[dict[str, Any]]:
        return lake_rows(bucket, dataset, table)

    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        # a full refresh on a lake that does not exist yet is a plain first load
        assert main(run + ["--full-refresh"]) == 0
        assert_rows_match_truth(rows_of, school.ground_truth())
        first = {table: len(rows_of(table)) for table in KEYS}
        metrics_version = lake_version(bucket, dataset, "metrics")
        out = capsys.readouterr().out
        assert f"loaded {dataset} on filesystem" in out and "every grain check passed" in out
        assert f"{'metrics':<20} {first['metrics']:>12,} {first['metrics']:>14,}" in out  # counts from the Delta log

        # rerun: metrics re-read their 24-hour lookback and merge (upsert) onto what is there
        assert main(run + ["--no-models"]) == 0
        assert {table: len(rows_of(table)) for table in KEYS} == first
        assert lake_version(bucket, dataset, "metrics") > metrics_version  # merged, not skipped

        emulator.clock.advance(6 * 3600)
        new_class = _create_class_with_history(emulator, base_url, student)
        gone = school.delete_template(school.ground_truth()["templates"][0]["template_id"])  # replace drops it
        assert main(run + ["--no-models"]) == 0
        truth = school.ground_truth()
        assert_rows_match_truth(rows_of, truth)
        keys = set(_keys("metrics", rows_of("metrics")))
        assert _late_event_key(late, class_id) in keys
        assert {k for k in keys if k[0] == new_class} == {k for k in truth_keys(truth, "metrics") if k[0] == new_class}
        assert gone["template_id"] not in {row["template_id"] for row in rows_of("templates")}

        # the models rebuilt on their own (`class-elt models`) read the lake's newest version
        rebuild = ["models", "--destination", "filesystem", "--dataset-name", dataset, "--models-database", str(models_db)]
        assert main(rebuild) == 0

        # the same school loaded into DuckDB (the workdir's warehouse.duckdb): a lake user gets the
        # same marts as a warehouse user
        assert main(["run", "--pipeline-name", "reference", "--dataset-name", dataset]) == 0

    with duckdb.connect(str(models_db), read_only=True) as con:  # a plain DuckDB client, as a BI tool
        assert con.execute(f"select count(*) from {dataset}.metrics").fetchone()[0] == len(truth["metrics"])
        kinds = dict(con.execute(
            "select table_name, table_type from information_schema.tables where table_schema = ?", [dataset]
        ).fetchall())
    assert kinds["metrics"] == "VIEW" and kinds["fct_session_attendance"] == "BASE TABLE"
    lake, warehouse = mart_rows(models_db, dataset), mart_rows(workdir / "warehouse.duckdb", dataset)
    assert set(lake) == {m.name for m in load_models() if m.name.startswith(MART_PREFIXES)}
    for mart in lake:
        assert lake[mart] == warehouse[mart], mart
    assert len(lake["fct_session_attendance"]) == len(truth["attendance"]) > 0


def test_lake_models_without_a_load_say_to_run_first(workdir, monkeypatch):
    pipeline = dlt.pipeline(
        pipeline_name="empty_lake",
        destination=make_destination("filesystem", bucket_url=(workdir / "nothing").as_uri())[0],
        dataset_name="class_data",
    )
    with pytest.raises(ModelError, match="has no Delta tables at .*nothing: run the pipeline first"):
        build_models(models_target(pipeline, workdir / "models.duckdb"))


def test_empty_and_evolving_delta_tables_become_typed_relations(workdir):
    """A resource that found no rows lands as a Delta table without files; the lake models read it as
    an empty table of its columns. A column added later reads as null in the older files."""
    bucket = workdir / "lake"
    destination, run_kwargs = make_destination("filesystem", bucket_url=bucket.as_uri())
    pipeline = dlt.pipeline(pipeline_name="shapes", destination=destination, dataset_name="class_data")
    empty = pa.table({"template_id": pa.array([], pa.string()), "name": pa.array([], pa.string())})
    pipeline.run([dlt.resource([empty], name="templates", write_disposition="replace")], **run_kwargs)
    first = pa.table({"class_id": ["c1"], "class_name": ["Algebra"]})
    pipeline.run([dlt.resource([first], name="classes", write_disposition="append")], **run_kwargs)
    second = pa.table({"class_id": ["c2"], "class_name": ["Biology"], "host": ["Anne"]})
    pipeline.run([dlt.resource([second], name="classes", write_disposition="append")], **run_kwargs)

    from deltalake import DeltaTable

    assert DeltaTable(str(bucket / "class_data" / "templates")).file_uris() == []  # a table without files
    target = models_target(pipeline, workdir / "models.duckdb")
    with target.sql_client() as client:
        templates = client.execute_sql("select template_id, name from class_data.templates")
        classes = client.execute_sql("select class_id, class_name, host from class_data.classes order by class_id")
    assert templates == []
    assert [tuple(row) for row in classes] == [("c1", "Algebra", None), ("c2", "Biology", "Anne")]


# --- the destination checks ------------------------------------------------------------------------


def test_unknown_destination_is_one_line_listing_the_supported_ones(workdir, capsys):
    assert main(["run", "--destination", "mssql"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"class-elt: error: unknown destination 'mssql'; supported: {', '.join(DESTINATIONS)}"]


@pytest.mark.parametrize("table_format", [None, "parquet", "jsonl"])
def test_plain_files_are_refused_because_metrics_cannot_merge(table_format):
    with pytest.raises(DestinationError, match="cannot merge, so each run's metrics lookback would land as duplicates"):
        make_destination("filesystem", table_format=table_format)


def test_iceberg_is_refused_naming_the_supported_format():
    with pytest.raises(DestinationError, match=r"table_format 'iceberg' is not supported: .*use table_format 'delta'"):
        make_destination("filesystem", table_format="iceberg")


def test_each_destination_gets_its_run_arguments():
    assert make_destination("filesystem", bucket_url="file:///tmp/lake")[1] == {"table_format": "delta"}
    for name in ("duckdb", "postgres", "motherduck"):
        destination, run_kwargs = make_destination(name, validate=False)
        assert run_kwargs == {} and str(destination.destination_type) == f"dlt.destinations.{name}"
    with pytest.raises(DestinationError, match="table_format applies to the filesystem destination only"):
        make_destination("postgres", table_format="delta", validate=False)


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        ("postgres", "destination postgres needs credentials: set DESTINATION__POSTGRES__CREDENTIALS"),
        ("filesystem", "destination filesystem needs bucket_url: set DESTINATION__FILESYSTEM__BUCKET_URL"),
    ],
)
def test_missing_destination_configuration_is_named_before_anything_runs(workdir, monkeypatch, capsys, destination, message):
    for name in ("DESTINATION__POSTGRES__CREDENTIALS", "DESTINATION__FILESYSTEM__BUCKET_URL"):
        monkeypatch.delenv(name, raising=False)
    # no API configured either: the destination is checked first, before any request
    assert main(["run", "--destination", destination]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"class-elt: error: {message} "), err


def test_an_unreachable_destination_is_one_line(workdir, monkeypatch, capsys):
    emulator = Emulator(seed=1, classes=1)
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", "postgresql://postgres:unused@127.0.0.1:9/test")  # discard port
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        assert main(["run", "--destination", "postgres", "--no-models"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    expected = 'class-elt: error: cannot reach the destination: connection to server at "127.0.0.1", port 9 failed'
    assert err[-1].startswith(expected), err
    assert "Traceback" not in "\n".join(err)


def test_a_missing_client_library_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(DESTINATIONS, "snowflake", DESTINATIONS["snowflake"].__class__("no_such.module", "snowflake", {}))
    message = r"^destination snowflake needs the no_such\.module package: install dlt\[snowflake\]"
    with pytest.raises(DestinationError, match=message):
        make_destination("snowflake")


def test_a_models_database_is_for_the_lake_only(workdir, capsys):
    pipeline = dlt.pipeline(pipeline_name="wh", destination=make_destination("duckdb")[0], dataset_name="d")
    assert models_target(pipeline) is pipeline
    # refused before anything runs (no API configured here: that would be the next error)
    assert main(["run", "--models-database", str(workdir / "models.duckdb")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["class-elt: error: a models database applies to the filesystem destination only, not to duckdb"]


# --- merge strategies the lake cannot run --------------------------------------------------------


def _history_source(rows: list[dict[str, Any]], as_arrow: bool) -> Any:
    @dlt.resource(name="enrollments", write_disposition={"disposition": "merge", "strategy": "scd2"})
    def enrollments() -> Iterator[Any]:
        yield pa.Table.from_pylist(rows) if as_arrow else rows

    @dlt.source(name="history")
    def history() -> Any:
        return enrollments

    return history()


@pytest.mark.parametrize("as_arrow", [False, True], ids=["rows", "arrow"])
def test_scd2_history_on_delta_keeps_the_current_rows_marked_current(workdir, as_arrow):
    destination, run_kwargs = make_destination("filesystem", bucket_url=(workdir / "lake").as_uri())
    pipeline = dlt.pipeline(pipeline_name="history", destination=destination, dataset_name="class_data")
    roster = [{"class_id": "c1", "student_id": "ana"}, {"class_id": "c1", "student_id": "ben"}]
    pipeline.run(adapt_source(_history_source(roster, as_arrow), pipeline.destination, run_kwargs), **run_kwargs)
    pipeline.run(adapt_source(_history_source(roster[:1], as_arrow), pipeline.destination, run_kwargs), **run_kwargs)
    rows = lake_rows(workdir / "lake", "class_data", "enrollments")
    # ben left: gone (the table is replaced); ana is current, valid from the last run
    assert [(r["class_id"], r["student_id"], r["_dlt_valid_to"]) for r in rows] == [("c1", "ana", None)]
    assert rows[0]["_dlt_valid_from"].tzinfo is not None


def test_a_table_replaced_class_by_class_is_upserted_on_delta_which_lacks_delete_insert(workdir, caplog):
    destination, run_kwargs = make_destination("filesystem", bucket_url=(workdir / "lake").as_uri())
    pipeline = dlt.pipeline(pipeline_name="strategies", destination=destination, dataset_name="class_data")

    @dlt.resource(name="attendance", primary_key="id", write_disposition={"disposition": "merge", "strategy": "delete-insert"})
    def attendance() -> Iterator[dict[str, int]]:
        yield {"id": 1}

    @dlt.source(name="strategies")
    def source() -> Any:
        return attendance

    adapted = adapt_source(source(), pipeline.destination, run_kwargs)
    assert adapted.resources["attendance"].compute_table_schema()["x-merge-strategy"] == "upsert"
    assert "attendance on filesystem (delta): rows are upserted by key, so rows of a class deleted in Class stay" in caplog.text


@pytest.mark.postgres
def test_postgres_adopts_a_staged_table_only_into_an_empty_table_nothing_is_attached_to(postgres_url, postgres_dataset):
    """The first load's shortcut (class_source/postgres_load.py): the staged table is swapped in only
    when the target is empty and the swap loses nothing; otherwise nothing changes and dlt's merge runs."""
    from class_source.postgres_load import ADOPT_FUNCTION, ADOPT_FUNCTION_BODY

    target, staged = f'"{postgres_dataset}"."events"', f'"{postgres_dataset}_staging"."events"'
    adopt = f"select \"{postgres_dataset}_staging\".{ADOPT_FUNCTION}('{target}'::regclass, '{staged}'::regclass)"
    postgres_execute(postgres_url, f"""
        create schema "{postgres_dataset}"; create schema "{postgres_dataset}_staging";
        create function "{postgres_dataset}_staging".{ADOPT_FUNCTION} {ADOPT_FUNCTION_BODY};
        create table {target} (id bigint not null, value varchar); create table {staged} (id bigint not null, value varchar);
        insert into {staged} values (1, 'a'), (2, 'b');
        create view "{postgres_dataset}".events_view as select * from {target}""")

    def rows(table: str) -> list[tuple[Any, ...]]:
        return sorted(postgres_execute(postgres_url, f"select * from {table}")[1])

    assert postgres_execute(postgres_url, adopt)[1] == [(False,)]  # a view reads the target
    postgres_execute(postgres_url, f'drop view "{postgres_dataset}".events_view; grant select on {target} to public')
    assert postgres_execute(postgres_url, adopt)[1] == [(False,)]  # a grant would be lost
    postgres_execute(postgres_url, f"drop table {target}; create table {target} (id bigint not null, value varchar); insert into {target} values (3, 'c')")
    assert postgres_execute(postgres_url, adopt)[1] == [(False,)]  # rows: the merge must run
    assert rows(target) == [(3, "c")] and rows(staged) == [(1, "a"), (2, "b")]
    postgres_execute(postgres_url, f"delete from {target}")
    assert postgres_execute(postgres_url, adopt)[1] == [(True,)]
    assert rows(target) == [(1, "a"), (2, "b")] and rows(staged) == []
    columns = "select column_name, data_type, is_nullable from information_schema.columns where table_schema = '{}' and table_name = 'events' order by 1"
    assert postgres_execute(postgres_url, columns.format(postgres_dataset))[1] == postgres_execute(postgres_url, columns.format(f"{postgres_dataset}_staging"))[1]
