"""Exactly once against any server that honours the API reference, not only against our emulator's
reading of it (issue 11).

Each emulator reading (class_source/emulator/readings.py) is one plausible server. Under every reading
the README's "What we assume of the Class API" table says is handled, `class-elt run` loads exactly
the ground truth, and so does the next run after the clock moves on. Under every reading it says is
detected, the run stops with one line naming the class and the endpoint, and leaves the warehouse and
the cursors as they were.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from class_source.cli import main
from class_source.emulator import Emulator, FaultConfig
from class_source.emulator.readings import ApiReadings
from tests.held_endpoint import HOLD_TIMEOUT_S, HeldEndpoint
from tests.reliability_support import local_cursors, script_command, snapshot
from tests.support import assert_matches_truth, table_counts
from tests.test_cli import point_at

DATABASE = "warehouse.duckdb"
RUN = ["run", "--no-models"]
PAGE = 200  # small metrics pages: every class of these schools needs several

HANDLED = {
    "whole seconds (the emulator's own reading)": ApiReadings(),
    "starting_after compares instants": ApiReadings(starting_after="instant"),
    "pages capped below limit": ApiReadings(page_cap=70),
    "limit ignored": ApiReadings(limit_ignored=True),
    "two values at one instant": ApiReadings(same_instant_values=True),
    "every listing repeats a record": ApiReadings(repeated_records=True),
    "validation before scope": ApiReadings(scope_check_order="validation-first"),
    "all of these at once": ApiReadings(
        starting_after="instant", page_cap=90, same_instant_values=True, repeated_records=True,
        scope_check_order="validation-first",
    ),
}


@pytest.mark.parametrize("readings", HANDLED.values(), ids=HANDLED.keys())
def test_exact_under_every_reading_it_handles_and_again_after_the_clock_moves(workdir, monkeypatch, readings):
    emulator = Emulator(seed=31, classes=4, readings=readings)
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key(), metrics_page_size=PAGE)
        assert main(RUN) == 0
        assert_matches_truth(workdir / DATABASE, emulator.school.ground_truth())
        emulator.clock.advance(26 * 3600)  # new sessions, events that end late, past the 24 h lookback
        assert main(RUN) == 0
        truth = emulator.school.ground_truth()
    assert_matches_truth(workdir / DATABASE, truth)
    assert table_counts(workdir / DATABASE)["metrics"] > 4 * PAGE


def test_exact_under_instants_capped_pages_and_faults_together(workdir, monkeypatch):
    readings = ApiReadings(starting_after="instant", page_cap=80, same_instant_values=True)
    emulator = Emulator(seed=32, classes=5, readings=readings, faults=FaultConfig(rate=0.1, retry_after_s=0))
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key(), metrics_page_size=PAGE, request_timeout_s=3)
        assert main(RUN) == 0
        emulator.clock.advance(8 * 3600)
        assert main(RUN) == 0
        truth = emulator.school.ground_truth()
    assert_matches_truth(workdir / DATABASE, truth)
    assert sum(emulator.request_log.faults().values()) >= 5  # the runs really went through faults


def test_a_repeated_record_is_loaded_once_and_said_once(workdir, monkeypatch, capsys):
    emulator = Emulator(seed=33, classes=3, readings=ApiReadings(repeated_records=frozenset({"classes"})))
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        assert main(RUN) == 0
    assert_matches_truth(workdir / DATABASE, emulator.school.ground_truth())
    warnings = [line for line in capsys.readouterr().err.splitlines() if "repeated classes record" in line]
    assert warnings == ["class-elt: WARNING: the API sent 1 repeated classes record(s) (same class_id); each is loaded once"]


DETECTED = {
    "newest first": (ApiReadings(metrics_order="descending"), "not ordered oldest first"),
    "no order at all": (ApiReadings(metrics_order="unordered"), "not ordered oldest first"),
    "starting_after ignored": (ApiReadings(starting_after_ignored=True), "ignores or misreads starting_after"),
}


@pytest.mark.parametrize("readings, reason", DETECTED.values(), ids=DETECTED.keys())
def test_a_reading_it_cannot_page_exactly_stops_in_one_line_and_changes_nothing(workdir, monkeypatch, capsys, readings, reason):
    emulator = Emulator(seed=34, classes=4)
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key(), metrics_page_size=PAGE)
        assert main(RUN) == 0  # loaded under the emulator's own reading
        before, cursors = snapshot(workdir / DATABASE), local_cursors(workdir / "dlt_data")
        emulator.readings = readings  # the server changes its ways
        emulator.clock.advance(8 * 3600)
        capsys.readouterr()
        assert main(RUN) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("class-elt: error: class ") and reason in err[0], err[0]
    assert "/api/v1/reporting/metrics" in err[0] or "metrics endpoint" in err[0]
    assert snapshot(workdir / DATABASE) == before
    assert local_cursors(workdir / "dlt_data") == cursors


def test_the_first_load_from_a_server_it_cannot_page_leaves_no_table_and_no_state(workdir, monkeypatch, capsys):
    emulator = Emulator(seed=35, classes=3, readings=ApiReadings(metrics_order="descending"))
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key(), metrics_page_size=PAGE)
        assert main(RUN) == 1
    assert "not ordered oldest first" in capsys.readouterr().err
    assert local_cursors(workdir / "dlt_data") == {}
    assert not (workdir / DATABASE).exists() or "metrics" not in table_names(workdir / DATABASE)


def table_names(database: Path) -> set[str]:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as con:
        return {row[0] for row in con.execute("select table_name from information_schema.tables").fetchall()}


# --- one run at a time per destination dataset, whoever starts it ------------------------------------


@contextmanager
def a_run_holding_the_dataset(workdir: Path, seed: int, **env: str) -> Iterator[tuple[Emulator, str, str, dict[str, str], subprocess.Popen]]:
    """`class-elt run` in its own process, sitting in its metrics extract (locks taken) while the
    body runs; it must still be running when the body ends, then finish and load the ground truth."""
    emulator = Emulator(seed=seed, classes=3, latency_ms=50)
    metrics = HeldEndpoint(emulator, "/api/v1/reporting/metrics")  # its first request: unanswered until the body is done
    with emulator.serve() as base_url:
        key = emulator.mint_key()
        environment = dict(os.environ, SOURCES__CLASS_API__BASE_URL=base_url, SOURCES__CLASS_API__API_KEY=key, **env)
        # its held request waits for as long as the body takes, however busy the machine
        patient = dict(environment, SOURCES__CLASS_API__REQUEST_TIMEOUT_S=str(HOLD_TIMEOUT_S))
        first = subprocess.Popen(script_command("none", 0, *RUN), env=patient, cwd=workdir,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            metrics.wait_until_reached(first)
            yield emulator, base_url, key, environment, first
            assert first.poll() is None, "the first run ended before the second one was refused"
        finally:
            metrics.release()
            _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert_matches_truth(workdir / DATABASE, emulator.school.ground_truth())


PLAIN_DLT_RUN = (
    "import dlt, sys\n"
    "from class_source import class_source\n"
    "from class_source.cli import expected_failure\n"
    "p = dlt.pipeline(pipeline_name='mine', destination=dlt.destinations.duckdb(sys.argv[1]), dataset_name='class_data')\n"
    "try:\n"
    "    p.run(class_source().with_resources('metrics'))\n"
    "except Exception as exc:\n"
    "    print(expected_failure(exc)); sys.exit(1)\n"
)


def test_while_class_elt_run_holds_a_warehouse_every_other_writer_is_refused(workdir, monkeypatch, capsys):
    """One run holds the warehouse; meanwhile three others try it and are refused in one line each:
    a second working directory, pipelines/class_pipeline.py, and code calling pipeline.run(class_source())
    itself (the metrics resource takes the dataset lock while it reads the cursors)."""
    script = Path(__file__).resolve().parents[1] / "pipelines" / "class_pipeline.py"
    with a_run_holding_the_dataset(workdir, seed=36, DESTINATION__DUCKDB__CREDENTIALS=str(workdir / DATABASE)) as (
        _, base_url, key, environment, first
    ):
        point_at(monkeypatch, base_url, key)
        monkeypatch.setenv("DLT_DATA_DIR", str(workdir / "another_working_dir"))
        capsys.readouterr()
        assert main(RUN) == 1
        pipeline_script = subprocess.run([sys.executable, str(script)], env=environment, cwd=workdir,
                                         capture_output=True, text=True, timeout=300)
        plain = subprocess.run([sys.executable, "-c", PLAIN_DLT_RUN, str(workdir / DATABASE)], env=environment,
                               cwd=workdir, capture_output=True, text=True, timeout=300)
    refused = capsys.readouterr().err.strip().splitlines()
    assert len(refused) == 1, refused
    assert "another class-elt run writing dataset class_data of" in refused[0] and DATABASE in refused[0], refused[0]
    assert f"(pid {first.pid})" in refused[0]
    assert pipeline_script.returncode == 1, pipeline_script.stderr
    lines = pipeline_script.stderr.strip().splitlines()
    assert len(lines) == 1 and "another class-elt run" in lines[0] and "is active" in lines[0], lines
    assert plain.returncode == 1, plain.stdout + plain.stderr
    assert "another class-elt run writing dataset class_data" in plain.stdout, plain.stdout
