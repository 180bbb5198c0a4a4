"""A first load in several load packages (class_source/parts.py): each package loaded while the next
part of the metrics is fetched.

Every test here loads parts of a few hundred events (`load_part_events`), so that a school of a few
classes spans several packages. Under every emulator reading the connector handles, the first load
and the run after it load exactly the ground truth; the cursors reach the state with the last part
only, so a run stopped between parts moves none; a run killed anywhere between or inside the parts is
exact after one rerun.
"""

from __future__ import annotations

import re

import dlt
import pytest

from class_source import embedded_source
from class_source.cli import main
from class_source.destination_fit import adapt_source
from class_source.destinations import make_destination
from class_source.emulator import Emulator
from class_source.loaded_tables import metrics_table_is_empty
from class_source.parts import load_in_parts, loads_in_parts
from tests.reliability_support import completed_loads, destination_cursors, local_cursors, pending_packages
from tests.support import assert_matches_truth, table_counts
from tests.test_readings import HANDLED, PAGE
from tests.test_reliability import NOTHING_PENDING, fork_server, run_env  # noqa: F401 - fork_server is a fixture

DATABASE = "warehouse.duckdb"
RUN = ["run", "--no-models"]
PART_EVENTS = 300  # a part: a few metrics pages of PAGE events


def _metrics_loads(output: str) -> int:
    """The load packages a run reports ("loaded ... in 1.2s (5 load packages): ...")."""
    found = re.search(r"\((\d+) load packages\)", output)
    return int(found.group(1)) if found else 1


@pytest.mark.parametrize("readings", HANDLED.values(), ids=HANDLED.keys())
def test_a_first_load_in_parts_and_the_run_after_it_are_exact_under_every_reading_it_handles(workdir, monkeypatch, capsys, readings):
    emulator = Emulator(seed=41, classes=4, readings=readings)
    with emulator.serve() as base_url:
        monkeypatch.setenv("SOURCES__CLASS_API__BASE_URL", base_url)
        monkeypatch.setenv("SOURCES__CLASS_API__API_KEY", emulator.mint_key())
        monkeypatch.setenv("SOURCES__CLASS_API__METRICS_PAGE_SIZE", str(PAGE))
        monkeypatch.setenv("SOURCES__CLASS_API__LOAD_PART_EVENTS", str(PART_EVENTS))
        assert main(RUN) == 0
        first = capsys.readouterr().out
        assert_matches_truth(workdir / DATABASE, emulator.school.ground_truth())
        # thousands of events in parts of 300 (a server ignoring `limit` sends a class in one page): the
        # snapshots' package and at least two of metrics
        assert table_counts(workdir / DATABASE)["metrics"] > 10 * PART_EVENTS
        assert _metrics_loads(first) >= 3, first
        assert len(completed_loads(workdir / DATABASE)) == _metrics_loads(first)
        emulator.clock.advance(26 * 3600)  # new sessions, late-ending events, past the lookback
        assert main(RUN) == 0
        assert _metrics_loads(capsys.readouterr().out) == 1  # an incremental run merges in one package
        truth = emulator.school.ground_truth()
    assert_matches_truth(workdir / DATABASE, truth)


def test_the_cursors_reach_the_state_with_the_last_part_only(workdir, monkeypatch, capsys):
    """The metrics endpoint fails for good after 20 answers (of ~40 the school needs): the packages
    before the failure have loaded their events, but no cursor has moved, locally or in the
    destination; the next run reads every class again and ends at the ground truth."""
    emulator = Emulator(seed=42, classes=4)
    emulator.faults.script("GET /api/v1/reporting/metrics", ["none"] * 20 + ["500"] * 1000)
    with emulator.serve() as base_url:
        monkeypatch.setenv("SOURCES__CLASS_API__BASE_URL", base_url)
        monkeypatch.setenv("SOURCES__CLASS_API__API_KEY", emulator.mint_key())
        monkeypatch.setenv("SOURCES__CLASS_API__METRICS_PAGE_SIZE", str(PAGE))
        monkeypatch.setenv("SOURCES__CLASS_API__LOAD_PART_EVENTS", str(PART_EVENTS))
        monkeypatch.setenv("SOURCES__CLASS_API__MAX_RETRIES", "0")
        assert main(RUN) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "reporting/metrics" in err[0] and "still failing" in err[0], err
        assert len(completed_loads(workdir / DATABASE)) >= 2  # packages loaded before it stopped ...
        assert 0 < table_counts(workdir / DATABASE)["metrics"] < len(emulator.school.ground_truth()["metrics"])
        assert local_cursors(workdir / "dlt_data") == {}  # ... and not one cursor with them
        assert destination_cursors(workdir / DATABASE) == {}

        emulator.faults.scripted.clear()
        assert main(RUN) == 0
        truth = emulator.school.ground_truth()
    assert_matches_truth(workdir / DATABASE, truth)
    assert local_cursors(workdir / "dlt_data") and local_cursors(workdir / "dlt_data") == destination_cursors(workdir / DATABASE)


