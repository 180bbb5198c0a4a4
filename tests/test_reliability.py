"""Nothing lost, nothing leaked (issue 6): SIGKILL anywhere and rerun, a flaky or dead API, the API
key kept secret, one run at a time.

Runs are real `class-elt run` processes against the emulator served on loopback from this process
(so its clock and ground truth are at hand). Crashed runs are forked from one pre-imported
interpreter (tests/reliability_support.py) and die by SIGKILL at a seeded call of a connector or
dlt function, in extract, normalize or load.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import random
import re
import subprocess
import sys
import threading
import uuid
import zlib
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dlt  # noqa: F401 - imported up front: an in-process run must not spend seconds importing it
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from class_source.cli import main
from class_source.emulator import FAULT_KINDS, Emulator, FaultConfig
from tests.held_endpoint import HOLD_TIMEOUT_S, HeldEndpoint
from tests.reliability_support import (
    AIMED_POINTS,
    CRASH_POINTS,
    EXTRACTED,
    NORMALIZED,
    CrashPoint,
    ForkServer,
    RunResult,
    completed_loads,
    dataset_exists,
    destination_cursors,
    files_containing,
    local_cursors,
    newest_events_in_destination,
    newest_events_in_packages,
    pending_packages,
    pipeline_dir,
    script_command,
    snapshot,
)
from tests.support import KEYS, assert_matches_truth, table_counts
from tests.test_destinations import assert_rows_match_truth, postgres_execute, postgres_file_formats, postgres_rows

DATABASE = "warehouse.duckdb"
RUN = ("run", "--no-models")
PROGRESS_LINE = re.compile(r"^\[\s*\d+\.\ds\] extracting: ")
NOTHING_PENDING = {EXTRACTED: [], NORMALIZED: []}
METRICS = "GET /api/v1/reporting/metrics"


@pytest.fixture(scope="module")
def fork_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    with ForkServer(tmp_path_factory.mktemp("fork-server")) as server:
        yield server


def run_env(base_url: str, api_key: str, **options: object) -> dict[str, str]:
    """The environment of a `class-elt` process: this test's (workdir fixture) plus the API settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__CLASS_API__")}
    env["SOURCES__CLASS_API__BASE_URL"] = base_url
    env["SOURCES__CLASS_API__API_KEY"] = api_key
    env.update({f"SOURCES__CLASS_API__{name.upper()}": str(value) for name, value in options.items()})
    return env


def point_at(monkeypatch: pytest.MonkeyPatch, base_url: str, api_key: str, **options: object) -> None:
    """The same settings for an in-process `main()` run."""
    for name, value in run_env(base_url, api_key, **options).items():
        if name.startswith("SOURCES__CLASS_API__"):
            monkeypatch.setenv(name, value)


# --- 1. crash and resume ---------------------------------------------------------------------------

CRASH_SEED = 6
KILLS = 24
MIN_KILLS_PER_PHASE = 6
CLOCK_STEPS = (2 * 3600, 5 * 3600, 11 * 3600, 26 * 3600)  # live sessions, late-ending events, new days
PHASES = ("extract", "normalize", "load")


def _reachable(pending: dict[str, list[str]]) -> tuple[str, ...]:
    """Phases the next run passes through: with pending packages dlt's `run` normalizes/loads them first."""
    if pending[NORMALIZED] and not pending[EXTRACTED]:
        return ("load",)
    if pending[EXTRACTED]:
        return ("normalize", "load")
    return PHASES


