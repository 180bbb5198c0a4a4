"""Smoke runs of the benchmark harnesses (benchmarks/run.py, benchmarks/cpu.py): tiny school, no
latency. They check that what the harness reports is consistent, never how fast anything is."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from class_source.emulator import Emulator

pytestmark = pytest.mark.benchmark  # `-m "not benchmark"` leaves them out of a quick local run; the suite runs them

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS = REPO / "benchmarks"
CLASSES = 3


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    sys.path.insert(0, str(BENCHMARKS))  # run.py imports peer.py by name, as it does when run as a script
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Both harnesses, started together (they only share the CPU), as a user runs them."""
    out = tmp_path_factory.mktemp("bench")
    commands = {
        "run": [sys.executable, str(BENCHMARKS / "run.py"), "--classes", str(CLASSES), "--latency-ms", "0",
                "--quiet", "--json", str(out / "run.json")],
        "cpu": [sys.executable, str(BENCHMARKS / "cpu.py"), "--events", "3000", "--event-scale", "1",
                "--json", str(out / "cpu.json")],
    }
    running = {name: subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name, cmd in commands.items()}
    results = {}
    for name, proc in running.items():
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"benchmarks/{name}.py failed:\n{stderr[-3000:]}"
        results[name] = {"stdout": stdout, **json.loads((out / f"{name}.json").read_text())}
    return results


def test_table_has_every_column_and_scenario(reports):
    run = _module("run")
    stdout = reports["run"]["stdout"]
    header = next(line for line in stdout.splitlines() if line.startswith("scenario"))
    for column in run.COLUMNS:
        assert column in header, f"column {column!r} missing from the table header: {header}"
    names = [s["name"] for s in reports["run"]["scenarios"]]
    assert names == ["ours full", "peer full", "ours incremental", "peer incremental"]
    for name in names:
        assert any(line.startswith(name) for line in stdout.splitlines()), f"no table row for {name}"
    assert "targets:" in stdout and "machine:" in stdout
    for report in reports.values():  # both harnesses time the same fixed work at their start and end
        assert len(report["machine"]["speed_check_s"]) == 2 and all(s > 0 for s in report["machine"]["speed_check_s"])
        assert "speed check: " in report["stdout"]
    assert "requests at the server" in reports["run"]["stdout"]
    for scenario in reports["run"]["scenarios"]:  # every request the emulator answered is on the timeline
        assert scenario["timeline"]["span_s"] > 0 and scenario["timeline"]["mean_at_server"] > 0


def test_our_loads_equal_the_ground_truth(reports):
    for scenario in reports["run"]["scenarios"]:
        if scenario["kind"] != "ours":
            continue
        for table, check in scenario["truth"].items():
            assert check["missing"] == check["extra"] == check["duplicates"] == 0, (scenario["name"], table, check)
            assert check["truth"] == check["loaded"], (scenario["name"], table, check)
    full = next(s for s in reports["run"]["scenarios"] if s["name"] == "ours full")
    # a first load extracts every row exactly once: dlt's normalize counts equal the truth's
    assert full["rows"] == {table: check["truth"] for table, check in full["truth"].items()}


def test_request_counts_come_from_the_emulator_and_match_the_peer_by_hand(reports):
    report = reports["run"]
    scenarios = {s["name"]: s for s in report["scenarios"]}
    for scenario in scenarios.values():
        assert scenario["requests"] > 0
        assert scenario["requests"] == sum(scenario["by_endpoint"].values())
        assert scenario["floor_s"] == 0  # no latency, no floor
    # the peer asks once per listing, once for users (< 1,000) and templates, and once per regular
    # class for each of enrollments, schedules, attendance and metrics
    regular = scenarios["ours full"]["truth"]["classes"]["truth"]
    assert scenarios["peer full"]["requests"] == 2 + 1 + 1 + 4 * regular
    assert scenarios["peer full"]["by_endpoint"]["GET /api/v1/reporting/metrics"] == regular
    # ours: one roster and one schedule request per class, regular and deferred
    every = regular + scenarios["ours full"]["truth"]["deferred_classes"]["truth"]
    for name in ("ours full", "ours incremental"):
        assert scenarios[name]["by_endpoint"]["GET /api/v1/class/enrollments"] >= every


def test_peer_losses_are_reported_not_hidden(reports):
    report = reports["run"]
    peer = next(s for s in report["scenarios"] if s["name"] == "peer full")
    # one page of 1,000 per class: exactly the events beyond each class's first 1,000 are missing
    assert peer["truth"]["metrics"]["missing"] == report["stats"]["beyond_first_page"]
    assert peer["truth"]["classes"]["missing"] == 0
    # deferred classes' rosters are never requested by the peer
    deferred_rosters = peer["truth"]["enrollments"]["missing"]
    assert deferred_rosters > 0
    losses = report["peer_losses"]
    incremental = next(s for s in report["scenarios"] if s["name"] == "peer incremental")
    assert sum(losses[k] for k in ("behind_cursor_old", "behind_cursor_late", "ahead_of_cursor")) == \
        incremental["truth"]["metrics"]["missing"]
    assert "dlt-hub/dlt#2429" in report["stdout"]