KILLS_IN_PARTS = {  # the point, its call in the run, the packages whose load completed before the kill
    "inside the first package's load (its 12th job)": ("load_job", 12, 0),
    "the first package's load committed, not archived": ("load_completed", 1, 1),
    "the second package extracted, not normalized": ("extract_committed", 2, 1),
    "the second package's appended metrics copy done in DuckDB, not recorded": ("metrics_job_done", 3, 1),
    "the second package's load committed, not archived": ("load_completed", 2, 2),
    "the third package's appended metrics copy done in DuckDB, not recorded": ("metrics_job_done", 4, 2),
}


@pytest.mark.parametrize("point, n, loaded_before", KILLS_IN_PARTS.values(), ids=KILLS_IN_PARTS.keys())
def test_a_first_load_in_parts_killed_anywhere_is_exact_after_one_rerun(workdir, fork_server, point, n, loaded_before):  # noqa: F811
    emulator = Emulator(seed=43, classes=4)
    with emulator.serve() as base_url:
        env = run_env(base_url, emulator.mint_key(), metrics_page_size=PAGE, load_part_events=PART_EVENTS)
        killed = fork_server.run(RUN, env=env, cwd=workdir, point=point, n=n)
        assert killed.killed, killed.describe()
        assert len(completed_loads(workdir / DATABASE)) == loaded_before, "the kill landed in another package"
        rerun = fork_server.run(RUN, env=env, cwd=workdir)
        assert rerun.returncode == 0, rerun.describe()
        assert pending_packages(workdir / "dlt_data") == NOTHING_PENDING
        truth = emulator.school.ground_truth()
    assert_matches_truth(workdir / DATABASE, truth)


def test_a_negative_part_size_is_refused_in_one_line(workdir, monkeypatch, capsys):
    monkeypatch.setenv("SOURCES__CLASS_API__BASE_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("SOURCES__CLASS_API__API_KEY", "k" * 32)
    monkeypatch.setenv("SOURCES__CLASS_API__LOAD_PART_EVENTS", "-1")
    assert main(RUN) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "load_part_events must be >= 0" in err[0], err


def test_only_class_elts_own_duckdb_client_loads_in_parts(tmp_path):
    """Appended parts are exact only where every copy is ledgered (a rerun after a kill copies no file
    twice): class-elt's DuckDB client, not dlt's own, nor Postgres (csv copies have no ledger)."""
    ours, _ = make_destination("duckdb", credentials=str(tmp_path / "w.duckdb"))
    assert loads_in_parts(ours)
    assert not loads_in_parts(dlt.destinations.duckdb(str(tmp_path / "w.duckdb")))
    assert not loads_in_parts(dlt.destinations.postgres("postgresql://loader@127.0.0.1:5432/test"))


def test_the_metrics_table_is_empty_when_missing_or_without_rows_only(tmp_path):
    pipeline = dlt.pipeline(pipeline_name="empty", destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
                            dataset_name="class_data", pipelines_dir=str(tmp_path / "pipelines"))
    assert metrics_table_is_empty(pipeline)  # no dataset, no table
    pipeline.run([{"class_id": "c", "event_start": 1}], table_name="metrics")
    assert not metrics_table_is_empty(pipeline)
    with pipeline.sql_client() as client:
        client.execute_sql(f"DELETE FROM {client.make_qualified_table_name('metrics')}")
    assert metrics_table_is_empty(pipeline)


def test_another_pipeline_extracting_meanwhile_loads_in_one_package(tmp_path):
    """Parts are the business of the pipeline whose run allowed them: a second pipeline extracting a
    school in the same process meanwhile (code of your own beside `class-elt run`) ends no part early."""
    emulator = Emulator(seed=44, classes=3)
    database = tmp_path / "other.duckdb"
    destination, run_kwargs = make_destination("duckdb", credentials=str(database))
    allowed = dlt.pipeline(pipeline_name="in_parts", destination=destination, dataset_name="class_data",
                           pipelines_dir=str(tmp_path / "pipelines"))
    other = dlt.pipeline(pipeline_name="other", destination=destination, dataset_name="class_data",
                         pipelines_dir=str(tmp_path / "pipelines"))
    source = embedded_source(base_url="http://127.0.0.1:1", api_key=emulator.mint_key(), transport=emulator.transport(),
                             metrics_page_size=PAGE, load_part_events=PART_EVENTS)
    with load_in_parts(allowed, lambda: True) as parts:
        other.run(adapt_source(source, other.destination, run_kwargs), **run_kwargs)
        assert not parts.continues()
    assert len(completed_loads(database)) == 1
    assert_matches_truth(database, emulator.school.ground_truth())
