"""The HTML report: one self-contained file that shows the marts to people who read charts, not SQL.

`write_report(target, path)` runs a few SQL queries on the marts through the pipeline's own SQL
client (so it works wherever the models are built: DuckDB, Postgres, a lake's models file), puts
their rows into one HTML file with Plotly's JavaScript and the page's own script and style inlined,
and writes it atomically. The file opens from disk, a shared drive or an e-mail attachment with no
network and no server. Every figure on the page comes from SQL; Python only lays the rows out.
"""

from __future__ import annotations

import datetime as dt
import decimal
import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ReportError

__all__ = ["ReportData", "ReportError", "default_report_path", "query_report_data", "render_report", "write_report"]

# One query per part of the page. `{name}` is a mart, qualified by the SQL client. Ratios are cast
# to double precision before dividing (integer division on Postgres otherwise). School-wide weekly
# rates weigh each class's week by its present student-sessions: exact for tardiness and hand
# raises (rates per present student-session), an approximation for talk and video-on shares
# (agg_class_weekly has the shares, not the seconds behind them).
_WEIGHTED = (
    "sum({column} * student_sessions_present) / "
    "nullif(sum(case when {column} is not null then student_sessions_present end), 0) as {column}"
)
QUERIES: dict[str, str] = {
    "school_weeks": f"""
        with weeks as (
            select
                week_start,
                sum(sessions_held) as sessions_held,
                sum(student_sessions_expected) as student_sessions_expected,
                sum(student_sessions_present) as student_sessions_present,
                cast(sum(student_sessions_present) as double precision)
                    / nullif(sum(student_sessions_expected), 0) as attendance_rate,
                {_WEIGHTED.format(column="tardy_rate")},
                {_WEIGHTED.format(column="student_talk_share")},
                {_WEIGHTED.format(column="staff_talk_share")},
                {_WEIGHTED.format(column="hand_raises_per_attendee")},
                {_WEIGHTED.format(column="video_on_share")}
            from {{agg_class_weekly}}
            group by week_start
        )
        select
            weeks.*,
            lag(sessions_held) over (order by week_start) as sessions_held_week_before,
            attendance_rate - lag(attendance_rate) over (order by week_start) as attendance_rate_change
        from weeks
        order by week_start
    """,
    "class_weeks": """
        select class_id, week_start, sessions_held, attendance_rate, tardy_rate, student_talk_share,
            staff_talk_share, hand_raises_per_attendee, video_on_share
        from {agg_class_weekly}
        order by class_id, week_start
    """,
    "term": """
        select
            count(distinct case when is_chronically_absent then student_id end) as chronically_absent_students,
            cast(sum(sessions_present) as double precision) / nullif(sum(sessions_expected), 0) as attendance_rate,
            cast(sum(attended_minutes) as double precision) / nullif(sum(sessions_present), 0) as avg_attended_minutes,
            (select min(session_date) from {dim_sessions} where session_status = 'held') as first_day,
            (select max(session_date) from {dim_sessions} where session_status = 'held') as last_day,
            (select max(session_end_time) from {dim_sessions} where session_status = 'held') as newest_session_end
        from {fct_student_class_attendance}
    """,
    "chronic": """
        select
            classes.class_name, attendance.class_id, students.student_name, attendance.student_id,
            attendance.sessions_expected, attendance.sessions_absent, attendance.attendance_rate,
            attendance.current_absence_streak, attendance.last_attended_date
        from {fct_student_class_attendance} as attendance
        left join {dim_classes} as classes on classes.class_id = attendance.class_id
        left join {dim_students} as students on students.student_id = attendance.student_id
        where attendance.is_chronically_absent
        order by attendance.attendance_rate, attendance.sessions_absent desc, classes.class_name, attendance.student_id
    """,
    "classes": """
        select class_id, coalesce(class_name, class_id) as class_name, sessions_held, avg_attendance_rate,
            avg_talk_minutes_per_attendee
        from {agg_class_summary}
        where sessions_held > 0
        order by class_name, class_id
    """,
    "instructors": """
        select
            weeks.instructor_id,
            coalesce(max(instructors.instructor_name), weeks.instructor_id) as instructor_name,
            sum(weeks.sessions_taught) as sessions_taught,
            cast(sum(weeks.on_time_sessions) as double precision) / nullif(sum(weeks.sessions_taught), 0) as on_time_share,
            cast(sum(weeks.students_present) as double precision)
                / nullif(sum(weeks.students_expected), 0) as student_attendance_rate,
            sum(weeks.hand_raises_per_attendee * weeks.students_present)
                / nullif(sum(case when weeks.hand_raises_per_attendee is not null then weeks.students_present end), 0)
                as hand_raises_per_attendee
        from {agg_instructor_weekly} as weeks
        left join {dim_instructors} as instructors on instructors.instructor_id = weeks.instructor_id
        group by weeks.instructor_id
        order by sessions_taught desc, instructor_name
    """,
}
MARTS = (
    "agg_class_weekly",
    "agg_class_summary",
    "agg_instructor_weekly",
    "dim_classes",
    "dim_instructors",
    "dim_sessions",
    "dim_students",
    "fct_student_class_attendance",
)
_ASSETS = "report_assets"