def test_killed_anywhere_a_plain_rerun_loads_exactly_the_ground_truth(workdir, fork_server):
    """>= 24 SIGKILLs at seeded points of extract, normalize and load (often several in a row, the
    rerun killed again), the clock moving between rounds; after every kill the committed cursors
    cover only events that reached the destination, and the next clean run completes the pending
    packages and leaves exactly the ground truth, without duplicates."""
    emulator = Emulator(seed=CRASH_SEED, classes=4)
    rng = random.Random(CRASH_SEED)
    data_dir, database = workdir / "dlt_data", workdir / DATABASE
    metrics_at_start = len(emulator.school.ground_truth()["metrics"])
    kills: list[tuple[str, str]] = []
    by_phase: Counter[str] = Counter()
    with emulator.serve() as base_url:
        # the planted events are off every schedule: the activity rule would leave them for their class's
        # next meeting (test_activity.py); here every class is asked every run, so every rerun must be exact
        env = run_env(base_url, emulator.mint_key(), recheck_days=0)
        while len(kills) < KILLS:
            emulator.clock.advance(rng.choice(CLOCK_STEPS))  # the killed run is the first to see new data
            _plant_late_event(emulator, len(kills))  # lands next round, behind the cursor: lookback only
            for _ in range(rng.randint(2, 4)):
                # the reachable phase with the fewest kills so far: all three get their share
                phase = min(_reachable(pending_packages(data_dir)), key=lambda p: (by_phase[p], rng.random()))
                point = rng.choice([p for p in CRASH_POINTS.values() if p.phase == phase])
                n = rng.randint(*point.calls)
                where = f"kill {len(kills) + 1} ({point.name}, call {n})"
                run = fork_server.run(RUN, env=env, cwd=workdir, point=point.name, n=n)
                if not run.killed:  # the point is not on this run's path (a resumed package has fewer jobs)
                    assert run.returncode == 0, f"{where}: the run failed instead: {run.describe()}"
                    continue
                kills.append((point.phase, point.name))
                by_phase[point.phase] += 1
                _assert_left_as_expected(point, data_dir, where)
                _assert_cursors_cover_only_landed_events(data_dir, database, where)
            waiting, initialized = pending_packages(data_dir), dataset_exists(database)
            rerun = fork_server.run(RUN, env=env, cwd=workdir)
            assert rerun.returncode == 0, f"clean rerun after kill {len(kills)}: {rerun.describe()}"
            assert_matches_truth(database, emulator.school.ground_truth())
            if initialized:  # else dlt starts the pipeline over: packages and cursors dropped together
                _assert_loaded_first(waiting, database)
            assert pending_packages(data_dir) == NOTHING_PENDING
            _assert_cursors_at_newest_event(data_dir, database)
    assert all(by_phase[phase] >= MIN_KILLS_PER_PHASE for phase in PHASES), by_phase
    assert len(emulator.school.ground_truth()["metrics"]) > metrics_at_start  # the clock brought new events
    assert len({name for _, name in kills}) >= 10, kills  # and the kills were spread over many points


def _plant_late_event(emulator: Emulator, n: int) -> None:
    """A long event that started 2 h ago and ends in 1 h (listed only then), and a short one that
    ended 10 minutes ago: this round's cursor passes the long one's start, so only the lookback finds
    it once the clock has moved on."""
    school = emulator.school
    class_ids = school.class_ids()
    class_id = class_ids[n % len(class_ids)]
    student = next(r["student_id"] for r in school.ground_truth()["enrollments"] if r["class_id"] == class_id)
    now = emulator.clock.now
    school.add_events(class_id, [
        {"student_id": student, "event_type": "PRESENTING", "event_value": "true",
         "event_start": (now - 2 * 3600) * 1000 + 123, "event_end": (now + 3600) * 1000 + 123},
        {"student_id": student, "event_type": "RAISED_HAND", "event_value": "1",
         "event_start": (now - 600) * 1000 + 456, "event_end": (now - 590) * 1000 + 456},
    ])


def _assert_left_as_expected(point: CrashPoint, data_dir: Path, where: str) -> None:
    """The kill really landed in its phase: the packages it leaves are those of that phase."""
    left = {kind for kind, load_ids in pending_packages(data_dir).items() if load_ids}
    assert left == set(point.leaves), f"{where}: pending packages {left}, expected {set(point.leaves)}"


