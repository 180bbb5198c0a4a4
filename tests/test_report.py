"""The HTML report (`class-elt report`, the demo's last line, `run --report`): self-contained, and
what a real browser draws from it matches the marts."""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import io
import os
import re
import shutil
import subprocess
import uuid
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from class_source.cli import main
from class_source.emulator import Emulator
from class_source.report import ReportData, render_report

DATASET = "class_data"
CHARTS = ("chart-attendance", "chart-tardiness", "chart-classes", "chart-talk", "chart-participation", "chart-instructors")

# Put in front of the page under test: records console errors, uncaught errors and rejected promises
# in the DOM, which chromium's --dump-dom then prints.
ERROR_RECORDER = """<script>
window.__errors = [];
function __record(text) { window.__errors.push(String(text)); document.documentElement.setAttribute("data-errors", window.__errors.join(" | ")); }
var __consoleError = console.error;
console.error = function () { __record(Array.prototype.join.call(arguments, " ")); __consoleError.apply(console, arguments); };
window.addEventListener("error", function (e) { __record(e.message); });
window.addEventListener("unhandledrejection", function (e) { __record(e.reason); });
</script>"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """`class-elt demo` on a small school: (the warehouse file, the report path its last line names)."""
    folder = tmp_path_factory.mktemp("demo")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setenv("DLT_DATA_DIR", str(folder / "dlt_data"))
        with contextlib.redirect_stdout(out):
            assert main(["demo", "--classes", "12", "--seed", "3", "--output", str(folder / "demo.duckdb")]) == 0
    last_line = out.getvalue().strip().splitlines()[-1]
    return folder / "demo.duckdb", Path(last_line)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is missing: .ci/run installs Debian's chromium package")
    pytest.skip("no chromium here (`apt-get install -y chromium`; CI always has it)")


def render_in_browser(page: Path, tmp_path: Path) -> tuple[str, str]:
    """Chromium's DOM after the page's scripts ran (with the error recorder in front), and its log.
    Host names resolve to nothing: the page must draw without a network."""
    recorded = tmp_path / f"recorded-{uuid.uuid4().hex[:6]}.html"
    recorded.write_text(page.read_text(encoding="utf-8").replace("<head>", "<head>" + ERROR_RECORDER, 1), encoding="utf-8")
    result = subprocess.run(
        [
            chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium-profile'}", "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr", "--v=0", "--window-size=1400,2400", "--virtual-time-budget=15000",
            "--dump-dom", recorded.as_uri(),
        ],
        capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, result.stderr


class PageParts(HTMLParser):
    """What the test reads off the rendered DOM: each chart's drawn marks, the chronic-absence table
    rows, the KPI values and the errors the recorder saw."""

    def __init__(self) -> None:
        super().__init__()
        self.errors = ""
        self.marks: dict[str, int] = {}
        self.empty_charts: set[str] = set()
        self.chronic_rows: list[list[str]] = []
        self.kpis: dict[str, str] = {}
        self._chart: str | None = None
        self._chart_depth = 0
        self._depth = 0
        self._in_chronic = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._kpi: str | None = None
        self._kpi_value = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "html":
            self.errors = attributes.get("data-errors") or ""
        if tag not in ("path", "br", "img", "input", "meta", "link", "rect", "line", "circle", "use", "stop"):
            self._depth += 1
        if tag == "div" and "chart" in classes and attributes.get("id") in CHARTS:
            self._chart, self._chart_depth = attributes["id"], self._depth
            self.marks[self._chart] = 0
            if "empty-chart" in classes:
                self.empty_charts.add(self._chart)
        if self._chart and tag == "path" and (attributes.get("d") or "").strip() not in ("", "M0,0Z"):
            if {"point", "js-line"} & set(classes) or self._in_point_group:
                self.marks[self._chart] += 1
        if tag == "g":
            self._in_point_group = "point" in classes
        if tag == "table" and attributes.get("id") == "chronic-absence":
            self._in_chronic = True
        if self._in_chronic and tag == "tr" and attributes.get("data-class-id") is not None:
            self._row = [attributes["data-class-id"] or ""]
        if self._row is not None and tag == "td":
            self._cell = []
        if tag == "div" and attributes.get("data-kpi"):
            self._kpi = attributes["data-kpi"]
        if self._kpi and "kpi-value" in classes:
            self._kpi_value = True

    _in_point_group = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._chart and self._depth == self._chart_depth:
            self._chart = None
        if tag not in ("path", "br", "img", "input", "meta", "link", "rect", "line", "circle", "use", "stop"):
            self._depth -= 1
        if tag == "table":
            self._in_chronic = False
        if tag == "td" and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.chronic_rows.append(self._row)
            self._row = None
        if tag == "div" and self._kpi_value:
            self._kpi_value = False
            self._kpi = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._kpi_value and self._kpi:
            self.kpis[self._kpi] = self.kpis.get(self._kpi, "") + data.strip()


def parse(dom: str) -> PageParts:
    parts = PageParts()
    parts.feed(dom)
    return parts


def console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if ":CONSOLE" in line and re.search(r"error|uncaught", line, re.I)]


def marts(database: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).fetchall()


# --- the tests -----------------------------------------------------------------------------------


def test_the_demo_writes_the_report_and_prints_its_path_last(demo):
    _, report = demo
    assert report.name == "class_demo_report.html" and report.is_file()
    assert report.read_text(encoding="utf-8").startswith("<!doctype html>")


def test_the_report_loads_no_script_or_stylesheet_from_a_network(demo):
    page = demo[1].read_text(encoding="utf-8")
    tags = re.findall(r"<(?:script|link)\b[^>]*>", page, re.I)
    assert tags and all(not re.search(r"\b(?:src|href)\s*=", tag, re.I) for tag in tags), tags
    assert not re.search(r"@import|url\(\s*['\"]?https?:", page, re.I)


def test_the_demo_report_draws_every_chart_lists_the_chronically_absent_and_its_kpis_match_the_marts(demo, tmp_path):
    database, report = demo
    dom, log = render_in_browser(report, tmp_path)
    page = parse(dom)
    assert page.errors == "" and console_errors(log) == []
    assert set(page.marks) == set(CHARTS)
    assert not page.empty_charts
    assert all(count > 0 for count in page.marks.values()), page.marks

    chronic = marts(database, f"""
        select class_id, student_id from {DATASET}.fct_student_class_attendance where is_chronically_absent""")
    assert chronic, "the demo school needs chronically absent students for this test"
    assert sorted((row[0], row[3]) for row in page.chronic_rows) == sorted(chronic)  # class id, student id column
    rates = [float(row[6].rstrip("%")) for row in page.chronic_rows]
    assert rates == sorted(rates)  # worst first

    # the expected figures, worked out in Python from mart rows (not with the report's queries)
    students = marts(database, f"""
        select student_id, sessions_expected, sessions_present, is_chronically_absent
        from {DATASET}.fct_student_class_attendance""")
    chronically_absent = len({student for student, _, _, flagged in students if flagged})
    term_rate = sum(present for _, _, present, _ in students) / sum(expected for _, expected, _, _ in students)
    held_dates = [day for (day,) in marts(database, f"select session_date from {DATASET}.dim_sessions where session_status = 'held'")]
    weeks = [day - dt.timedelta(days=day.weekday()) for day in held_dates]
    latest_week = max(weeks)
    assert page.kpis["chronically_absent_students"] == f"{chronically_absent:,}"
    assert page.kpis["term_attendance_rate"] == f"{term_rate * 100:.1f}%"
    assert page.kpis["sessions_held"] == f"{weeks.count(latest_week):,}"


def test_the_class_filter_has_every_class_with_held_sessions(demo):
    database, report = demo
    options = re.findall(r'<option value="([^"]+)">', report.read_text(encoding="utf-8"))
    held = marts(database, f"select distinct class_id from {DATASET}.dim_sessions where session_status = 'held'")
    assert sorted(options) == sorted(class_id for (class_id,) in held)


def test_an_empty_warehouse_gets_explicit_empty_states_not_broken_charts(tmp_path):
    empty = ReportData(
        title="Nothing yet",
        loaded_at=None,
        tables={
            "school_weeks": [], "class_weeks": [], "chronic": [], "classes": [], "instructors": [],
            "term": [{
                "chronically_absent_students": 0, "attendance_rate": None, "avg_attended_minutes": None,
                "first_day": None, "last_day": None, "newest_session_end": None,
            }],
        },
    )
    page = tmp_path / "empty.html"
    page.write_text(render_report(empty), encoding="utf-8")
    dom, log = render_in_browser(page, tmp_path)
    parts = parse(dom)
    assert parts.errors == "" and console_errors(log) == []
    assert parts.empty_charts == set(CHARTS)
    drawn = '<p class="empty">{}</p>'.format
    assert dom.count(drawn("No sessions held yet.")) == 5 and dom.count(drawn("No sessions taught yet.")) == 2
    assert drawn("No chronically absent students.") in dom
    assert parts.kpis["sessions_held"] == "none yet"


def test_report_command_writes_the_default_file_from_the_warehouse(workdir, monkeypatch, capsys):
    emulator = Emulator(seed=8, classes=2)
    with emulator.serve() as base_url:
        monkeypatch.setenv("SOURCES__CLASS_API__BASE_URL", base_url)
        monkeypatch.setenv("SOURCES__CLASS_API__API_KEY", emulator.mint_key())
        assert main(["run", "--report", "after_run.html"]) == 0
    assert "wrote the report" in capsys.readouterr().out
    assert (workdir / "after_run.html").is_file()
    assert main(["report"]) == 0
    written = Path(capsys.readouterr().out.strip())
    assert written == workdir / "class_elt_report.html"
    names = marts(workdir / "warehouse.duckdb", f"select class_name from {DATASET}.agg_class_summary where sessions_held > 0")
    page = written.read_text(encoding="utf-8")
    assert names and all(html.escape(name) in page for (name,) in names)


@pytest.mark.postgres
def test_report_and_bi_copy_come_from_the_marts_on_postgres(workdir, monkeypatch, tmp_path, postgres_url):
    from tests.test_destinations import postgres_execute

    dataset = f"class_report_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_url)
    emulator = Emulator(seed=3, classes=4)
    try:
        with emulator.serve() as base_url:
            monkeypatch.setenv("SOURCES__CLASS_API__BASE_URL", base_url)
            monkeypatch.setenv("SOURCES__CLASS_API__API_KEY", emulator.mint_key())
            run = ["run", "--destination", "postgres", "--dataset-name", dataset]
            assert main(run + ["--report", "pg.html", "--publish", "pg_bi.duckdb"]) == 0
        _, chronic = postgres_execute(postgres_url, f"""
            select class_id, student_id from "{dataset}".fct_student_class_attendance where is_chronically_absent""")
        _, weekly = postgres_execute(postgres_url, f'select count(*) from "{dataset}".agg_class_weekly')
    finally:
        postgres_execute(postgres_url, f'drop schema if exists "{dataset}" cascade; drop schema if exists "{dataset}_staging" cascade')
    dom, log = render_in_browser(workdir / "pg.html", tmp_path)
    page = parse(dom)
    assert page.errors == "" and console_errors(log) == []
    assert all(count > 0 for count in page.marks.values()), page.marks
    assert chronic and sorted((row[0], row[3]) for row in page.chronic_rows) == sorted(chronic)
    copy = marts(workdir / "pg_bi.duckdb", f'select count(*) from "{dataset}".agg_class_weekly')
    assert copy == weekly and weekly[0][0] > 0


def test_report_and_bi_copy_come_from_a_lakes_models_file(workdir, monkeypatch, tmp_path):
    dataset, models_db = "class_lake", workdir / "lake_models.duckdb"
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", (workdir / "lake").as_uri())
    run = ["run", "--destination", "filesystem", "--dataset-name", dataset, "--models-database", str(models_db)]
    emulator = Emulator(seed=3, classes=4)
    with emulator.serve() as base_url:
        monkeypatch.setenv("SOURCES__CLASS_API__BASE_URL", base_url)
        monkeypatch.setenv("SOURCES__CLASS_API__API_KEY", emulator.mint_key())
        assert main(run + ["--report", "lake.html", "--publish", "lake_bi.duckdb"]) == 0
    chronic = marts(models_db, f"select class_id, student_id from {dataset}.fct_student_class_attendance where is_chronically_absent")
    dom, log = render_in_browser(workdir / "lake.html", tmp_path)
    page = parse(dom)
    assert page.errors == "" and console_errors(log) == []
    assert all(count > 0 for count in page.marks.values()), page.marks
    assert chronic and sorted((row[0], row[3]) for row in page.chronic_rows) == sorted(chronic)
    weekly = f"select count(*) from {dataset}.agg_class_weekly"
    assert marts(workdir / "lake_bi.duckdb", weekly) == marts(models_db, weekly) != [(0,)]