@dataclass(frozen=True)
class ReportData:
    """The rows behind the page, as the queries returned them (column -> value per row)."""

    title: str
    loaded_at: Any
    tables: Mapping[str, list[dict[str, Any]]]


def default_report_path(pipeline_name: str) -> Path:
    """`./<pipeline>_report.html`."""
    return Path.cwd() / f"{pipeline_name}_report.html"


def write_report(target: Any, path: str | Path, *, title: str | None = None) -> Path:
    """Query the marts of `target` (a pipeline, or lake.LakeModels) and write the report to
    `path` (through a temporary file, so a reader never sees half a page). Returns the path."""
    data = query_report_data(target, title=title)
    destination = Path(path).expanduser().resolve()
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    temporary.write_text(render_report(data), encoding="utf-8")
    os.replace(temporary, destination)
    return destination


def query_report_data(target: Any, *, title: str | None = None) -> ReportData:
    """Run the report's queries on the marts of `target` (a pipeline, or lake.LakeModels)."""
    from .dlt_compat import DatabaseUndefinedRelation
    from .lake import LakeModels

    with target.sql_client() as client:
        names = {mart: client.make_qualified_table_name(mart) for mart in MARTS}
        try:
            tables = {part: _rows(client, sql.format(**names)) for part, sql in QUERIES.items()}
        except DatabaseUndefinedRelation as exc:
            raise ReportError(
                f"dataset {client.dataset_name} lacks a mart the report reads ({_first_line(exc)}): "
                "build the models first (`class-elt models`)"
            ) from None
        # a lake's models file holds no load history (dlt keeps it with the Delta tables)
        loaded_at = None if isinstance(target, LakeModels) else _last_load(client)
        dataset = client.dataset_name
    return ReportData(title=title or _configured_title() or dataset, loaded_at=loaded_at, tables=tables)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def _rows(client: Any, sql: str) -> list[dict[str, Any]]:
    with client.execute_query(sql) as cursor:
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row)) for row in cursor.fetchall()]


def _last_load(client: Any) -> Any:
    """When dlt last completed a load into this dataset (its `_dlt_loads` table); None where the
    models live apart from the loads (a lake's models file)."""
    try:
        rows = client.execute_sql(f"select max(inserted_at) from {client.make_qualified_table_name('_dlt_loads')} where status = 0")
    except Exception:  # noqa: BLE001 - no _dlt_loads beside the models: the header leaves it out
        return None
    return rows[0][0] if rows else None


def _configured_title() -> str | None:
    import dlt

    value: Any = dlt.config.get("class_elt.school_name")
    return str(value) if value else None


# --- the page ------------------------------------------------------------------------------------


def render_report(data: ReportData) -> str:
    """The whole HTML page for `data`."""
    import plotly.offline

    term = data.tables["term"][0] if data.tables["term"] else {}
    weeks = data.tables["school_weeks"]
    payload = {
        "schoolWeeks": _columns(weeks),
        "classWeeks": _class_series(data.tables["class_weeks"]),
        "classes": _columns(data.tables["classes"]),
        "instructors": _columns(data.tables["instructors"]),
    }
    page = _asset("report.html")
    replacements = {
        "{{title}}": html.escape(data.title),
        "{{style}}": _asset("report.css"),
        "{{header}}": _header(data, term),
        "{{kpis}}": _kpis(weeks, term),
        "{{chronic_table}}": _chronic_table(data.tables["chronic"]),
        "{{instructor_table}}": _instructor_table(data.tables["instructors"]),
        "{{class_options}}": "".join(
            f'<option value="{html.escape(str(row["class_id"]))}">{html.escape(str(row["class_name"]))}</option>'
            for row in data.tables["classes"]
        ),
        "{{data}}": _script_json(payload),
        "{{plotly}}": plotly.offline.get_plotlyjs(),
        "{{script}}": _asset("report.js"),
    }
    # one pass, in order, so text inserted by one placeholder is never read as another
    for placeholder, value in replacements.items():
        before, found, after = page.partition(placeholder)
        if not found:
            raise RuntimeError(f"report template lacks {placeholder}")
        page = before + value + after
    return page


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(_ASSETS).joinpath(name).read_text(encoding="utf-8")