def _assert_cursors_cover_only_landed_events(data_dir: Path, database: Path, where: str) -> None:
    """The committed cursors (the destination's newest state, as dlt restores it) never pass the
    newest event of their class in the metrics table. The local state file may be ahead only by a
    pending package that carries those events (dlt saves local state with each extracted package
    and restores it if that package is aborted)."""
    landed = newest_events_in_destination(database)
    for class_id, cursor in destination_cursors(database).items():
        assert cursor <= landed.get(class_id, -1), (
            f"{where}: committed cursor of class {class_id} is {cursor}, newest event in the destination "
            f"{landed.get(class_id)}"
        )
    waiting = newest_events_in_packages(data_dir)
    for class_id, cursor in local_cursors(data_dir).items():
        covered = max(landed.get(class_id, -1), waiting.get(class_id, -1))
        assert cursor <= covered, (
            f"{where}: local cursor of class {class_id} is {cursor}, but the destination has events up to "
            f"{landed.get(class_id)} and pending packages up to {waiting.get(class_id)}"
        )


def _assert_loaded_first(waiting: dict[str, list[str]], database: Path) -> None:
    """Packages pending before a run are committed by it, before any package it extracted itself."""
    loads = completed_loads(database)
    for load_id in waiting[EXTRACTED] + waiting[NORMALIZED]:
        assert load_id in loads, f"pending package {load_id} was not loaded by the rerun"
        later = [other for other in loads if other > load_id]
        assert all(loads[other] >= loads[load_id] for other in later), (load_id, loads)


def _assert_cursors_at_newest_event(data_dir: Path, database: Path) -> None:
    """After a clean run the committed cursors sit on the newest event of each class. The local state
    may lag (a package extracted by a run killed before it saved its state, loaded since): dlt
    restores the destination's newer state at the next run; it must never be ahead."""
    landed = newest_events_in_destination(database)
    assert destination_cursors(database) == landed
    local = local_cursors(data_dir)
    assert all(cursor <= landed.get(class_id, -1) for class_id, cursor in local.items()), (local, landed)


def test_the_rerun_after_a_load_crash_loads_the_interrupted_package_then_what_is_new(workdir, fork_server):
    """A run killed while loading leaves a package; the next scheduled run, hours later, must load it
    *and* what the API has now: exit 0, the stranded package first, the warehouse at the new truth."""
    emulator = Emulator(seed=21, classes=3)
    data_dir, database = workdir / "dlt_data", workdir / DATABASE
    with emulator.serve() as base_url:
        env = run_env(base_url, emulator.mint_key())
        assert fork_server.run(RUN, env=env, cwd=workdir).returncode == 0
        emulator.clock.advance(5 * 3600)
        killed = fork_server.run(RUN, env=env, cwd=workdir, point="load_job", n=3)
        assert killed.killed, killed.describe()
        stranded = pending_packages(data_dir)
        assert len(stranded[NORMALIZED]) == 1 and not stranded[EXTRACTED]

        truth_at_the_kill = emulator.school.ground_truth()
        emulator.clock.advance(26 * 3600)  # the next day's run: the API has more to give
        truth = emulator.school.ground_truth()
        assert len(truth["metrics"]) > len(truth_at_the_kill["metrics"])
        rerun = fork_server.run(RUN, env=env, cwd=workdir)
        assert rerun.returncode == 0, rerun.describe()
        assert "Traceback" not in rerun.stderr
        _assert_loaded_first(stranded, database)
        assert pending_packages(data_dir) == NOTHING_PENDING
        assert_matches_truth(database, truth)
        _assert_cursors_at_newest_event(data_dir, database)


UNTOUCHED_BY_THE_KILL = {  # tables whose load the kill interrupted (or never started)
    "normalize_committed": ("classes", "metrics"),
    "classes_copied": ("classes",),
    "classes_replace_half_done": ("classes",),
    "metrics_merge_half_done": ("metrics",),
}


