"""A run learns its key's scopes from requests its resources make anyway (issue 16, point 1): no
request is spent on scopes alone, and a missing scope is told apart from a granted one whether the
API checks the scope before or after it looks the entity up (the reference does not say which).
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from class_source import KEYS
from class_source.cli import main
from class_source.emulator import Emulator
from class_source.emulator.auth import ALL_SCOPES
from class_source.emulator.readings import ApiReadings
from tests.reliability_support import local_cursors, snapshot
from tests.support import assert_matches_truth
from tests.test_cli import point_at

DATABASE = "warehouse.duckdb"
RUN = ["run", "--no-models"]
NIL_UUID = "00000000-0000-0000-0000-000000000000"
ORDERS = ("scope-first", "validation-first")


def test_a_run_with_every_scope_sends_no_request_its_resources_do_not_need(workdir, monkeypatch):
    emulator = Emulator(seed=71, classes=4)
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        assert main(RUN) == 0
        emulator.clock.advance(26 * 3600)
        assert main(RUN) == 0
        truth = emulator.school.ground_truth()
    assert_matches_truth(workdir / DATABASE, truth)
    requests = [(entry.endpoint, entry.query) for entry in emulator.request_log.entries]
    assert not [r for r in requests if NIL_UUID in r[1]], "a request about an entity that cannot exist"
    # each run asks each thing once: two runs, so no request more than twice (metrics pages move on)
    repeated = {request: n for request, n in Counter(requests).items() if n > 2}
    assert repeated == {}, repeated
    classes = len(truth["classes"]) + len(truth["deferred_classes"])
    rosters = Counter(endpoint for endpoint, _ in requests)["GET /api/v1/class/enrollments"]
    assert rosters == 2 * classes  # the roster asked to learn enrollment:read is the one loaded


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize(
    ("scope", "table"),
    [("metrics:read", "metrics"), ("attendance:read", "attendance"), ("enrollment:read", "enrollments"), ("schedule:read", "schedules")],
)
def test_a_key_losing_a_scope_fails_in_one_line_or_skips_leaving_that_table_as_it_was(workdir, monkeypatch, capsys, order, scope, table):
    emulator = Emulator(seed=72, classes=3, readings=ApiReadings(scope_check_order=order))
    database = workdir / DATABASE
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        assert main(RUN) == 0
        emulator.clock.advance(26 * 3600)  # new sessions and events: a table that was touched would show it
        before, cursors = snapshot(database), local_cursors(workdir / "dlt_data")
        capsys.readouterr()

        point_at(monkeypatch, base_url, emulator.mint_key(scopes=[s for s in ALL_SCOPES if s != scope]))
        assert main(RUN) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"lacks scope {scope} (needed by {table})" in err[0], err
        assert snapshot(database) == before
        assert local_cursors(workdir / "dlt_data") == cursors

        monkeypatch.setenv("SOURCES__CLASS_API__SKIP_MISSING_SCOPES", "true")
        assert main(RUN) == 0
        assert f"skipping resources the API key has no scope for: {scope} (needed by {table})" in capsys.readouterr().err
        truth = emulator.school.ground_truth()
    assert snapshot(database)[table] == before[table]
    if table == "metrics":
        assert local_cursors(workdir / "dlt_data") == cursors
    assert_matches_truth(database, truth, tables=[t for t in KEYS if t != table])


def test_a_key_without_attendance_and_metrics_is_told_both_at_once_however_the_reads_interleave(workdir, monkeypatch, capsys):
    emulator = Emulator(seed=74, classes=3)
    missing = ("attendance:read", "metrics:read")
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key(scopes=[s for s in ALL_SCOPES if s not in missing]))
        assert main(RUN) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        assert "attendance:read (needed by attendance)" in err[0] and "metrics:read (needed by metrics)" in err[0], err[0]

        monkeypatch.setenv("SOURCES__CLASS_API__SKIP_MISSING_SCOPES", "true")
        assert main(RUN) == 0
        truth = emulator.school.ground_truth()
    warnings = [line for line in capsys.readouterr().err.splitlines() if "skipping resources" in line]
    assert len(warnings) == 1 and all(scope in warnings[0] for scope in missing), warnings
    assert_matches_truth(workdir / DATABASE, truth, tables=[t for t in KEYS if t not in ("attendance", "metrics")])


@pytest.mark.parametrize(
    ("missing", "resources"),
    [("class:read", []), ("user:read", ["--resources", "users,enrollments,attendance"]), ("user:read", ["--resources", "users,templates"])],
)
def test_a_skipped_resource_costs_no_repeated_request(workdir, monkeypatch, missing, resources):
    """The first resource to run may skip itself and close the API before the next one opens it:
    what the scope check asked is still handed to the resources that load it."""
    emulator = Emulator(seed=75, classes=3)
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key(scopes=[s for s in ALL_SCOPES if s != missing]), skip_missing_scopes="true")
        assert main([*RUN, *resources]) == 0
    repeated = {request: n for request, n in Counter((e.endpoint, e.query) for e in emulator.request_log.entries).items() if n > 1}
    assert repeated == {}, repeated


@pytest.mark.parametrize("order", ORDERS)
def test_check_tells_a_missing_scope_from_a_granted_one_whichever_the_api_checks_first(workdir, monkeypatch, capsys, order):
    emulator = Emulator(seed=73, classes=2, readings=ApiReadings(scope_check_order=order))
    key = emulator.mint_key(scopes=("class:read", "enrollment:read", "attendance:read"))
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, key)
        assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"enrollments\s+class:read, enrollment:read\s+ok", out), out
    assert re.search(r"attendance\s+class:read, attendance:read\s+ok", out), out
    assert re.search(r"schedules\s+class:read, schedule:read\s+MISSING schedule:read", out), out
    assert re.search(r"metrics\s+class:read, metrics:read\s+MISSING metrics:read", out), out
