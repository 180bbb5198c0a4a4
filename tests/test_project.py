"""A project folder keeps its own pipelines and warehouse; the commands a newcomer is shown work as printed."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import duckdb
import pytest

from class_source.cli import main
from class_source.emulator import Emulator
from tests.test_cli import point_at


@pytest.fixture
def plain_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user with no dlt settings at all: no DLT_DATA_DIR, no DuckDB credentials, a HOME of their own."""
    for name in ("DLT_DATA_DIR", "DESTINATION__DUCKDB__CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def test_two_project_folders_loading_in_turn_each_get_their_own_warehouse_and_state(plain_user, monkeypatch, capsys):
    emulator = Emulator(seed=51, classes=2)
    first, second = plain_user / "school_a", plain_user / "school_b"
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        for folder in (first, second):
            folder.mkdir()
            monkeypatch.chdir(folder)
            capsys.readouterr()
            assert main(["run", "--no-models", "--resources", "classes,templates"]) == 0
            summary = capsys.readouterr().out
            assert f"dataset class_data of {folder / 'class_elt.duckdb'}" in summary, summary
    for folder in (first, second):
        assert (folder / ".class-elt" / "pipelines" / "class_elt" / "state.json").exists()
        with duckdb.connect(str(folder / "class_elt.duckdb"), read_only=True) as con:
            loads = con.execute("select count(*) from class_data._dlt_loads").fetchone()[0]
        assert loads == 1  # each folder's warehouse got its own run, not both
    assert not (plain_user / "home" / ".dlt").exists()


def test_the_demos_closing_hint_and_models_after_the_demo_work_as_printed(plain_user, monkeypatch, capsys):
    monkeypatch.chdir(plain_user)
    assert main(["demo", "--classes", "3"]) == 0
    out = capsys.readouterr().out
    hint = next(line for line in out.splitlines() if line.startswith("query it:"))
    command = re.fullmatch(r"query it:\s+uv run class-elt (.*)", hint)
    assert command, hint
    assert main(shlex.split(command.group(1))) == 0
    table = capsys.readouterr().out.splitlines()
    assert {"class_id", "session_id", "student_id"} <= set(table[0].split()) and len(table) == 12  # header, rule, 10 rows

    assert main(["models"]) == 0  # a newcomer's `models` after the demo rebuilds the demo's models
    out = capsys.readouterr().out
    assert "building the models of the demo's pipeline 'class_demo'" in out and "every grain check passed" in out
    assert not (plain_user / "class_elt.duckdb").exists()


def test_models_on_a_pipeline_that_never_ran_says_so_and_creates_nothing(plain_user, monkeypatch, capsys):
    monkeypatch.chdir(plain_user)
    assert main(["models"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pipeline 'class_elt' has not loaded anything in this project" in err[0], err
    assert not any(plain_user.glob("*.duckdb"))
    assert not (plain_user / ".class-elt").exists()