@pytest.mark.parametrize("point", sorted(UNTOUCHED_BY_THE_KILL))
def test_a_kill_inside_a_dlt_commit_step_is_recovered_without_loss_or_duplicates(workdir, fork_server, point):
    """Kills aimed at the narrow steps where dlt moves a package or a table from one state to the next:
    - normalize_committed: the normalized package renamed into place, the extracted one not yet deleted;
    - classes_copied: `classes` copied into the staging dataset, dlt killed before recording it;
    - classes_replace_half_done / metrics_merge_half_done: inside the replace of `classes` / the merge
      of `metrics`, between its DELETE and its INSERT.
    The destination must show each table either before or after its load, never in between, the
    committed cursors must stay covered, and a rerun must end at the ground truth."""
    crash_point = {**CRASH_POINTS, **AIMED_POINTS}[point]
    emulator = Emulator(seed=22, classes=3)
    data_dir, database = workdir / "dlt_data", workdir / DATABASE
    with emulator.serve() as base_url:
        env = run_env(base_url, emulator.mint_key())
        assert fork_server.run(RUN, env=env, cwd=workdir).returncode == 0
        before = snapshot(database)
        emulator.clock.advance(8 * 3600)  # the killed run has new events and moves the cursors
        killed = fork_server.run(RUN, env=env, cwd=workdir, point=point, n=1)
        assert killed.killed, killed.describe()
        _assert_left_as_expected(crash_point, data_dir, point)
        _assert_cursors_cover_only_landed_events(data_dir, database, point)
        after_kill = snapshot(database)
        for table in UNTOUCHED_BY_THE_KILL[point]:  # each table's load is atomic (not the package's)
            assert after_kill[table] == before[table], f"{table} changed by an uncommitted load ({point})"

        rerun = fork_server.run(RUN, env=env, cwd=workdir)
        assert rerun.returncode == 0, rerun.describe()
        assert pending_packages(data_dir) == NOTHING_PENDING
        assert_matches_truth(database, emulator.school.ground_truth())


FIRST_LOAD_KILLS = {
    "metrics copied to staging, not recorded": ("metrics_job_done", 1),
    "metrics merge between its DELETE and INSERT": ("metrics_merge_half_done", 1),
    "metrics merged and committed, not recorded": ("metrics_job_done", 2),
    "rosters copied to staging, not recorded": ("enrollments_copied", 1),
}


@pytest.mark.parametrize("point, n", FIRST_LOAD_KILLS.values(), ids=FIRST_LOAD_KILLS.keys())
def test_a_kill_inside_a_first_load_job_is_exact_after_one_rerun(workdir, fork_server, point, n):
    """The very first load is as safe as any other: killed inside its metrics job, before or after the
    rows commit, or right after its roster copy into the staging dataset, one rerun leaves exactly the
    ground truth (dlt retries the job: it must not append twice). Rosters matter here because dlt's
    scd2 insert does not deduplicate staging: only the copy ledger (duckdb_load.py) keeps a rerun copy
    from landing the first roster twice."""
    emulator = Emulator(seed=23, classes=3)
    database = workdir / DATABASE
    with emulator.serve() as base_url:
        env = run_env(base_url, emulator.mint_key())
        killed = fork_server.run(RUN, env=env, cwd=workdir, point=point, n=n)
        assert killed.killed, killed.describe()
        rerun = fork_server.run(RUN, env=env, cwd=workdir)
        assert rerun.returncode == 0, rerun.describe()
    assert_matches_truth(database, emulator.school.ground_truth())


# --- 1b. the same kills on Postgres ------------------------------------------------------------------
# Postgres copies through its own jobs (ADBC parquet or csv COPY, each with its ledger row), merges in
# one transaction, and on a first load adopts the staged table instead of copying its rows
# (class_source/postgres_load.py): every kill around them must leave metrics exact after one rerun.


@pytest.fixture
def postgres_dataset(postgres_url: str) -> Iterator[str]:
    name = f"class_kill_{uuid.uuid4().hex[:10]}"
    yield name
    postgres_execute(postgres_url, f'drop schema if exists "{name}" cascade; drop schema if exists "{name}_staging" cascade')


