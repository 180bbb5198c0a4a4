"""End to end through `class-elt`, against the emulator served on loopback as a user would run it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from class_source.cli import main
from class_source.emulator import ALL_SCOPES, Emulator, FaultConfig
from tests.support import KEYS, assert_matches_truth, table_counts, truth_keys, warehouse_rows

DATABASE = "warehouse.duckdb"


def point_at(monkeypatch: pytest.MonkeyPatch, base_url: str, api_key: str, **options: object) -> None:
    monkeypatch.setenv("SOURCES__CLASS_API__BASE_URL", base_url)
    monkeypatch.setenv("SOURCES__CLASS_API__API_KEY", api_key)
    for name, value in options.items():
        monkeypatch.setenv(f"SOURCES__CLASS_API__{name.upper()}", str(value))


def test_run_loads_exactly_the_ground_truth_and_a_rerun_adds_nothing(workdir, monkeypatch, capsys):
    emulator = Emulator(seed=11, classes=6)
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        assert main(["run", "--no-models"]) == 0
        truth = emulator.school.ground_truth()
        assert_matches_truth(workdir / DATABASE, truth)
        first = table_counts(workdir / DATABASE)
        assert main(["run", "--no-models"]) == 0
    assert table_counts(workdir / DATABASE) == first
    assert_matches_truth(workdir / DATABASE, truth)
    assert all(first[t] > 0 for t in ("classes", "users", "enrollments", "schedules", "attendance", "metrics"))
    out = capsys.readouterr().out
    assert re.search(r"metrics\s+\d", out), out  # the summary lists tables and rows


def test_second_run_lands_new_late_and_new_class_events(workdir, monkeypatch):
    emulator = Emulator(seed=5, classes=4)
    school = emulator.school
    class_id = school.class_ids()[0]
    student = next(r for r in school.ground_truth()["enrollments"] if r["class_id"] == class_id)
    now = emulator.clock.now
    # a long event that started before the first run and ends after it: only the lookback finds it
    late = _event(student, start=now - 2 * 3600, end=now + 1800, kind="PRESENTING")
    recent = _event(student, start=now - 3600, end=now - 3590, kind="RAISED_HAND", value="1")  # cursor passes `late`
    school.add_events(class_id, [late, recent])
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        assert main(["run", "--no-models"]) == 0
        assert _late_event_key(late, class_id) not in set(warehouse_rows(workdir / DATABASE, "metrics"))

        emulator.clock.advance(6 * 3600)  # live sessions happen, the long event ends
        new_class = _create_class_with_history(emulator, base_url, student)
        assert main(["run", "--no-models"]) == 0
        truth = school.ground_truth()
    assert_matches_truth(workdir / DATABASE, truth)
    keys = set(warehouse_rows(workdir / DATABASE, "metrics"))
    assert _late_event_key(late, class_id) in keys
    assert {k for k in keys if k[0] == new_class} == {k for k in truth_keys(truth, "metrics") if k[0] == new_class}


def test_page_boundary_inside_a_crowded_second_loses_and_duplicates_nothing(workdir, monkeypatch):
    emulator = Emulator(seed=2, classes=2)
    school = emulator.school
    class_id = school.class_ids()[0]
    students = [r for r in school.ground_truth()["enrollments"] if r["class_id"] == class_id]
    base = emulator.clock.now - 30 * 86400
    # 700 events before, then a wave of 600 sharing one second: the first page ends inside the wave
    calm = [_event(students[i % len(students)], start=base + i, end=base + i + 1, kind="RAISED_HAND", value="1", ms=i % 1000) for i in range(700)]
    wave = [_event(students[i % len(students)], start=base + 5000, end=base + 5001, kind="REACTION", value=v, ms=i) for i, v in
            ((i, ("clap", "crying", "laughing", "thumbup")[i // len(students) % 4]) for i in range(600))]
    school.add_events(class_id, calm + wave)
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        assert main(["run", "--no-models", "--resources", "classes,metrics"]) == 0
    assert_matches_truth(workdir / DATABASE, school.ground_truth(), tables=("metrics",))


def test_metrics_never_duplicate_after_a_backfill_or_a_lost_working_directory(workdir, monkeypatch):
    # the first load appends (nothing to merge into); every later one must merge, also when the
    # table was filled by a backfill (no cursors) or the working directory is gone (state and
    # schema come back from the warehouse)
    emulator = Emulator(seed=13, classes=3)
    history_middle = datetime.fromtimestamp(emulator.clock.now - 20 * 86400, tz=timezone.utc).isoformat()
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key(), end_date=history_middle)
        assert main(["run", "--no-models", "--resources", "classes,metrics"]) == 0
        monkeypatch.delenv("SOURCES__CLASS_API__END_DATE")
        assert main(["run", "--no-models"]) == 0
        assert_matches_truth(workdir / DATABASE, emulator.school.ground_truth())
        shutil.rmtree(workdir / "dlt_data")
        emulator.clock.advance(86400)
        assert main(["run", "--no-models"]) == 0
        truth = emulator.school.ground_truth()
    assert_matches_truth(workdir / DATABASE, truth)


def test_load_survives_injected_faults(workdir, monkeypatch):
    emulator = Emulator(seed=4, classes=12, faults=FaultConfig(rate=0.10, retry_after_s=0))
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key(), request_timeout_s=3)
        assert main(["run", "--no-models"]) == 0
    assert_matches_truth(workdir / DATABASE, emulator.school.ground_truth())
    injected = emulator.request_log.faults()
    assert len(injected) >= 3 and sum(injected.values()) >= 5, injected  # the run really went through faults


def test_missing_scope_fails_naming_it_and_skip_missing_scopes_loads_the_rest(workdir, monkeypatch, capsys):
    emulator = Emulator(seed=6, classes=3)
    key = emulator.mint_key(scopes=tuple(s for s in ALL_SCOPES if s != "metrics:read"))
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, key)
        assert main(["run", "--no-models"]) == 1
        err = capsys.readouterr().err
        assert "metrics:read" in err and "needed by metrics" in err
        assert "Traceback" not in err
        assert not (workdir / DATABASE).exists() or "metrics" not in table_counts_safe(workdir / DATABASE)

        monkeypatch.setenv("SOURCES__CLASS_API__SKIP_MISSING_SCOPES", "true")
        assert main(["run", "--no-models"]) == 0
        assert "metrics:read" in capsys.readouterr().err  # the warning names what was skipped
    loaded = tuple(t for t in KEYS if t != "metrics")
    assert_matches_truth(workdir / DATABASE, emulator.school.ground_truth(), tables=loaded)


def table_counts_safe(database: Path) -> dict[str, int]:
    try:
        return table_counts(database)
    except Exception:  # noqa: BLE001 - tables not created
        return {}


def test_the_secret_never_lands_anywhere(workdir, monkeypatch, capsys):
    emulator = Emulator(seed=8, classes=3)
    key = emulator.mint_key()
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, key)
        assert main(["run", "--no-models"]) == 0
        point_at(monkeypatch, base_url, key + "-wrong")
        assert main(["run", "--no-models"]) == 1  # a failed run writes traces and errors too
    captured = capsys.readouterr()
    assert "API key invalid or expired" in captured.err
    for stream in (captured.out, captured.err):
        assert key not in stream
    files = [p for p in workdir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".duckdb" for p in files) and any("dlt_data" in str(p) for p in files)
    leaks = [p for p in files if key.encode() in p.read_bytes()]
    assert leaks == []


def test_check_reports_each_resource_scope(workdir, monkeypatch, capsys):
    emulator = Emulator(seed=1, classes=2)
    key = emulator.mint_key(scopes=("class:read", "enrollment:read"))
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, key)
        assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"classes\s+class:read\s+ok", out)
    assert re.search(r"enrollments\s+class:read, enrollment:read\s+ok", out)
    assert re.search(r"metrics\s+class:read, metrics:read\s+MISSING metrics:read", out)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["run", "--resources", "lessons"], {}, "unknown resource(s) lessons"),
        (["run"], {"SOURCES__CLASS_API__BASE_URL": "http://example.com", "SOURCES__CLASS_API__API_KEY": "k"}, "plain http"),
        (["run"], {"SOURCES__CLASS_API__BASE_URL": "https://x.example"}, "missing configuration"),
        (["check"], {}, "missing configuration"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_1(workdir, monkeypatch, capsys, args, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_expected_failure_from_the_real_command_has_no_traceback(workdir):
    emulator = Emulator(seed=1, classes=1)
    with emulator.serve() as base_url:
        env = {**os.environ, "SOURCES__CLASS_API__BASE_URL": base_url, "SOURCES__CLASS_API__API_KEY": "not-a-key"}
        done = subprocess.run(
            [sys.executable, "-m", "class_source.cli", "run", "--no-models"], env=env, capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 1
    assert "API key invalid or expired" in done.stderr
    assert "Traceback" not in done.stderr


def test_emulator_command_prints_a_working_base_url_and_key(tmp_path):
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "class_source.cli", "emulator", "--port", str(port), "--classes", "3", "--seed", "7"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        exports = dict(
            line.removeprefix("export ").split("=", 1) for line in (process.stdout.readline().strip(), process.stdout.readline().strip())
        )
        base_url, key = exports["SOURCES__CLASS_API__BASE_URL"], exports["SOURCES__CLASS_API__API_KEY"]
        assert base_url == f"http://127.0.0.1:{port}"
        body = _get_when_up(f"{base_url}/api/v1/classes", key)
        expected = Emulator(seed=7, classes=3).school.ground_truth()["classes"]  # same seed, same school
        assert [c["class_id"] for c in body] == [c["class_id"] for c in expected]
        assert {"class_id", "class_name", "meeting_id", "invite_link"} <= set(body[0])
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- helpers ---------------------------------------------------------------------------------------


def _event(student: dict, *, start: int, end: int, kind: str, value: str = "true", ms: int = 0) -> dict:
    def iso(second: int, millis: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)) + f".{millis:03d}Z"

    return {
        "student_id": student["student_id"],
        "email": student.get("email"),
        "ext_person_id": student.get("ext_person_id"),
        "event_start": iso(start, ms),
        "event_end": iso(end, ms),
        "event_duration": (end - start) * 1000,
        "event_type": kind,
        "event_value": value,
    }


def _late_event_key(event: dict, class_id: str) -> tuple:
    from tests.support import _normalize

    return (class_id, event["student_id"], event["event_type"], _normalize("event_start", event["event_start"]), event["event_value"])


def _create_class_with_history(emulator: Emulator, base_url: str, student: dict) -> str:
    """A class created between runs (via the API), with a week of past activity."""
    now = emulator.clock.now
    key = emulator.mint_key()
    created = httpx.post(
        f"{base_url}/api/v1/classes",
        headers={"Authorization": f"Bearer {key}"},
        json={
            "email": "new.teacher@demo.com", "first_name": "New", "last_name": "Teacher", "timezone": "America/Los_Angeles",
            "class_name": "Late Addition", "session_times": [{"start_time": now - 7 * 86400, "end_time": now - 7 * 86400 + 3600}],
        },
    )
    assert created.status_code == 201, created.text
    class_id = created.json()["invite_link"].split("class_uuid=")[1]
    history = [_event(student, start=now - 7 * 86400 + 60 * i, end=now - 7 * 86400 + 60 * i + 30, kind="IS_TALKING") for i in range(5)]
    emulator.school.add_events(class_id, history)
    return class_id


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get_when_up(url: str, key: str) -> list:
    deadline = time.monotonic() + 30
    while True:
        try:
            response = httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=5)
            assert response.status_code == 200, response.text
            return response.json()
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_deletions_are_reflected_and_roster_history_is_kept(workdir, monkeypatch):
    emulator = Emulator(seed=9, classes=4)
    truth = emulator.school.ground_truth()
    gone_class, kept_class = truth["classes"][0]["class_id"], truth["classes"][1]["class_id"]
    leaver = next(r for r in truth["enrollments"] if r["class_id"] == kept_class and r["role"] == "student")
    dropped_date = next(r for r in truth["schedules"] if r["class_id"] == kept_class)
    with emulator.serve() as base_url:
        key = emulator.mint_key()
        point_at(monkeypatch, base_url, key)
        assert main(["run"]) == 0
        api = httpx.Client(base_url=f"{base_url}/api/v1", headers={"Authorization": f"Bearer {key}"})
        assert api.delete("/classes", params={"class_id": gone_class}).status_code == 200
        assert api.request("DELETE", "/class/enrollments", json={"class_id": kept_class, "student_id": leaver["student_id"]}).status_code == 200
        assert api.delete("/schedules", params={"schedule_id": dropped_date["schedule_id"]}).status_code == 200
        assert main(["run"]) == 0
        truth = emulator.school.ground_truth()
    database = workdir / DATABASE
    assert_matches_truth(database, truth, tables=("classes", "enrollments", "schedules", "attendance"))
    import duckdb

    with duckdb.connect(str(database), read_only=True) as con:
        history = con.execute(
            "select is_current, valid_to is not null from class_data.dim_roster_history where class_id = ? and student_id = ?",
            [kept_class, leaver["student_id"]],
        ).fetchall()
        gone_roster = con.execute(
            "select count(*) filter (where is_current), count(*) from class_data.dim_roster_history where class_id = ?", [gone_class]
        ).fetchone()
        listed = {r[0] for r in con.execute("select class_id from class_data.dim_classes where class_status = 'regular'").fetchall()}
    assert history == [(False, True)]  # the leaver's enrollment is history, not erased
    assert gone_roster[0] == 0 and gone_roster[1] > 0  # the deleted class's roster is all history
    assert gone_class not in listed and kept_class in listed


def test_pii_hash_leaves_no_name_or_email_in_any_table_and_hashes_still_join(workdir, monkeypatch):
    emulator = Emulator(seed=12, classes=3)
    truth = emulator.school.ground_truth()
    personal = {r[f] for t in ("enrollments", "users", "attendance", "metrics") for r in truth[t]
                for f in ("email", "user_name", "first_name", "last_name") if r.get(f)}
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key(), pii="hash", pii_salt="test-salt")
        assert main(["run", "--no-models"]) == 0
    import duckdb

    with duckdb.connect(str(workdir / DATABASE), read_only=True) as con:
        cells = set()
        for table in KEYS:
            for row in con.execute(f"select * from class_data.{table}").fetchall():
                cells.update(str(value) for value in row)
        joined = con.execute(
            "select count(*) from class_data.metrics m join class_data.enrollments e "
            "on e.class_id = m.class_id and e.student_id = m.student_id and e.email = m.email"
        ).fetchone()[0]
    assert personal and not (personal & cells)  # no name or email survives anywhere
    assert joined > 0  # the same email hashes alike in metrics and enrollments


def test_the_summary_tells_new_events_from_lookback_re_reads(workdir, monkeypatch, capsys):
    emulator = Emulator(seed=14, classes=3)
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        assert main(["run", "--no-models"]) == 0
        events_before = len(emulator.school.ground_truth()["metrics"])
        emulator.clock.advance(8 * 3600)
        capsys.readouterr()
        assert main(["run", "--no-models"]) == 0
        events_after = len(emulator.school.ground_truth()["metrics"])
    line = next(line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("metrics:"))
    new, re_read = (int(n.replace(",", "")) for n in re.findall(r"([\d,]+) (?:new|re-read)", line))
    assert new == events_after - events_before > 0
    assert re_read > 0  # the 24 h lookback read again what the first run had


def test_emulator_on_a_busy_port_says_so_before_printing_a_key(capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["emulator", "--port", str(port)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == f"class-elt: error: cannot serve on 127.0.0.1:{port} (Address already in use): choose another port with --port"


def test_the_readme_lists_every_command_and_flag_that_help_does():
    import argparse

    from class_source.cli import _parser

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("Every command and flag", 1)[1].split("```", 2)[1]
    documented: dict[str, set[str]] = {}
    command = None
    for line in block.splitlines():
        words = line.split()
        if words[:1] == ["class-elt"]:
            command = words[1]
            documented[command] = set()
        if command:
            documented[command] |= set(re.findall(r"\[(--[a-z-]+)", line))
    subparsers = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    in_help = {
        name: {flag for action in parser._actions for flag in action.option_strings if flag.startswith("--") and flag != "--help"}
        for name, parser in subparsers.choices.items()
    }
    assert documented == in_help


def test_every_run_says_how_many_requests_it_retried_and_why(workdir, monkeypatch, capsys):
    emulator = Emulator(seed=15, classes=5, faults=FaultConfig(rate=0.15, retry_after_s=0))
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key(), request_timeout_s=3)
        assert main(["run", "--no-models"]) == 0
    injected = emulator.request_log.faults()
    line = next(line.strip() for line in capsys.readouterr().out.splitlines() if line.strip().startswith("retried "))
    assert 0 < int(line.split()[1]) <= sum(injected.values())
    for status in (kind for kind in injected if kind.isdigit()):  # an injected 5xx/429 is retried once, as that status
        assert f"{status} x{injected[status]}" in line, (line, injected)
    assert_matches_truth(workdir / DATABASE, emulator.school.ground_truth())