def test_targets_are_all_evaluated(reports):
    targets = [t["target"] for t in reports["run"]["targets"]]
    # (the latency-floor target needs a latency: at 0 ms there is no floor to compare with)
    assert any(t.startswith("incremental run <=") for t in targets)
    assert any(t.startswith(">= 8x faster than the peer") for t in targets)
    assert sum(t.endswith("warehouse equals the ground truth") for t in targets) == 2
    assert all(isinstance(t["met"], bool) for t in reports["run"]["targets"])


def test_cpu_benchmark_loads_every_event_once_and_drains_the_same_pages(reports):
    (result,) = reports["cpu"]["results"]
    assert result["visible_events"] == result["loaded"] == result["in_table"] > 0
    # the drain replays the connector's own paging: the same metrics requests (none spent on scopes)
    assert result["drain_requests"] == result["metrics_requests"]
    assert result["peak_rss_bytes"] >= result["baseline_rss_bytes"] > 0
    assert "events/s" in reports["cpu"]["stdout"]


def test_truth_export_metrics_equal_the_emulators_ground_truth(tmp_path):
    run = _module("run")
    emulator = Emulator(seed=3, classes=4)
    columnar = run.metrics_truth(emulator).to_pylist()
    expected = [
        (row["class_id"], row["student_id"], row["event_type"], row["event_start"], row["event_value"])
        for row in emulator.school.ground_truth()["metrics"]
    ]
    got = [(r["class_id"], r["student_id"], r["event_type"], r["event_start"].isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"), r["event_value"]) for r in columnar]
    assert len(got) > 0 and sorted(got) == sorted(expected)
    rows = run.export_truth(emulator, tmp_path / "truth.duckdb", "t0")
    truth = emulator.school.ground_truth()
    assert rows == {table: len(truth[table]) for table in run.WAREHOUSE_TABLES} | {"meetings": len(truth["schedules"])}


def test_incremental_budget_counts_the_classes_the_readmes_rule_may_ask_worked_by_hand(tmp_path):
    """Six classes around one school day (read at R, now N = R + 24 h), each placed by hand on one side
    or the other of the README's rule: asked if new, or a schedule entry from an hour before its start
    to an hour after its end overlaps [R, N]; and each asked class's metrics pages counted from its
    cursor's second less the 24 h lookback (the connector asks starting_after = that second - 1)."""
    import duckdb

    run = _module("run")
    read_at, day = 1_700_000_000, 86_400
    now = read_at + day
    meetings = [
        ("A", read_at + 3_600, read_at + 7_200),  # meets in the window: asked
        ("B", read_at - 7_200, read_at - 3_600),  # ended exactly an hour before the last read: asked (runs over)
        ("C", read_at - 10_800, read_at - 3_601),  # ended just over an hour before it: not asked
        ("D", now + 3_600, now + 7_200),  # starts exactly an hour after now: asked (joins early)
        ("E", now + 3_601, now + 7_200),  # starts just over an hour after now: not asked
    ]  # F: new since the last read, no schedule: asked
    a_cursor, b_cursor = read_at - 100, read_at - 2 * day
    t0_events = (
        [("A", a_cursor), ("A", a_cursor - day)]  # A's oldest event is exactly at the lookback's edge: re-read
        + [("B", b_cursor - day - 1 - i) for i in range(1_000)] + [("B", b_cursor)]  # 1,000 before B's lookback
        + [("C", read_at - 9_000)]
    )
    t1_events = t0_events + [("A", read_at + 4_000 + i) for i in range(998)] + [("F", now - 60 + i) for i in range(10)]
    with duckdb.connect(str(tmp_path / "truth.duckdb")) as con:
        for tag, classes, events in (("t0", "ABCDE", t0_events), ("t1", "ABCDEF", t1_events)):
            con.execute(f"create table {tag}_classes as select unnest(?::varchar[]) class_id", [list(classes)])
            con.execute(f"create table {tag}_deferred_classes as select 'Z' class_deferred_id")
            con.execute(f"create table {tag}_users as select 1 id")
            con.execute(f"create table {tag}_attendance (class_id varchar, session_id varchar, student_id varchar)")
            con.execute(f"create table {tag}_meetings (class_id varchar, start_s bigint, end_s bigint)")
            con.executemany(f"insert into {tag}_meetings values (?, ?, ?)", meetings)
            con.execute(f"create table {tag}_metrics (class_id varchar, student_id varchar, event_type varchar, "
                        "event_start timestamptz, event_value varchar)")
            con.executemany(f"insert into {tag}_metrics values (?, 's', 'chat', to_timestamp(?), '')", events)
    stats = run.truth_stats(tmp_path / "truth.duckdb", read_at, now)
    assert stats["rule_classes"] == 4  # A, B, D, F
    # A: its 2 old events (the one at the lookback's edge included) and 998 new ones, 1,000 in all: a full
    # page, then an empty one. B: only its cursor's event (the 1,000 before are outside the lookback).
    # D: nothing. F: read whole, 10 events. One page each.
    assert stats["rule_pages"] == 2 + 1 + 1 + 1
    assert stats["active_classes"] == 2 and stats["classes"] == 7  # A and F had new events; 6 classes + 1 deferred
    # a week or more since the last read: every class is asked
    assert run.truth_stats(tmp_path / "truth.duckdb", now - 7 * day, now)["rule_classes"] == 6


def test_the_request_timeline_is_read_off_arrivals_and_answers_worked_by_hand():
    run = _module("run")
    # two slots; four requests: [arrived, answered] seconds on one clock
    timeline = run.request_timeline([[0.0, 1.0], [0.1, 1.1], [1.0, 2.0], [1.1, 2.5]], concurrency=2)
    assert timeline["span_s"] == pytest.approx(2.5)
    assert timeline["head_s"] == pytest.approx(0.1)  # two at the server from the second arrival
    assert timeline["tail_s"] == pytest.approx(0.5)  # until the third answer, at 2.0
    assert timeline["mean_at_server"] == pytest.approx((1.0 + 1.0 + 1.0 + 1.4) / 2.5)
    assert timeline["server_ms"] == pytest.approx(1000 * 4.4 / 4)
    assert run.request_timeline([], concurrency=2) == {}


def test_latency_floor_is_the_larger_of_throughput_and_chain():
    run = _module("run")
    assert run.latency_floor(1600, 7, 0.05, 16) == pytest.approx(5.0)  # 1600 x 50 ms / 16
    assert run.latency_floor(10, 7, 0.05, 16) == pytest.approx(0.35)  # 7 sequential pages x 50 ms


def test_cpu_targets_are_issue_16s_each_met_or_missed_with_its_figures():
    cpu = _module("cpu")
    gib = 2**30

    def result(destination: str, events: int, wall_s: float, peak: float) -> dict:
        return {"destination": destination, "events_target": events, "visible_events": events, "loaded": events,
                "in_table": events, "wall_s": wall_s, "baseline_rss_bytes": int(0.25 * gib), "peak_rss_bytes": int(peak * gib)}

    targets = {t["target"]: t for t in cpu.targets([
        result("duckdb", 1_000_000, 5.0, 0.5),
        result("duckdb", 5_000_000, 20.0, 0.9),  # 250,000 events/s
        result("duckdb", 20_000_000, 80.0, 1.5),
        result("postgres", 5_000_000, 20.0, 2.0),  # 250,000 events/s
    ])}
    assert not targets[">= 300,000 metric events/s into duckdb (exact path, emulator included)"]["met"]
    assert "250,000 events/s at 5,000,000 events" in targets[">= 300,000 metric events/s into duckdb (exact path, emulator included)"]["value"]
    assert targets[">= 200,000 metric events/s into postgres (exact path, emulator included)"]["met"]
    assert targets["duckdb 5,000,000: peak RSS <= 1 GiB"]["met"]
    assert not targets["duckdb 20,000,000: peak RSS <= 1 GiB"]["met"]
    assert "1,536 MiB whole process" in targets["duckdb 20,000,000: peak RSS <= 1 GiB"]["value"]
    assert "duckdb 1,000,000: peak RSS <= 1 GiB" not in targets  # defined at 5 M and 20 M
    # loader's share: 0.25 GiB at 1 M -> 1.25 GiB at 20 M, 5x for 20x the events: not flat
    assert not targets["peak RSS flat in the event count (loader's share, peak - baseline)"]["met"]
    assert all(t["met"] for name, t in targets.items() if "exactly once" in name)


def test_the_bare_fetcher_asks_for_every_event_of_the_school_once_per_request(tmp_path):
    bare = _module("bare_fetch")
    result_file = tmp_path / "bare.json"
    assert bare.main(["--classes", str(CLASSES), "--latency-ms", "0", "--verify", "--json", str(result_file)]) == 0
    result = json.loads(result_file.read_text())
    assert result["events"] == result["truth_events"] > 0  # the same work as a full load's metrics
    assert result["served"] == result["requests"]  # every request sent reached the emulator, once