def _postgres_run(dataset: str) -> tuple[str, ...]:
    return (*RUN, "--destination", "postgres", "--dataset-name", dataset)


def _postgres_env(base_url: str, api_key: str, postgres_url: str) -> dict[str, str]:
    return {**run_env(base_url, api_key), "DESTINATION__POSTGRES__CREDENTIALS": postgres_url}


POSTGRES_FIRST_LOAD_KILLS = {
    "metrics copied to staging, not recorded": ("metrics_job_done", 1),
    "metrics merge (the staged table adopted) after its DELETE": ("postgres_metrics_merge_half_done", 1),
    "metrics merged and committed, not recorded": ("metrics_job_done", 2),
    "rosters copied to staging, not recorded": ("enrollments_copied", 1),
}


@pytest.mark.postgres
@pytest.mark.parametrize("point, n", POSTGRES_FIRST_LOAD_KILLS.values(), ids=POSTGRES_FIRST_LOAD_KILLS.keys())
def test_a_kill_inside_a_first_load_job_on_postgres_is_exact_after_one_rerun(
    workdir, fork_server, postgres_url, postgres_dataset, point, n
):
    """As on DuckDB: the first load killed inside its metrics job, before or after the rows commit, or
    right after its roster copy into staging, and one rerun leaves exactly the ground truth (the
    Postgres copy ledger keeps the rerun from landing the first roster twice)."""
    emulator = Emulator(seed=23, classes=3)
    with emulator.serve() as base_url:
        env = _postgres_env(base_url, emulator.mint_key(), postgres_url)
        killed = fork_server.run(_postgres_run(postgres_dataset), env=env, cwd=workdir, point=point, n=n)
        assert killed.killed, killed.describe()
        rerun = fork_server.run(_postgres_run(postgres_dataset), env=env, cwd=workdir)
        assert rerun.returncode == 0, rerun.describe()
    assert_rows_match_truth(lambda table: postgres_rows(postgres_url, postgres_dataset, table), emulator.school.ground_truth())


POSTGRES_INCREMENTAL_KILLS = {  # the point, its call, the table the kill must leave as it was (None: any)
    "metrics copied to staging, not recorded": ("metrics_job_done", 1, "metrics"),
    "metrics merge after its DELETE": ("postgres_metrics_merge_half_done", 1, "metrics"),
    "metrics merged and committed, not recorded": ("metrics_job_done", 2, None),
    "classes replace after its DELETE": ("postgres_classes_replace_half_done", 1, "classes"),
}


def _postgres_table(postgres_url: str, dataset: str, table: str) -> list[tuple[Any, ...]]:
    return sorted((tuple(row.values()) for row in postgres_rows(postgres_url, dataset, table)), key=repr)


@pytest.mark.postgres
@pytest.mark.parametrize("point, n, untouched", POSTGRES_INCREMENTAL_KILLS.values(), ids=POSTGRES_INCREMENTAL_KILLS.keys())
def test_a_kill_inside_an_incremental_load_on_postgres_is_recovered_exactly(
    workdir, fork_server, postgres_url, postgres_dataset, point, n, untouched
):
    """An incremental run (new events, re-read ones, a class gone) killed around its metrics copy and
    merge and inside a replace: the table is as before until its load commits (each table's load is
    one transaction), and one rerun leaves exactly the ground truth."""
    emulator = Emulator(seed=22, classes=3)
    run = _postgres_run(postgres_dataset)
    with emulator.serve() as base_url:
        env = _postgres_env(base_url, emulator.mint_key(), postgres_url)
        assert fork_server.run(run, env=env, cwd=workdir).returncode == 0
        before = _postgres_table(postgres_url, postgres_dataset, untouched) if untouched else None
        emulator.clock.advance(8 * 3600)  # the killed run has new events and re-reads the lookback
        emulator.school.delete_template(emulator.school.ground_truth()["templates"][0]["template_id"])
        killed = fork_server.run(run, env=env, cwd=workdir, point=point, n=n)
        assert killed.killed, killed.describe()
        if untouched:
            assert _postgres_table(postgres_url, postgres_dataset, untouched) == before, f"{untouched} changed by an uncommitted load"
        rerun = fork_server.run(run, env=env, cwd=workdir)
        assert rerun.returncode == 0, rerun.describe()
        assert pending_packages(workdir / "dlt_data") == NOTHING_PENDING
    assert_rows_match_truth(lambda table: postgres_rows(postgres_url, postgres_dataset, table), emulator.school.ground_truth())


