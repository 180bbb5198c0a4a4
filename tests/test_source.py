"""The source's boundary: configuration only in its signature, nothing running outside extraction."""

from __future__ import annotations

import threading

from class_source import class_source
from class_source.cli import main
from class_source.emulator import ALL_SCOPES, Emulator
from tests.support import assert_matches_truth
from tests.test_cli import point_at

DATABASE = "warehouse.duckdb"


def class_elt_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("class-elt"))


def test_creating_a_source_starts_no_thread_and_a_run_leaves_none_behind(workdir, monkeypatch):
    emulator = Emulator(seed=61, classes=3)
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key())
        source = class_source()
        assert class_elt_threads() == []  # nothing runs until a resource is extracted
        del source
        assert main(["run", "--no-models"]) == 0
        assert class_elt_threads() == []  # closed at the end of extraction, not by the garbage collector
    assert_matches_truth(workdir / DATABASE, emulator.school.ground_truth())


def test_only_configuration_is_injected_from_the_environment(workdir, monkeypatch):
    """dlt injects every parameter of a source from config; a transport or progress display is not
    configuration, and a stray setting must not become one."""
    emulator = Emulator(seed=62, classes=2)
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key(), transport="oops", progress="oops")
        assert main(["run", "--no-models"]) == 0
    assert_matches_truth(workdir / DATABASE, emulator.school.ground_truth())


def test_a_key_missing_several_scopes_is_told_all_of_them_at_once(workdir, monkeypatch, capsys):
    emulator = Emulator(seed=63, classes=2)
    missing = {"metrics:read", "attendance:read", "schedule:read", "template:read", "user:read"}
    key = emulator.mint_key(scopes=tuple(s for s in ALL_SCOPES if s not in missing))
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, key)
        assert main(["run", "--no-models"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert all(scope in err[0] for scope in missing), err[0]


def test_the_response_size_limit_is_configuration(workdir, monkeypatch, capsys):
    emulator = Emulator(seed=64, classes=2)
    with emulator.serve() as base_url:
        point_at(monkeypatch, base_url, emulator.mint_key(), max_response_mb=0.001)  # 1,048 bytes: less than a roster
        assert main(["run", "--no-models", "--resources", "enrollments"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "enrollments" in err[0] and "answered more than" in err[0] and "(max_response_mb)" in err[0], err
