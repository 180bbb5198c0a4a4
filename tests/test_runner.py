"""The one entry point for a run (class_source/runner.py): migrations of what older class-elt versions wrote."""

from __future__ import annotations

import json

import dlt
import duckdb

from class_source import embedded_source
from class_source.emulator import Emulator
from class_source.runner import load
from tests.test_bad_data import TamperingTransport, json_tamper

OLD_METRICS_KEY = ("class_id", "student_id", "event_type", "event_start")


def without_hand_values(events):
    """RAISED_HAND events arrive without a value (the API reference documents 0/1)."""
    return [dict(event, event_value=None) if event["event_type"] == "RAISED_HAND" else event for event in events]


def test_a_warehouse_keyed_without_event_value_is_migrated_once_and_stays_exact(tmp_path):
    emulator = Emulator(seed=41, classes=3)
    database = tmp_path / "old.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name="migrated", destination=dlt.destinations.duckdb(str(database)), dataset_name="class_data",
        pipelines_dir=str(tmp_path / "pipelines"),
    )

    def source():
        transport = TamperingTransport(emulator, "/api/v1/reporting/metrics", json_tamper(without_hand_values))
        return embedded_source(base_url="http://127.0.0.1:1", api_key=key, transport=transport).with_resources("classes", "metrics")

    key = emulator.mint_key()
    old = source()
    old.metrics.apply_hints(primary_key=list(OLD_METRICS_KEY))  # what class-elt 0.1 declared
    said: list[str] = []
    load(pipeline, old, build_models=False, say=said.append)
    with duckdb.connect(str(database)) as con:  # ... and how it stored events without a value
        con.execute("alter table class_data.metrics alter column event_value drop not null")  # its DDL allowed them
        nulls = con.execute("update class_data.metrics set event_value = null where event_value = '' returning 1").fetchall()
        rows_before = con.execute("select count(*) from class_data.metrics").fetchone()[0]
    assert len(nulls) > 10

    said.clear()
    load(pipeline, source(), build_models=False, say=said.append)  # re-reads the last 24 h of every class
    notes = [line for line in said if "event_value is now part of an event's key" in line]
    assert notes == [
        "metrics: event_value is now part of an event's key (two values at one instant are two events); "
        f"{len(nulls)} stored event(s) without a value now have event_value ''. Nothing else changes."
    ]
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("select count(*) from class_data.metrics").fetchone()[0] == rows_before
        assert con.execute("select count(*) from class_data.metrics where event_value is null").fetchone()[0] == 0
        duplicates = con.execute(
            "select count(*) from (select 1 from class_data.metrics"
            " group by class_id, student_id, event_type, event_start, event_value having count(*) > 1)"
        ).fetchone()[0]
    assert duplicates == 0
    schema = json.loads(pipeline.default_schema.to_pretty_json())
    assert schema["tables"]["metrics"]["columns"]["event_value"].get("primary_key") is True

    said.clear()
    load(pipeline, source(), build_models=False, say=said.append)
    assert not [line for line in said if "event_value" in line]  # once only


def test_the_load_runs_under_duckdbs_load_memory_limit_and_the_models_under_its_default(tmp_path, monkeypatch):
    """The load's DuckDB connections spill past LOAD_MEMORY_LIMIT instead of growing; the models,
    built after it in the same run, see DuckDB's own default (their sorts would spill too)."""
    from class_source import duckdb_load
    from class_source.destinations import make_destination
    from class_source.destination_fit import adapt_source

    with duckdb.connect() as fresh:  # DuckDB's default, as a new database gets it
        default = fresh.execute("select current_setting('memory_limit')").fetchone()[0]
        limit = fresh.execute(f"set memory_limit = '{duckdb_load.LOAD_MEMORY_LIMIT}'; select current_setting('memory_limit')").fetchone()[0]
    assert default != limit
    seen: dict[str, list[str]] = {"copy": [], "models": []}
    copy = duckdb_load.CopyOnceJob.run

    def copy_and_look(job):
        seen["copy"].append(job._job_client.sql_client.execute_sql("select current_setting('memory_limit')")[0][0])
        copy(job)

    monkeypatch.setattr(duckdb_load.CopyOnceJob, "run", copy_and_look)
    emulator = Emulator(seed=42, classes=2)
    destination, run_kwargs = make_destination("duckdb", credentials=str(tmp_path / "limited.duckdb"))
    pipeline = dlt.pipeline(pipeline_name="limited", destination=destination, dataset_name="class_data",
                            pipelines_dir=str(tmp_path / "pipelines"))
    source = embedded_source(base_url="http://127.0.0.1:1", api_key=emulator.mint_key(), transport=emulator.transport())
    load(pipeline, adapt_source(source.with_resources("classes", "metrics"), pipeline.destination, run_kwargs),
         build_models=False, say=lambda line: None)
    with pipeline.sql_client() as client:  # as the models open it, after the load
        seen["models"].append(client.execute_sql("select current_setting('memory_limit')")[0][0])
    assert seen["copy"] and set(seen["copy"]) == {limit}, seen
    assert seen["models"] == [default], seen