@pytest.mark.postgres
def test_without_the_adbc_driver_postgres_copies_csv_and_a_kill_after_the_metrics_copy_is_exact(
    workdir, fork_server, postgres_url, postgres_dataset
):
    """Without ADBC (dlt told not to find it) the tables load as csv through dlt's own COPY, which has
    no ledger: their merges keep dlt's staging dedupe, so a copy run twice after a kill is still exact."""
    emulator = Emulator(seed=24, classes=3)
    run = _postgres_run(postgres_dataset)
    with emulator.serve() as base_url:
        env = {**_postgres_env(base_url, emulator.mint_key(), postgres_url), "DISABLE_ADBC_DETECTION": "true"}
        assert fork_server.run(run, env=env, cwd=workdir).returncode == 0
        emulator.clock.advance(8 * 3600)
        killed = fork_server.run(run, env=env, cwd=workdir, point="metrics_job_done", n=1)
        assert killed.killed, killed.describe()
        rerun = fork_server.run(run, env=env, cwd=workdir)
        assert rerun.returncode == 0, rerun.describe()
    assert postgres_file_formats(workdir / "dlt_data" / "pipelines")["metrics"] == {"csv", "sql"}
    assert_rows_match_truth(lambda table: postgres_rows(postgres_url, postgres_dataset, table), emulator.school.ground_truth())


# --- 2. chaos --------------------------------------------------------------------------------------


def test_a_fifth_of_requests_failing_in_every_way_still_loads_exactly_the_ground_truth(workdir, monkeypatch):
    """20% of requests fail (500, 503, 429 with Retry-After, dropped connections, truncated bodies,
    bodies cut short with a valid Content-Length, answers slower than the client timeout) - over
    real HTTP, for a first load and an incremental one - and the tables equal the ground truth."""
    faults = FaultConfig(rate=0.2, kinds={kind: 1.0 for kind in FAULT_KINDS}, retry_after_s=0, slow_s=3.0)
    faults.script("*", FAULT_KINDS)  # every kind at least once, whatever the draw
    emulator = Emulator(seed=9, classes=5, faults=faults)
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key(), request_timeout_s=1, metrics_page_size=250)
        assert main(list(RUN)) == 0
        assert_matches_truth(workdir / DATABASE, emulator.school.ground_truth())
        emulator.clock.advance(8 * 3600)
        assert main(list(RUN)) == 0
        assert_matches_truth(workdir / DATABASE, emulator.school.ground_truth())
    injected = emulator.request_log.faults()
    assert set(injected) == set(FAULT_KINDS), injected
    share = sum(injected.values()) / emulator.request_log.total
    assert 0.12 <= share <= 0.35, (share, injected)  # the runs really went through a fifth failing


