"""The BI copy (`class-elt run --publish PATH`) and the one-line message for a warehouse file that
another program holds open."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from class_source.cli import main
from class_source.emulator import Emulator
from class_source.publish import mart_names

DATABASE = "warehouse.duckdb"
DATASET = "class_data"


def point_at(monkeypatch: pytest.MonkeyPatch, base_url: str, api_key: str) -> None:
    monkeypatch.setenv("SOURCES__CLASS_API__BASE_URL", base_url)
    monkeypatch.setenv("SOURCES__CLASS_API__API_KEY", api_key)


def holder(path: Path, *, read_only: bool, script: str = "") -> subprocess.Popen:
    """Another process that opens the DuckDB file `path`, prints `ready`, runs `script` (with `con`)
    and then waits for a line on stdin before it exits."""
    code = textwrap.dedent(
        f"""
        import sys, duckdb
        con = duckdb.connect({str(path)!r}, read_only={read_only})
        print("ready", flush=True)
        """
    ) + textwrap.dedent(script) + "\nsys.stdin.readline()\n"
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "ready"
    return process


def finish(process: subprocess.Popen) -> str:
    out, _ = process.communicate("done\n", timeout=60)
    assert process.returncode == 0, out
    return out


def mart_rows(database: Path, mart: str) -> int:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(f"SELECT count(*) FROM {DATASET}.{mart}").fetchone()[0]


def test_a_warehouse_file_open_in_another_program_fails_the_run_in_one_line_naming_it_and_its_pid(
    workdir, monkeypatch, capsys
):
    emulator = Emulator(seed=3, classes=2)
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        assert main(["run", "--no-models"]) == 0  # the file exists
        reader = holder(workdir / DATABASE, read_only=True)
        try:
            capsys.readouterr()
            assert main(["run", "--no-models"]) == 1
        finally:
            finish(reader)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    line = err[0]
    assert line.startswith("class-elt: error: the warehouse file ")
    assert str(workdir / DATABASE) in line and f"pid {reader.pid}" in line
    assert "--publish" in line
    assert "internet connection" not in line and "credentials" not in line


def test_publish_copies_every_mart_with_the_warehouse_rows(workdir, monkeypatch, capsys):
    emulator = Emulator(seed=4, classes=3)
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        assert main(["run", "--publish", "bi/class_bi.duckdb"]) == 0
    published = workdir / "bi" / "class_bi.duckdb"
    assert "published the marts to" in capsys.readouterr().out
    with duckdb.connect(str(published), read_only=True) as con:
        tables = {name for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [DATASET]
        ).fetchall()}
    assert tables == set(mart_names())
    assert "fct_student_class_attendance" in tables and "dim_date" in tables
    for mart in ("fct_student_class_attendance", "agg_class_weekly", "fct_event_durations"):
        assert mart_rows(published, mart) == mart_rows(workdir / DATABASE, mart) > 0
    assert [p.name for p in published.parent.iterdir()] == ["class_bi.duckdb"]  # no temporary file left


def test_publish_path_comes_from_config_when_not_given(workdir, monkeypatch):
    emulator = Emulator(seed=4, classes=1)
    monkeypatch.setenv("CLASS_ELT__PUBLISH", str(workdir / "from_config.duckdb"))
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        assert main(["run"]) == 0
    assert mart_rows(workdir / "from_config.duckdb", "dim_classes") == 1


def test_a_reader_of_the_published_copy_keeps_working_through_two_publishes_then_sees_the_new_build(
    workdir, monkeypatch
):
    emulator = Emulator(seed=5, classes=2)
    published = workdir / "class_bi.duckdb"
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        assert main(["run", "--publish", str(published)]) == 0
        before = mart_rows(published, "dim_sessions")
        # the reader queries the copy it opened in a loop while two runs publish, then reopens the path
        reader = holder(
            published,
            read_only=True,
            script=f"""
            import select
            counts = set()
            while not select.select([sys.stdin], [], [], 0.05)[0]:
                counts.add(con.execute("SELECT count(*) FROM {DATASET}.dim_sessions").fetchone()[0])
            print("old copy:", sorted(counts), flush=True)
            con.close()
            con = duckdb.connect({str(published)!r}, read_only=True)
            print("reopened:", con.execute("SELECT count(*) FROM {DATASET}.dim_sessions").fetchone()[0])
            """,
        )
        try:
            emulator.clock.advance(8 * 86400)  # a week passes: more sessions are held
            assert main(["run", "--publish", str(published)]) == 0
            assert main(["run", "--publish", str(published)]) == 0
            after = mart_rows(published, "dim_sessions")
        finally:
            out = finish(reader)
    assert after != before, "the test needs the new build to differ from the first"
    assert f"old copy: [{before}]" in out  # every query on the open copy answered, with the first build
    assert f"reopened: {after}" in out


def test_the_published_copy_opens_in_a_duckdb_1x_client(workdir, monkeypatch, tmp_path):
    uv = _uv()
    emulator = Emulator(seed=6, classes=2)
    published = workdir / "class_bi.duckdb"
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        assert main(["run", "--publish", str(published)]) == 0
    expected = mart_rows(published, "fct_student_class_attendance")
    script = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
        f"print(duckdb.__version__, con.execute('SELECT count(*) FROM {DATASET}.fct_student_class_attendance').fetchone()[0])"
    )
    # a separate environment with the DuckDB 1.x that BI drivers bundle (from uv's cache when offline)
    result = subprocess.run(
        [uv, "run", "--no-project", "--with", "duckdb<2", "python", "-c", script, str(published)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    version, rows = result.stdout.split()
    assert version.startswith("1.") and int(rows) == expected > 0


def _uv() -> str:
    import shutil

    found = shutil.which("uv")
    assert found, "uv is on PATH wherever the suite runs (`uv run pytest`)"
    return found


def test_publish_or_report_without_built_marts_is_one_line_naming_what_to_do(workdir, monkeypatch, capsys):
    emulator = Emulator(seed=7, classes=1)
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        assert main(["run", "--no-models", "--publish", "bi.duckdb"]) == 1
        assert main(["report"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("class-elt: error:")]
    assert len(err) == 2, err
    assert err[0].startswith("class-elt: error: mart ") and "build the models first" in err[0]
    assert err[1].startswith("class-elt: error: dataset class_data lacks a mart") and "build the models first" in err[1]
    assert not (workdir / "bi.duckdb").exists() and not list(workdir.glob(".bi.duckdb*"))


def test_publishing_over_the_warehouse_itself_is_refused_and_leaves_it_whole(workdir, monkeypatch, capsys):
    emulator = Emulator(seed=7, classes=1)
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        assert main(["run", "--publish", DATABASE]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("class-elt: error:")]
    assert err == [f"class-elt: error: cannot publish to {workdir / DATABASE}: it is the warehouse itself, give another file"]
    assert mart_rows(workdir / DATABASE, "dim_classes") == 1