def _header(data: ReportData, term: Mapping[str, Any]) -> str:
    facts = [
        (
            "Period (held sessions)",
            f"{_date(term.get('first_day'))} to {_date(term.get('last_day'))}" if term.get("first_day") else "none yet",
        ),
        ("Newest session ended", _datetime(term.get("newest_session_end"))),
        ("Last load", _datetime(data.loaded_at)),
    ]
    items = "".join(f"<div><dt>{label}</dt><dd>{html.escape(value)}</dd></div>" for label, value in facts)
    return f'<h1>{html.escape(data.title)} <span class="subtitle">attendance and engagement</span></h1><dl class="facts">{items}</dl>'


def _kpis(weeks: Sequence[Mapping[str, Any]], term: Mapping[str, Any]) -> str:
    held = [week for week in weeks if (week.get("sessions_held") or 0) > 0]
    latest = held[-1] if held else None
    tiles = [
        (
            "sessions_held",
            "Sessions held",
            _count(latest["sessions_held"]) if latest else "none yet",
            f"week of {_date(latest['week_start'])}; week before: {_count(latest['sessions_held_week_before'] or 0)}"
            if latest
            else "no sessions held yet",
        ),
        (
            "week_attendance_rate",
            "Attendance this week",
            _percent(latest["attendance_rate"]) if latest else "n/a",
            _change(latest["attendance_rate_change"]) if latest else "students, held sessions",
        ),
        ("term_attendance_rate", "Attendance this term", _percent(term.get("attendance_rate")), "students, held sessions"),
        (
            "chronically_absent_students",
            "Chronically absent",
            _count(term.get("chronically_absent_students") or 0),
            "students (in at least one class)",
        ),
        (
            "avg_attended_minutes",
            "Minutes attended",
            _number(term.get("avg_attended_minutes")),
            "per student per session attended",
        ),
    ]
    return "".join(
        f'<div class="kpi" data-kpi="{key}"><div class="kpi-label">{label}</div>'
        f'<div class="kpi-value">{html.escape(value)}</div><div class="kpi-note">{html.escape(note)}</div></div>'
        for key, label, value, note in tiles
    )


def _chronic_table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return '<p class="empty">No chronically absent students.</p>'
    head = "".join(
        f"<th>{name}</th>" for name in ("Class", "Student", "Student id", "Expected", "Absent", "Rate", "Current streak", "Last attended")
    )
    body = "".join(
        '<tr data-class-id="{}">{}</tr>'.format(
            html.escape(str(row["class_id"])),
            "".join(
                f"<td>{html.escape(value)}</td>"
                for value in (
                    str(row["class_name"] or row["class_id"]),
                    str(row["student_name"] or ""),
                    str(row["student_id"]),
                    _count(row["sessions_expected"]),
                    _count(row["sessions_absent"]),
                    _percent(row["attendance_rate"]),
                    _count(row["current_absence_streak"] or 0),
                    _date(row["last_attended_date"]) if row["last_attended_date"] else "never",
                )
            ),
        )
        for row in rows
    )
    return f'<table id="chronic-absence"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _instructor_table(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return '<p class="empty">No sessions taught yet.</p>'
    head = "".join(
        f"<th>{name}</th>" for name in ("Instructor", "Sessions taught", "On-time starts", "Student attendance", "Hand raises per attendee")
    )
    body = "".join(
        "<tr>{}</tr>".format(
            "".join(
                f"<td>{html.escape(value)}</td>"
                for value in (
                    str(row["instructor_name"]),
                    _count(row["sessions_taught"]),
                    _percent(row["on_time_share"]),
                    _percent(row["student_attendance_rate"]),
                    _number(row["hand_raises_per_attendee"], digits=2),
                )
            )
        )
        for row in rows
    )
    return f'<table id="instructors"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Rows as columns (smaller JSON, and what Plotly's traces take)."""
    names = list(rows[0]) if rows else []
    return {name: [_json_value(row[name]) for row in rows] for name in names}


def _class_series(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, list[Any]]]:
    """Weekly rows per class, as columns: what the class filter swaps into the charts."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(str(row["class_id"]), []).append(row)
    return {class_id: _columns([{k: v for k, v in row.items() if k != "class_id"} for row in weeks]) for class_id, weeks in grouped.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def _script_json(payload: Any) -> str:
    # inside <script>: "</" would end the element early
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def _percent(value: Any) -> str:
    return "n/a" if value is None else f"{float(value) * 100:.1f}%"


def _change(value: Any) -> str:
    if value is None:
        return "no week before to compare"
    points = float(value) * 100
    return f"{points:+.1f} points on the week before"


def _count(value: Any) -> str:
    return f"{int(value):,}"


def _number(value: Any, digits: int = 1) -> str:
    return "n/a" if value is None else f"{float(value):,.{digits}f}"


def _date(value: Any) -> str:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)


def _datetime(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)