def test_api_down_beyond_the_retry_budget_fails_in_one_line_and_changes_nothing(workdir, monkeypatch):
    """The metrics endpoint goes down in the middle of an incremental run (two pages served, then
    503 for good): `class-elt run` exits 1 with one `class-elt: error:` line and no traceback; the
    tables, the dlt state (local and in the destination) are exactly as before; the next run, API
    back, loads the ground truth."""
    emulator = Emulator(seed=10, classes=4, faults=FaultConfig(retry_after_s=0))
    data_dir, database = workdir / "dlt_data", workdir / DATABASE
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        assert main(list(RUN)) == 0
        emulator.clock.advance(8 * 3600)  # new events: a partial commit would show in tables and cursors
        tables_before = snapshot(database)
        state_before = (pipeline_dir(data_dir) / "state.json").read_bytes()
        # two pages get through, then the endpoint is down
        emulator.faults.script(METRICS, ["none"] * 2 + ["503"] * 500)

        env = run_env(base_url, emulator.mint_key(), max_retries=2, recheck_days=0)  # every class asked: pages to fail on
        done = subprocess.run([sys.executable, "-m", "class_source.cli", *RUN], env=env, cwd=workdir,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 1, done.stderr
        lines = done.stderr.splitlines()
        errors = [line for line in lines if line.startswith("class-elt: error:")]
        assert len(errors) == 1, done.stderr
        assert "/reporting/metrics" in errors[0] and "503" in errors[0] and "unavailable" in errors[0], errors
        assert "Traceback" not in done.stderr
        assert [line for line in lines if line not in errors and not PROGRESS_LINE.match(line)] == [], done.stderr
        assert emulator.request_log.faults().get("503", 0) >= 3  # it failed because the API did

        assert snapshot(database) == tables_before
        assert (pipeline_dir(data_dir) / "state.json").read_bytes() == state_before
        assert pending_packages(data_dir) == NOTHING_PENDING

        emulator.faults.scripted.clear()
        assert main(list(RUN)) == 0
        assert_matches_truth(database, emulator.school.ground_truth())


# --- 3. secrets ------------------------------------------------------------------------------------


def test_the_leak_scanner_finds_a_secret_however_it_is_stored(tmp_path):
    """The scanner the secrets test relies on sees through gzip, parquet, DuckDB and dlt's
    compressed state, so its silence means something."""
    secret = "sk-live-0123456789abcdef"
    (tmp_path / "plain.log").write_text(f"Authorization: Bearer {secret}")
    (tmp_path / "job.insert_values.gz").write_bytes(gzip.compress(f"('{secret}')".encode()))
    pq.write_table(pa.table({"value": [secret] * 1000}), tmp_path / "items.parquet", compression="zstd")
    state = base64.b64encode(zlib.compress(json.dumps({"api_key": secret}).encode())).decode()
    (tmp_path / "state.sql").write_text(f"INSERT INTO _dlt_pipeline_state VALUES ('{state}')")
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create table t as select ? || range::varchar as v from range(5000)", [secret])
    (tmp_path / "clean.txt").write_text("nothing here")
    found = files_containing(secret, tmp_path)
    assert sorted(found) == ["items.parquet", "job.insert_values.gz", "plain.log", "state.sql", "w.duckdb"]


def test_the_api_key_never_lands_in_output_logs_state_packages_or_the_destination(workdir, fork_server):
    """After a successful run through faults (verbose connector logs, dlt logging at INFO), a run
    that fails (API down) and a run SIGKILLed while loading, the key is in no captured output and
    in no file under the working directory (dlt data dir: state, traces, load packages, pending
    ones; the DuckDB warehouse)."""
    faults = FaultConfig(rate=0.2, kinds={kind: 1.0 for kind in FAULT_KINDS}, retry_after_s=0, slow_s=3.0)
    emulator = Emulator(seed=14, classes=3, faults=faults)
    key = emulator.mint_key()
    data_dir = workdir / "dlt_data"
    outputs: list[RunResult] = []
    with emulator.serve() as base_url:
        env = run_env(base_url, key, request_timeout_s=1, max_retries=8)
        verbose = {**env, "CLASS_ELT_VERBOSE": "1", "RUNTIME__LOG_LEVEL": "INFO"}
        ok = fork_server.run(RUN, env=verbose, cwd=workdir)
        assert ok.returncode == 0, ok.describe()
        assert "retry" in ok.stderr  # the verbose log really logged failed requests
        outputs.append(ok)
        _assert_no_leak(key, workdir, outputs, "after a successful run")

        emulator.faults.rate, emulator.faults.kinds = 1.0, {"503": 1.0}
        down = fork_server.run(RUN, env={**verbose, "SOURCES__CLASS_API__MAX_RETRIES": "1"}, cwd=workdir)
        assert down.returncode == 1 and "class-elt: error:" in down.stderr, down.describe()
        outputs.append(down)
        _assert_no_leak(key, workdir, outputs, "after a failed run")

        emulator.faults.rate = 0.0
        emulator.clock.advance(6 * 3600)
        crashed = fork_server.run(RUN, env=verbose, cwd=workdir, point="load_job", n=4)
        assert crashed.killed, crashed.describe()
        assert pending_packages(data_dir)[NORMALIZED]  # a package with data and state is on disk
        outputs.append(crashed)
        _assert_no_leak(key, workdir, outputs, "after a SIGKILLed run")


def _assert_no_leak(key: str, root: Path, outputs: list[RunResult], when: str) -> None:
    for run in outputs:
        assert key not in run.stdout and key not in run.stderr, when
    files = [p for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".duckdb" for p in files) and any(p.name == "state.json" for p in files)
    assert files_containing(key, root) == [], when


class _Recorder(BaseHTTPRequestHandler):
    """The other host: records whatever reaches it."""

    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        body = b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _redirector(target: str) -> type[BaseHTTPRequestHandler]:
    class Redirect(BaseHTTPRequestHandler):
        """The configured base URL: answers every request with a redirect to `target`, cycling 30x codes."""

        codes = iter([301, 302, 303, 307, 308] * 1000)

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(next(type(self).codes))
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    return Redirect


def _serving(handler: type[BaseHTTPRequestHandler], host: str) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("command", [list(RUN), ["check"]])
def test_a_redirect_to_another_host_is_not_followed_and_fails_in_one_line(workdir, monkeypatch, capsys, command):
    """The base URL answers 30x pointing at another host: no request reaches that host (so the
    Authorization header cannot), and `run` - or `check`, which must not call the key accepted -
    fails with one line saying why."""
    _Recorder.seen = []
    other = _serving(_Recorder, "127.0.0.2")  # another loopback address: another host
    base = _serving(_redirector(f"http://127.0.0.2:{other.server_address[1]}"), "127.0.0.1")
    key = "class-key-that-must-stay-home"
    try:
        point_at(monkeypatch, f"http://127.0.0.1:{base.server_address[1]}", key, max_retries=0)
        assert main(command) == 1
    finally:
        base.shutdown()
        other.shutdown()
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("class-elt: error:")]
    assert len(errors) == 1 and "redirect" in errors[0], err
    assert "Traceback" not in err and key not in err
    assert _Recorder.seen == []


# --- 4. one run at a time --------------------------------------------------------------------------


def test_a_second_run_of_the_same_pipeline_is_refused_while_the_first_is_running(workdir, monkeypatch, capsys):
    """While a slow `class-elt run` is loading, a second one on the same pipeline exits 1 with one
    line naming the pipeline and the running pid; the first still loads the ground truth."""
    emulator = Emulator(seed=13, classes=4, latency_ms=100)
    metrics = HeldEndpoint(emulator, "/api/v1/reporting/metrics")  # the first run sits in metrics until released
    with emulator.serve() as base_url:
        key = emulator.mint_key()
        first = subprocess.Popen(script_command("none", 0, *RUN), env=run_env(base_url, key, request_timeout_s=HOLD_TIMEOUT_S),
                                 cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            metrics.wait_until_reached(first)  # reading metrics: the lock is held
            point_at(monkeypatch, base_url, key)
            assert main(list(RUN)) == 1
            assert first.poll() is None, "the first run ended before the second one was refused"
        finally:
            metrics.release()
            out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    refused = capsys.readouterr().err.strip().splitlines()
    assert len(refused) == 1, refused
    assert refused[0].startswith("class-elt: error: another class-elt run of pipeline 'class_elt' is active")
    assert f"(pid {first.pid})" in refused[0]
    assert_matches_truth(workdir / DATABASE, emulator.school.ground_truth())
    assert table_counts(workdir / DATABASE)["metrics"] > 0
