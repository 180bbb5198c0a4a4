"""SQL models and their runner (class_source/models.py, sql/).

The mart expectations below are worked out by hand from tests/models_fixture.py (the arithmetic is
in the comments), then compared with what build_models produces on DuckDB and on PostgreSQL.
Snapshots of the transpiled SQL live in tests/snapshots/models/<dialect>/; regenerate them with
UPDATE_SNAPSHOTS=1 after changing a model, and review the diff.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
import pytest
import sqlglot
from sqlglot import exp

from class_source.models import (
    RAW_TABLES,
    SQL_DIR,
    BuiltModel,
    Model,
    ModelError,
    ModelSettings,
    build_models,
    comment_sql,
    dialect_for_destination,
    drop_models,
    grain_summary_sql,
    load_models,
    render,
)
from models_fixture import RAW_ROWS, at, load_raw_tables, postgres_url, postgres_user

SNAPSHOT_DIR = Path(__file__).parent / "snapshots" / "models"
SNAPSHOT_DIALECTS = ("postgres", "bigquery", "snowflake")
MODEL_NAMES = sorted(path.stem for path in SQL_DIR.glob("*/*.sql"))
DESTINATIONS = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]


@functools.lru_cache(maxsize=None)
def models_by_name() -> dict[str, Model]:
    return {model.name: model for model in load_models()}


# --- destinations --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_user() -> str:
    user = postgres_user()
    if user is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432, and CI requires the Postgres model tests to run")
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432 (these tests always run in CI)")
    return user


def _new_pipeline(destination: str, base: Path, request: pytest.FixtureRequest) -> dlt.Pipeline:
    """A pipeline with its own dataset; the Postgres dataset is dropped when the test (or module) ends."""
    name = f"models_{uuid.uuid4().hex[:10]}"
    if destination == "duckdb":
        target = dlt.destinations.duckdb(str(base / f"{name}_warehouse.duckdb"))
    else:
        target = dlt.destinations.postgres(postgres_url(request.getfixturevalue("pg_user")))
    pipeline = dlt.pipeline(
        pipeline_name=name, destination=target, dataset_name=name, pipelines_dir=str(base / "pipelines")
    )
    if destination == "postgres":
        request.addfinalizer(functools.partial(_drop_dataset, pipeline))
    return pipeline


def _drop_dataset(pipeline: dlt.Pipeline) -> None:
    """Drop the dataset and the staging dataset dlt loads replaced tables through."""
    with pipeline.sql_client() as client:
        if client.has_dataset():
            client.drop_dataset()
        with client.with_staging_dataset():
            if client.has_dataset():
                client.drop_dataset()


@pytest.fixture(params=DESTINATIONS)
def new_pipeline(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Factory: fresh pipelines on the parametrized destination."""
    return lambda: _new_pipeline(request.param, tmp_path, request)


@dataclass
class Warehouse:
    destination: str
    pipeline: dlt.Pipeline
    built: list[BuiltModel]
    progress: list[str]

    def rows(self, model: str) -> list[dict[str, Any]]:
        """All rows of `model`, normalized for comparison, ordered by its grain."""
        grain = models_by_name()[model].grain
        with self.pipeline.sql_client() as client:
            with client.execute_query(f"select * from {client.make_qualified_table_name(model)}") as cursor:
                columns = [d[0] for d in cursor.description]
                rows = [dict(zip(columns, map(_normalize, row), strict=True)) for row in cursor.fetchall()]
        return sorted(rows, key=lambda row: tuple(_sort_key(row[column]) for column in grain))

    def relation_kinds(self) -> dict[str, str]:
        with self.pipeline.sql_client() as client:
            rows = client.execute_sql(
                "select table_name, table_type from information_schema.tables where table_schema = %s",
                client.dataset_name,
            )
        return {name: kind for name, kind in rows}


@pytest.fixture(scope="module", params=DESTINATIONS)
def warehouse(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """The hand-made fixture loaded by dlt and every model built on it, once per destination."""
    pipeline = _new_pipeline(request.param, tmp_path_factory.mktemp(request.param), request)
    load_raw_tables(pipeline)
    progress: list[str] = []
    built = build_models(pipeline, progress=progress.append)
    yield Warehouse(request.param, pipeline, built, progress)


def _normalize(value: Any) -> Any:
    if isinstance(value, (float, Decimal)):
        return round(float(value), 9)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc)
    return value


def _sort_key(value: Any) -> tuple[int, Any]:
    return (1, "") if value is None else (0, value)


def _expected(columns: str, rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    names = columns.split()
    assert all(len(row) == len(names) for row in rows), "expected row of the wrong width"
    return [{name: _normalize(value) for name, value in zip(names, row, strict=True)} for row in rows]


# --- hand-computed marts -------------------------------------------------------------------------
#
# The data's as-of time is 2024-03-05 14:20 (dev's video-on event in s4 ends then; nothing later is
# reported): s4 (14:00-15:00) is live, sch-6 and sch-8 are past without a session (missed), sch-3
# and sch-5 are ahead (upcoming). The join-before-host allowance is 10 minutes: s1 takes events
# from 09:50 on. Time zone UTC (the default): local dates are UTC dates.

S1_START, S1_END = at(4, "10:00"), at(4, "11:00")  # c1/s1: 3600 s
S2_START, S2_END = at(5, "10:00"), at(5, "11:00")  # c1/s2: 3600 s
S3_START, S3_END = at(4, "14:00"), at(4, "14:30")  # c2/s3: 1800 s
S4_START, S4_END = at(5, "14:00"), at(5, "15:00")  # c2/s4: 3600 s, live
MAR_4, MAR_5 = dt.date(2024, 3, 4), dt.date(2024, 3, 5)

EXPECTED_SESSION_ATTENDANCE = _expected(
    "class_id class_name session_id session_date session_status session_start_time session_end_time "
    "session_seconds student_id student_name email ext_person_id enrollment_role person_type is_enrolled "
    "present tardy join_time leave_time attended_seconds attended_ratio",
    [
        # ana joined 09:58 and left 11:05: clipped to the window 10:00-11:00 = 3600 s; 3600 / 3600 = 1
        ("c1", "Algebra I", "s1", MAR_4, "held", S1_START, S1_END, 3600, "ana", "Ana Lima", "ana@demo.com", "a.lima",
         "student", "student", True, True, False, at(4, "09:58"), at(4, "11:05"), 3600, 1.0),
        # the teacher joined 09:52 (before the start): 10:00-11:00 = 3600 s; staff
        ("c1", "Algebra I", "s1", MAR_4, "held", S1_START, S1_END, 3600, "anne", "Anne Malley", "anne.malley@demo.com",
         "a.malley", "teacher", "staff", True, True, False, at(4, "09:52"), S1_END, 3600, 1.0),
        # ben (tardy, no e-mail anywhere) 10:10-11:00 = 50 min = 3000 s; 3000 / 3600 = 0.8333...
        ("c1", "Algebra I", "s1", MAR_4, "held", S1_START, S1_END, 3600, "ben", "Ben Okafor", None, "b.okafor",
         "student", "student", True, True, True, at(4, "10:10"), at(4, "11:00"), 3000, 3000 / 3600),
        # cara never joined: 0 s, ratio 0; her ext_person_id is unknown everywhere
        ("c1", "Algebra I", "s1", MAR_4, "held", S1_START, S1_END, 3600, "cara", "Cara Diaz", "cara@demo.com", None,
         "student", "student", True, False, False, None, None, 0, 0.0),
        # the assistant: 10:00-10:30 = 1800 s; staff
        ("c1", "Algebra I", "s1", MAR_4, "held", S1_START, S1_END, 3600, "gus", "Gus Berg", "gus@demo.com", None,
         "assistant", "staff", True, True, False, S1_START, at(4, "10:30"), 1800, 0.5),
        # ana left early: 10:00-10:30 = 1800 s; 1800 / 3600 = 0.5
        ("c1", "Algebra I", "s2", MAR_5, "held", S2_START, S2_END, 3600, "ana", "Ana Lima", "ana@demo.com", "a.lima",
         "student", "student", True, True, False, S2_START, at(5, "10:30"), 1800, 0.5),
        # ben joined at 10:00:00.500: 11:00 - 10:00:00.5 = 3599.5 s; 3599.5 / 3600 = 0.99986111...
        ("c1", "Algebra I", "s2", MAR_5, "held", S2_START, S2_END, 3600, "ben", "Ben Okafor", None, "b.okafor",
         "student", "student", True, True, False, at(5, "10:00:00.500"), S2_END, 3599.5, 3599.5 / 3600),
        # cara's leave_time was never reported: attended time unknown -> null, not a guess
        ("c1", "Algebra I", "s2", MAR_5, "held", S2_START, S2_END, 3600, "cara", "Cara Diaz", "cara@demo.com", None,
         "student", "student", True, True, True, at(5, "10:05"), None, None, None),
        # the report's e-mail for ana here is an old one: her enrollment's e-mail wins; 14:00-14:30 = 1800 s
        ("c2", "Biology", "s3", MAR_4, "held", S3_START, S3_END, 1800, "ana", "Ana Lima", "ana@demo.com", "a.lima",
         "student", "student", True, True, False, S3_START, S3_END, 1800, 1.0),
        ("c2", "Biology", "s3", MAR_4, "held", S3_START, S3_END, 1800, "dev", "Dev Patel", "dev@demo.com", "d.patel",
         "student", "student", True, False, False, None, None, 0, 0.0),
        # eli is on no roster: role falls back to student; e-mail from the report; 14:05-14:20 = 900 s
        ("c2", "Biology", "s3", MAR_4, "held", S3_START, S3_END, 1800, "eli", None, "eli@guest.com", None,
         "student", "student", False, True, True, at(4, "14:05"), at(4, "14:20"), 900, 0.5),
        # s4 is live: ana has not joined (0 s so far), dev is in (no leave_time: null)
        ("c2", "Biology", "s4", MAR_5, "live", S4_START, S4_END, 3600, "ana", "Ana Lima", "ana@demo.com", "a.lima",
         "student", "student", True, False, False, None, None, 0, 0.0),
        ("c2", "Biology", "s4", MAR_5, "live", S4_START, S4_END, 3600, "dev", "Dev Patel", "dev@demo.com", "d.patel",
         "student", "student", True, True, False, at(5, "14:02"), None, None, None),
    ],
)

EXPECTED_EVENT_DURATIONS = _expected(
    "class_id session_id activity_date student_id enrollment_role person_type event_type event_value event_count "
    "total_seconds merged_seconds islands first_event_start last_event_start last_event_end",
    [
        # the early joiner: 09:58-11:00 starts in s1's allowance (from 09:50), so it belongs to s1;
        # whole event 3720 s (the raw event_duration of 36000 is ignored), counted within her stay
        # 10:00-11:00 (joined 09:58, left 11:05, clipped to the window) = 3600 s
        ("c1", "s1", MAR_4, "ana", "student", "student", "FOCUSED", "true", 1, 3720, 3600, 1,
         at(4, "09:58"), at(4, "09:58"), at(4, "11:00")),
        # 10:09-10:20 = 660 s
        ("c1", "s1", MAR_4, "ana", "student", "student", "IS_TALKING", "false", 1, 660, 660, 1,
         at(4, "10:09"), at(4, "10:09"), at(4, "10:20")),
        # five events: 10:05-10:07 (120) + 10:06-10:08:30 (150) + 10:08:30-10:09 (30) + 10:05:30-10:06 (30)
        #   + 10:20-10:21:00.250 (60.25) = 390.25 s in total;
        # merged: 10:05-10:09 is one island (overlap, containment, touching) = 240 s, plus 60.25 = 300.25 s;
        # event by event in start order: 120 + 0 (inside) + 90 (10:07-10:08:30) + 30 + 60.25 = 300.25
        ("c1", "s1", MAR_4, "ana", "student", "student", "IS_TALKING", "true", 5, 390.25, 300.25, 2,
         at(4, "10:05"), at(4, "10:20"), at(4, "10:21:00.250")),
        # 10:00-10:30 = 1800 s
        ("c1", "s1", MAR_4, "ana", "student", "student", "IS_VIDEO_ON", "true", 1, 1800, 1800, 1,
         at(4, "10:00"), at(4, "10:00"), at(4, "10:30")),
        # hand lowered: a 0-second event at 10:04:10
        ("c1", "s1", MAR_4, "ana", "student", "student", "RAISED_HAND", "0", 1, 0, 0, 1,
         at(4, "10:04:10"), at(4, "10:04:10"), at(4, "10:04:10")),
        # 10:04:00-10:04:10 = 10 s
        ("c1", "s1", MAR_4, "ana", "student", "student", "RAISED_HAND", "1", 1, 10, 10, 1,
         at(4, "10:04"), at(4, "10:04"), at(4, "10:04:10")),
        # STARS 1 and 2 at the same instant: two events, two rows
        ("c1", "s1", MAR_4, "ana", "student", "student", "STARS", "1", 1, 0, 0, 1, at(4, "10:40"), at(4, "10:40"), at(4, "10:40")),
        ("c1", "s1", MAR_4, "ana", "student", "student", "STARS", "2", 1, 0, 0, 1, at(4, "10:40"), at(4, "10:40"), at(4, "10:40")),
        ("c1", "s1", MAR_4, "ana", "student", "student", "STARS", "3", 1, 0, 0, 1, at(4, "10:50"), at(4, "10:50"), at(4, "10:50")),
        # the teacher talks 09:55-10:03 (480 s): in s1's allowance; her stay counts from 10:00 -> 180 s
        ("c1", "s1", MAR_4, "anne", "teacher", "staff", "IS_TALKING", "true", 1, 480, 180, 1,
         at(4, "09:55"), at(4, "09:55"), at(4, "10:03")),
        ("c1", "s1", MAR_4, "ben", "student", "student", "FEEDBACK", "faster", 1, 0, 0, 1,
         at(4, "10:20"), at(4, "10:20"), at(4, "10:20")),
        # 10:10-10:40 (1800) + 10:30-10:50 (1200) = 3000 s; merged 10:10-10:50 = 2400 s, one island
        ("c1", "s1", MAR_4, "ben", "student", "student", "IS_AUDIO_MUTED", "true", 2, 3000, 2400, 1,
         at(4, "10:10"), at(4, "10:30"), at(4, "10:50")),
        # runs past the end: 10:45-11:10 = 1500 s whole; ben left at 11:00 -> 10:45-11:00 = 900 s counted
        ("c1", "s1", MAR_4, "ben", "student", "student", "IS_TALKING", "true", 1, 1500, 900, 1,
         at(4, "10:45"), at(4, "10:45"), at(4, "11:10")),
        # 10:30-10:45 = 900 s
        ("c1", "s1", MAR_4, "ben", "student", "student", "PRESENTING", "true", 1, 900, 900, 1,
         at(4, "10:30"), at(4, "10:30"), at(4, "10:45")),
        ("c1", "s1", MAR_4, "ben", "student", "student", "RAISED_HAND", None, 1, 5, 5, 1,
         at(4, "10:25"), at(4, "10:25"), at(4, "10:25:05")),
        ("c1", "s1", MAR_4, "ben", "student", "student", "REACTION", "clap", 1, 0, 0, 1,
         at(4, "10:15"), at(4, "10:15"), at(4, "10:15")),
        ("c1", "s1", MAR_4, "ben", "student", "student", "REACTION", "thumbup", 1, 0, 0, 1,
         at(4, "10:16"), at(4, "10:16"), at(4, "10:16")),
        # the value the API sent as null: null here too
        ("c1", "s1", MAR_4, "ben", "student", "student", "REACTION", None, 1, 0, 0, 1,
         at(4, "10:26"), at(4, "10:26"), at(4, "10:26")),
        # an undocumented type is kept (and warned about): 10:27-10:28 = 60 s
        ("c1", "s1", MAR_4, "ben", "student", "student", "WAVING", "true", 1, 60, 60, 1,
         at(4, "10:27"), at(4, "10:27"), at(4, "10:28")),
        # the assistant: 10:10-10:11 = 60 s
        ("c1", "s1", MAR_4, "gus", "assistant", "staff", "IS_TALKING", "true", 1, 60, 60, 1,
         at(4, "10:10"), at(4, "10:10"), at(4, "10:11")),
        # 10:20-10:20:05 (5) + 10:25-10:25:05 (5) = 10 s, apart: two islands
        ("c1", "s2", MAR_5, "ana", "student", "student", "RAISED_HAND", "1", 2, 10, 10, 2,
         at(5, "10:20"), at(5, "10:25"), at(5, "10:25:05")),
        # the teacher, missing from s2's report: counted within the session window, 10:01-10:02 = 60 s
        ("c1", "s2", MAR_5, "anne", "teacher", "staff", "IS_TALKING", "true", 1, 60, 60, 1,
         at(5, "10:01"), at(5, "10:01"), at(5, "10:02")),
        # 10:10-10:12 (120) + 10:11-10:11:30 (30, inside the first) = 150 s; merged 120 s, one island
        ("c1", "s2", MAR_5, "ben", "student", "student", "IS_TALKING", "true", 2, 150, 120, 1,
         at(5, "10:10"), at(5, "10:11"), at(5, "10:12")),
        # 10:05-10:35 = 1800 s (cara's stay counts to the session end: her leave is not reported)
        ("c1", "s2", MAR_5, "cara", "student", "student", "IS_VIDEO_ON", "true", 1, 1800, 1800, 1,
         at(5, "10:05"), at(5, "10:05"), at(5, "10:35")),
        # outside every session, dated 03-04: 09:45-09:49 (before s1's allowance, 240 s) and 11:00-11:01
        # (s1's end is exclusive, 60 s) -> 2 events, 300 s, merged 240 + 60 = 300 s (not clipped), 2 islands
        ("c1", None, MAR_4, "ana", "student", "student", "IS_TALKING", "true", 2, 300, 300, 2,
         at(4, "09:45"), at(4, "11:00"), at(4, "11:01")),
        # 14:00-14:30 = 1800 s
        ("c2", "s3", MAR_4, "ana", "student", "student", "FOCUSED", "true", 1, 1800, 1800, 1,
         at(4, "14:00"), at(4, "14:00"), at(4, "14:30")),
        # eli is on no roster: a student; 14:06-14:08 = 120 s
        ("c2", "s3", MAR_4, "eli", "student", "student", "IS_TALKING", "true", 1, 120, 120, 1,
         at(4, "14:06"), at(4, "14:06"), at(4, "14:08")),
        # s4, live: 14:02-14:20 = 1080 s, within dev's stay (14:02 to the session end so far)
        ("c2", "s4", MAR_5, "dev", "student", "student", "IS_VIDEO_ON", "true", 1, 1080, 1080, 1,
         at(5, "14:02"), at(5, "14:02"), at(5, "14:20")),
    ],
)

EXPECTED_ENGAGEMENT = _expected(
    "class_id session_id student_id session_date session_status enrollment_role person_type on_attendance_roster "
    "attended attended_seconds talk_seconds video_on_seconds focused_seconds muted_seconds presenting_seconds "
    "hand_raises reactions feedback_count stars events",
    [
        # talk: merged islands 240 + 60.25 = 300.25 s; video 1800; focused 3600 (= attended, not 0 as
        # before the allowance, nor 3720); one RAISED_HAND=1; stars max(1, 2, 3) = 3;
        # events 5 talk-true + 1 talk-false + 2 hand + 1 video + 3 stars + 1 focused = 13
        ("c1", "s1", "ana", MAR_4, "held", "student", "student", True, True, 3600, 300.25, 1800, 3600, 0, 0, 1, 0, 0, 3, 13),
        ("c1", "s1", "anne", MAR_4, "held", "teacher", "staff", True, True, 3600, 180, 0, 0, 0, 0, 0, 0, 0, None, 1),
        # talk 900 (clipped at his 11:00 leave); muted merged 2400; presenting 900; reactions clap,
        # thumbup and the valueless one = 3; the valueless hand raise is not a raise; 1 feedback;
        # events 2 muted + 3 reactions + 1 feedback + 1 presenting + 1 talk + 1 hand + 1 waving = 10
        ("c1", "s1", "ben", MAR_4, "held", "student", "student", True, True, 3000, 900, 0, 0, 2400, 900, 0, 3, 1, None, 10),
        ("c1", "s1", "cara", MAR_4, "held", "student", "student", True, False, 0, 0, 0, 0, 0, 0, 0, 0, 0, None, 0),
        ("c1", "s1", "gus", MAR_4, "held", "assistant", "staff", True, True, 1800, 60, 0, 0, 0, 0, 0, 0, 0, None, 1),
        # two RAISED_HAND=1 events
        ("c1", "s2", "ana", MAR_5, "held", "student", "student", True, True, 1800, 0, 0, 0, 0, 0, 2, 0, 0, None, 2),
        # the teacher: not on s2's report, but her event places her there; attended time unknown
        ("c1", "s2", "anne", MAR_5, "held", "teacher", "staff", False, True, None, 60, 0, 0, 0, 0, 0, 0, 0, None, 1),
        # talk merged 120 (not 150)
        ("c1", "s2", "ben", MAR_5, "held", "student", "student", True, True, 3599.5, 120, 0, 0, 0, 0, 0, 0, 0, None, 2),
        ("c1", "s2", "cara", MAR_5, "held", "student", "student", True, True, None, 0, 1800, 0, 0, 0, 0, 0, 0, None, 1),
        ("c2", "s3", "ana", MAR_4, "held", "student", "student", True, True, 1800, 0, 0, 1800, 0, 0, 0, 0, 0, None, 1),
        ("c2", "s3", "dev", MAR_4, "held", "student", "student", True, False, 0, 0, 0, 0, 0, 0, 0, 0, 0, None, 0),
        ("c2", "s3", "eli", MAR_4, "held", "student", "student", True, True, 900, 120, 0, 0, 0, 0, 0, 0, 0, None, 1),
        ("c2", "s4", "ana", MAR_5, "live", "student", "student", True, False, 0, 0, 0, 0, 0, 0, 0, 0, 0, None, 0),
        ("c2", "s4", "dev", MAR_5, "live", "student", "student", True, True, None, 0, 1080, 0, 0, 0, 0, 0, 0, None, 1),
    ],
)

EXPECTED_CLASSES = _expected(
    "class_id ext_class_id class_name class_description class_status meeting_id host_name "
    "instructor_email invite_link class_deferred_id deferred_created_at deferred_updated_at",
    [
        ("c1", "alg-1", "Algebra I", "Linear equations", "regular", "m-1", "Anne Malley", None,
         "https://demo.class.com/c1", None, None, None),
        ("c2", "bio-1", "Biology", None, "regular", "m-2", "James Lloyd", None,
         "https://demo.class.com/c2", None, None, None),
        ("c3", "chem-1", "Chemistry", "Atoms", "deferred", None, None, "chaya.meyer@demo.com",
         None, 7, at(1, "09:00"), at(2, "09:00")),
        # known only from a schedule row
        ("c9", None, None, None, "unlisted", None, None, None, None, None, None, None),
    ],
)

EXPECTED_STUDENTS = _expected(
    "student_id student_name first_name last_name email ext_person_id enrolled_classes "
    "classes_as_student classes_as_staff roster_sessions sessions_present",
    [
        # enrolled in c1 and c2; on the reports of s1, s2, s3, s4; present at s1, s2, s3 (not yet at s4)
        ("ana", "Ana Lima", "Ana", "Lima", "ana@demo.com", "a.lima", 2, 2, 0, 4, 3),
        # no e-mail in enrollments, attendance or events: stays null
        ("ben", "Ben Okafor", "Ben", "Okafor", None, "b.okafor", 2, 2, 0, 2, 2),
        # absent from s1, present in s2
        ("cara", "Cara Diaz", "Cara", "Diaz", "cara@demo.com", None, 1, 1, 0, 2, 1),
        # absent from s3, in s4 (live)
        ("dev", "Dev Patel", "Dev", "Patel", "dev@demo.com", "d.patel", 1, 1, 0, 2, 1),
        ("eli", None, None, None, "eli@guest.com", None, 0, 0, 0, 1, 1),
        # anne (teacher) and gus (assistant) are staff: in dim_instructors, not here
    ],
)

EXPECTED_INSTRUCTORS = _expected(
    "instructor_id instructor_name first_name last_name email ext_person_id classes_as_teacher "
    "classes_as_assistant sessions_taught user_id organization_user_name is_zoom_configured",
    [
        # held sessions attended as staff: s1 (on the report) and s2 (her event there); user 1 by e-mail
        ("anne", "Anne Malley", "Anne", "Malley", "anne.malley@demo.com", "a.malley", 1, 0, 2, 1, "Anne Malley", True),
        # no organization user with gus's e-mail
        ("gus", "Gus Berg", "Gus", "Berg", "gus@demo.com", None, 0, 1, 1, None, None, None),
    ],
)

EXPECTED_SESSIONS = _expected(
    "class_id class_name session_id session_date session_status session_start_time session_end_time session_seconds "
    "roster_students present_students tardy_students staff_present attendance_rate",
    [
        # students ana, ben (tardy) present, cara absent -> 2/3; the teacher and the assistant came
        ("c1", "Algebra I", "s1", MAR_4, "held", S1_START, S1_END, 3600, 3, 2, 1, 2, 2 / 3),
        # all three students present, cara tardy -> 3/3; the teacher is not on the report
        ("c1", "Algebra I", "s2", MAR_5, "held", S2_START, S2_END, 3600, 3, 3, 1, 0, 1.0),
        # ana and eli (tardy) present, dev absent -> 2/3
        ("c2", "Biology", "s3", MAR_4, "held", S3_START, S3_END, 1800, 3, 2, 1, 0, 2 / 3),
        # live: dev in so far, ana not; no rate until it is held
        ("c2", "Biology", "s4", MAR_5, "live", S4_START, S4_END, 3600, 2, 1, 0, 0, None),
    ],
)

EXPECTED_SCHEDULED_SESSIONS = _expected(
    "schedule_id class_id scheduled_start_time scheduled_end_time scheduled_start_local scheduled_end_local "
    "scheduled_date scheduled_seconds session_id session_status session_start_time session_end_time "
    "students_expected students_present students_absent students_tardy teacher_join_offset_seconds",
    [
        # s1 starts exactly on time; the teacher joined at 09:52: 8 minutes early = -480 s
        ("sch-1", "c1", S1_START, S1_END, S1_START.replace(tzinfo=None), S1_END.replace(tzinfo=None), MAR_4, 3600,
         "s1", "held", S1_START, S1_END, 3, 2, 1, 1, -480),
        # the teacher is not on s2's report: no join time
        ("sch-2", "c1", S2_START, S2_END, S2_START.replace(tzinfo=None), S2_END.replace(tzinfo=None), MAR_5, 3600,
         "s2", "held", S2_START, S2_END, 3, 3, 0, 1, None),
        # after the as-of time: upcoming; expected = c1's students on the roster (ana, ben, cara)
        ("sch-3", "c1", at(6, "10:00"), at(6, "11:00"), dt.datetime(2024, 3, 6, 10), dt.datetime(2024, 3, 6, 11),
         dt.date(2024, 3, 6), 3600, None, "upcoming", None, None, 3, None, None, None, None),
        ("sch-4", "c2", S3_START, S3_END, S3_START.replace(tzinfo=None), S3_END.replace(tzinfo=None), MAR_4, 1800,
         "s3", "held", S3_START, S3_END, 3, 2, 1, 1, None),
        # c3's roster: ben
        ("sch-5", "c3", at(10, "09:00"), at(10, "10:00"), dt.datetime(2024, 3, 10, 9), dt.datetime(2024, 3, 10, 10),
         dt.date(2024, 3, 10), 3600, None, "upcoming", None, None, 1, None, None, None, None),
        # start passed, no session: missed; c9 has no roster left
        ("sch-6", "c9", at(1, "08:00"), at(1, "09:00"), dt.datetime(2024, 3, 1, 8), dt.datetime(2024, 3, 1, 9),
         dt.date(2024, 3, 1), 3600, None, "missed", None, None, 0, None, None, None, None),
        # live: present so far 1 (dev), absent not known yet
        ("sch-7", "c2", S4_START, S4_END, S4_START.replace(tzinfo=None), S4_END.replace(tzinfo=None), MAR_5, 3600,
         "s4", "live", S4_START, S4_END, 2, 1, None, 0, None),
        # no c2 session starts within [15:50, 16:30): missed; c2's students ana, dev expected
        ("sch-8", "c2", at(4, "16:00"), at(4, "16:30"), dt.datetime(2024, 3, 4, 16), dt.datetime(2024, 3, 4, 16, 30),
         MAR_4, 1800, None, "missed", None, None, 2, None, None, None, None),
    ],
)

EXPECTED_STUDENT_CLASS_ATTENDANCE = _expected(
    "class_id student_id sessions_expected sessions_present sessions_absent sessions_tardy attendance_rate "
    "attended_minutes current_absence_streak longest_absence_streak last_attended_session_start last_attended_date "
    "trailing_4_week_rate is_chronically_absent avg_talk_minutes avg_hand_raises",
    [
        # held sessions s1, s2 (both within 28 days of the as-of time); (3600 + 1800) s = 90 min;
        # talk (300.25 + 0) s / 60 / 2 attended = 2.50208...; hand raises (1 + 2) / 2 = 1.5
        ("c1", "ana", 2, 2, 0, 0, 1.0, 90, 0, 0, S2_START, MAR_5, 1.0, False, 300.25 / 60 / 2, 1.5),
        # (3000 + 3599.5) s = 109.99166... min; talk (900 + 120) / 60 / 2 = 8.5
        ("c1", "ben", 2, 2, 0, 1, 1.0, 6599.5 / 60, 0, 0, S2_START, MAR_5, 1.0, False, 8.5, 0.0),
        # absent s1 then present s2 (leave not reported: 0 minutes known); 1 absent of 2 = 50 % >= 10 %
        ("c1", "cara", 2, 1, 1, 1, 0.5, 0, 0, 1, S2_START, MAR_5, 0.5, True, 0.0, 0.0),
        # c2: only s3 is held (s4 is live); 1800 s = 30 min
        ("c2", "ana", 1, 1, 0, 0, 1.0, 30, 0, 0, S3_START, MAR_4, 1.0, False, 0.0, 0.0),
        # absent from the one held session: streak 1, chronically absent, no attended session to average
        ("c2", "dev", 1, 0, 1, 0, 0.0, 0, 1, 1, None, None, 0.0, True, None, None),
        # on no roster but on the report as a student: 900 s = 15 min; talk 120 s = 2 min
        ("c2", "eli", 1, 1, 0, 1, 1.0, 15, 0, 0, S3_START, MAR_4, 1.0, False, 2.0, 0.0),
        # enrolled in c3, which never held a session
        ("c3", "ben", 0, 0, 0, 0, None, 0, 0, 0, None, None, None, False, None, None),
    ],
)

EXPECTED_CLASS_SUMMARY = _expected(
    "class_id class_name class_status sessions_scheduled sessions_missed sessions_upcoming sessions_held "
    "sessions_live first_session_start last_session_end students_enrolled avg_attendance_rate attendee_sessions "
    "total_talk_minutes avg_talk_minutes_per_attendee staff_talk_minutes",
    [
        # 3 schedules (sch-3 upcoming), 2 held; students ana, ben, cara (not the teacher nor the assistant);
        # rate (2/3 + 3/3) / 2 = 5/6; attendees s1: ana, ben; s2: ana, ben, cara = 5; their talk
        # 300.25 + 900 + 0 + 120 + 0 = 1320.25 s = 22.00416 min, / 5 = 4.40083; staff: anne 180 + 60, gus 60 = 300 s
        ("c1", "Algebra I", "regular", 3, 0, 1, 2, 0, S1_START, S2_END, 3, 5 / 6, 5, 1320.25 / 60, 1320.25 / 60 / 5, 5.0),
        # sch-4 held (s3), sch-7 live (s4), sch-8 missed; rate of s3 only: 2/3; attendees ana (0 s), eli (120 s)
        ("c2", "Biology", "regular", 3, 1, 0, 1, 1, S3_START, S4_END, 2, 2 / 3, 2, 2.0, 1.0, 0.0),
        # deferred: scheduled once (upcoming), never held, ben enrolled
        ("c3", "Chemistry", "deferred", 1, 0, 1, 0, 0, None, None, 1, None, 0, 0.0, None, 0.0),
        ("c9", None, "unlisted", 1, 1, 0, 0, 0, None, None, 0, None, 0, 0.0, None, 0.0),
    ],
)

# dates from the Monday of 2024-03-01's week (02-26) to the last schedule (03-10)
EXPECTED_DATES = _expected(
    "date_day week_start iso_year iso_week calendar_year month_number month_start day_of_week is_weekend "
    "school_week scheduled_sessions",
    [
        (dt.date(2024, 2, 26) + dt.timedelta(days=n),
         dt.date(2024, 2, 26) if n < 7 else MAR_4,
         2024,
         9 if n < 7 else 10,
         2024,
         2 if n < 4 else 3,
         dt.date(2024, 2, 1) if n < 4 else dt.date(2024, 3, 1),
         n % 7 + 1,
         n % 7 >= 5,
         1 if n < 7 else 2,
         # 03-01: sch-6; 03-04: sch-1, sch-4, sch-8; 03-05: sch-2, sch-7; 03-06: sch-3; 03-10: sch-5
         {4: 1, 7: 3, 8: 2, 9: 1, 13: 1}.get(n, 0))
        for n in range(14)
    ],
)

EXPECTED_CLASS_WEEKLY = _expected(
    "class_id week_start iso_year iso_week school_week sessions_scheduled sessions_missed sessions_held sessions_live "
    "roster_size student_sessions_expected student_sessions_present attendance_rate tardy_rate avg_attended_minutes "
    "student_talk_share staff_talk_share hand_raises_per_attendee video_on_share feedback_clap feedback_coffee "
    "feedback_dislike feedback_faster feedback_like feedback_no_mark feedback_question feedback_slower "
    "feedback_time feedback_yes_mark",
    [
        # s1 + s2: 6 student-sessions expected, 5 present; tardy ben (s1), cara (s2): 2/5;
        # attended 3600 + 3000 + 1800 + 3599.5 = 11999.5 s over the 4 with a known time (cara's s2
        # leave is missing) = 49.99791 min; talk students 1320.25 s of 1620.25 s (staff 300);
        # hand raises (1 + 2) / 5; video: ana's 1800 s of 11999.5 s (cara's s2 is not timed); ben's feedback
        ("c1", MAR_4, 2024, 10, 2, 2, 0, 2, 0, 3, 6, 5, 5 / 6, 0.4, 11999.5 / 60 / 4, 1320.25 / 1620.25,
         300 / 1620.25, 0.6, 1800 / 11999.5, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0),
        # s3 held, s4 live, sch-8 missed; s3: 3 expected, 2 present, eli tardy: 1/2; (1800 + 900) / 2 s;
        # all talk is eli's
        ("c2", MAR_4, 2024, 10, 2, 3, 1, 1, 1, 3, 3, 2, 2 / 3, 0.5, 22.5, 1.0, 0.0, 0.0, 0.0,
         0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
        # c9: only a missed schedule, in the first week
        ("c9", dt.date(2024, 2, 26), 2024, 9, 1, 1, 1, 0, 0, 0, 0, 0, None, None, None, None, None, None, None,
         0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    ],
)

EXPECTED_INSTRUCTOR_WEEKLY = _expected(
    "instructor_id week_start iso_year iso_week school_week classes_taught sessions_taught sessions_as_teacher "
    "on_time_sessions on_time_share students_expected students_present student_attendance_rate "
    "student_talk_minutes_per_attendee hand_raises_per_attendee",
    [
        # s1 (joined 09:52, before sch-1's 10:00) and s2 (no join time: not on time); students of s1
        # and s2: 6 expected, 5 present; their talk (300.25 + 900) + 120 s / 60 / 5; hands (1 + 2) / 5
        ("anne", MAR_4, 2024, 10, 2, 1, 2, 2, 1, 0.5, 6, 5, 5 / 6, 1320.25 / 60 / 5, 0.6),
        # s1 only, joined at 10:00 sharp: on time; 3 expected, 2 present; (300.25 + 900) / 60 / 2; 1 / 2
        ("gus", MAR_4, 2024, 10, 2, 1, 1, 0, 1, 1.0, 3, 2, 2 / 3, 1200.25 / 60 / 2, 0.5),
    ],
)

EXPECTED_MARTS = {
    "fct_session_attendance": EXPECTED_SESSION_ATTENDANCE,
    "fct_event_durations": EXPECTED_EVENT_DURATIONS,
    "fct_student_engagement": EXPECTED_ENGAGEMENT,
    "fct_scheduled_sessions": EXPECTED_SCHEDULED_SESSIONS,
    "fct_student_class_attendance": EXPECTED_STUDENT_CLASS_ATTENDANCE,
    "dim_classes": EXPECTED_CLASSES,
    "dim_students": EXPECTED_STUDENTS,
    "dim_instructors": EXPECTED_INSTRUCTORS,
    "dim_sessions": EXPECTED_SESSIONS,
    "dim_date": EXPECTED_DATES,
    "agg_class_summary": EXPECTED_CLASS_SUMMARY,
    "agg_class_weekly": EXPECTED_CLASS_WEEKLY,
    "agg_instructor_weekly": EXPECTED_INSTRUCTOR_WEEKLY,
}

# rows per model on the fixture: staging = raw rows; 4 sessions; 13 report rows; 36 events; 14
# (session, person) pairs: the 13 report rows and anne in s2
EXPECTED_ROW_COUNTS = {
    **{f"stg_class__{table}": len(rows) for table, rows in RAW_ROWS.items()},
    # (class, person) pairs with events: c1 ana, ben, anne, gus, cara; c2 eli, ana, dev
    "stg_class__metrics_people": 8,
    "int_class__as_of": 1,
    "int_class__roster_versions": len(RAW_ROWS["enrollments"]),  # one version each after one load
    "int_class__sessions": 4,
    "int_class__session_attendance": 13,
    "int_class__events": 36,
    # (session, person) pairs with events in the session: s1 ana, ben, anne (09:55, in the
    # allowance), gus; s2 ben, cara, ana, anne; s3 eli, ana; s4 dev
    "int_class__session_activity": 11,
    "int_class__session_participants": 14,
    "dim_roster_history": len(RAW_ROWS["enrollments"]),  # one version each after one load
    **{name: len(rows) for name, rows in EXPECTED_MARTS.items()},
}


@pytest.mark.parametrize("mart", sorted(EXPECTED_MARTS))
def test_mart_rows_match_hand_computed(warehouse: Warehouse, mart: str) -> None:
    assert warehouse.rows(mart) == EXPECTED_MARTS[mart]


def test_build_reports_every_model_in_dependency_order(warehouse: Warehouse) -> None:
    models = load_models()
    assert [b.name for b in warehouse.built] == [m.name for m in models]
    assert [b.kind for b in warehouse.built] == [m.kind for m in models]
    assert {b.name: b.rows for b in warehouse.built} == EXPECTED_ROW_COUNTS
    assert all(b.seconds >= 0 and b.cpu_seconds >= 0 for b in warehouse.built)
    assert warehouse.progress[-1] == f"grain and data checks passed for {len(models)} models"


def test_models_are_views_or_tables_as_declared(warehouse: Warehouse) -> None:
    kinds = warehouse.relation_kinds()
    for model in load_models():
        assert kinds[model.name] == ("VIEW" if model.kind == "view" else "BASE TABLE"), model.name


def test_staging_keeps_raw_duration_but_marts_do_not_use_it(warehouse: Warehouse) -> None:
    focused = [r for r in warehouse.rows("stg_class__metrics") if r["event_type"] == "FOCUSED" and r["class_id"] == "c1"]
    assert [r["event_duration_raw"] for r in focused] == [36000]
    assert "password" not in warehouse.rows("stg_class__classes")[0]


def test_every_mart_documents_each_of_its_columns() -> None:
    for model in load_models():
        if model.path.parent.name != "marts":
            continue
        outputs = sqlglot.parse_one(model.sql, read="duckdb").named_selects
        assert list(model.docs.columns) == outputs, f"{model.name}.yml documents its columns in output order"
        assert model.docs.description, model.name


def test_docs_are_where_bi_tools_read_them(warehouse: Warehouse) -> None:
    with warehouse.pipeline.sql_client() as client:
        schema = client.dataset_name
        if warehouse.destination == "duckdb":
            tables = dict(client.execute_sql("select table_name, comment from duckdb_tables() where schema_name = %s", schema))
            views = dict(client.execute_sql("select view_name, comment from duckdb_views() where schema_name = %s", schema))
            columns = client.execute_sql(
                "select column_name, comment from duckdb_columns() where schema_name = %s and table_name = %s",
                schema, "fct_student_class_attendance",
            )
        else:
            rows = client.execute_sql(
                "select c.relname, obj_description(c.oid, 'pg_class') from pg_class c "
                "join pg_namespace n on n.oid = c.relnamespace where n.nspname = %s and c.relkind in ('r', 'v')",
                schema,
            )
            tables = views = dict(rows)
            columns = client.execute_sql(
                "select a.attname, col_description(a.attrelid, a.attnum) from pg_attribute a "
                "join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace "
                "where n.nspname = %s and c.relname = %s and a.attnum > 0 and not a.attisdropped order by a.attnum",
                schema, "fct_student_class_attendance",
            )
    assert tables["fct_student_class_attendance"] == (
        "One row per class and student (no staff) with the term's attendance KPIs and chronic absence."
    )
    # a model without a YAML gets its header's purpose paragraph
    assert views["stg_class__templates"] == "Class templates from GET /templates: typed and deduplicated."
    docs = dict(columns)
    assert docs["is_chronically_absent"] == (
        "Absent from at least the chronic-absence threshold (10 % by default) of expected sessions."
    )
    assert all(docs.values()) and len(docs) == 16


def test_undocumented_event_values_are_warnings_naming_them(warehouse: Warehouse) -> None:
    # ben's valueless hand raise (landed as '') and reaction (sent as null), and his WAVING event
    warnings = [line for line in warehouse.progress if line.startswith("warning: ")]
    assert warnings == [
        "warning: model int_class__events: undocumented event_type/event_value in 3 row(s): "
        "(RAISED_HAND, null) x1; (REACTION, null) x1; (WAVING, true) x1"
    ]


def test_settings_move_local_dates_and_the_chronic_threshold(new_pipeline) -> None:
    pipeline = new_pipeline()
    load_raw_tables(pipeline)
    # UTC+14: 10:00 UTC is midnight of the next day; 60 % absent makes a student chronically absent
    build_models(pipeline, settings=ModelSettings(timezone="Pacific/Kiritimati", chronic_absence_threshold=0.6))
    with pipeline.sql_client() as client:
        sessions = client.execute_sql(
            f"select session_id, session_date from {client.make_qualified_table_name('dim_sessions')} order by session_id"
        )
        local = client.execute_sql(
            f"select scheduled_start_local from {client.make_qualified_table_name('fct_scheduled_sessions')} "
            "where schedule_id = 'sch-1'"
        )
        chronic = client.execute_sql(
            f"select class_id, student_id from {client.make_qualified_table_name('fct_student_class_attendance')} "
            "where is_chronically_absent order by class_id, student_id"
        )
    assert sessions == [
        ("s1", dt.date(2024, 3, 5)), ("s2", dt.date(2024, 3, 6)), ("s3", dt.date(2024, 3, 5)), ("s4", dt.date(2024, 3, 6))
    ]
    assert local == [(dt.datetime(2024, 3, 5, 0, 0),)]
    # cara missed 1 of 2 (50 %): no longer; dev missed his only one (100 %): still
    assert chronic == [("c2", "dev")]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone 'Mars/Olympus' is not an IANA time zone name"),
        ({"chronic_absence_threshold": 0}, "chronic_absence_threshold 0 must be a share in (0, 1]"),
        ({"join_before_host_minutes": 90}, "join_before_host_minutes 90 must be a whole number of minutes"),
    ],
)
def test_bad_settings_are_one_line_errors(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelError) as raised:
        ModelSettings(**settings)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_an_unknown_setting_is_an_error_at_load(tmp_path: Path) -> None:
    _write_model(tmp_path, "marts", "fct_x", "-- grain: x\n-- purpose: t\nselect model_setting('colour') as x\n")
    with pytest.raises(ModelError, match=r"^model fct_x reads unknown setting 'colour': known are timezone, "):
        load_models(tmp_path)


# --- building: rebuilds, failures, missing tables -----------------------------------------------


def _copy_models(tmp_path: Path) -> Path:
    target = tmp_path / "sql"
    shutil.copytree(SQL_DIR, target)
    return target


def _write_model(models_dir: Path, folder: str, name: str, text: str) -> None:
    (models_dir / folder).mkdir(parents=True, exist_ok=True)
    (models_dir / folder / f"{name}.sql").write_text(text)


def _relations(pipeline: dlt.Pipeline) -> dict[str, str]:
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "select table_name, table_type from information_schema.tables where table_schema = %s",
            client.dataset_name,
        )
    return {name: kind for name, kind in rows}


def test_failures_name_the_model_and_roll_the_build_back(new_pipeline, tmp_path: Path) -> None:
    pipeline = new_pipeline()
    load_raw_tables(pipeline)
    build_models(pipeline)  # a good build first: every failed one must leave it in place

    def failure(name: str, sql: str) -> str:
        models_dir = _copy_models(tmp_path / name)
        _write_model(models_dir, "marts", name, sql)
        with pytest.raises(ModelError) as raised:
            build_models(pipeline, models_dir=models_dir)
        relations = _relations(pipeline)
        assert name not in relations, "the failed build was rolled back as a whole"
        assert relations["fct_session_attendance"] == "BASE TABLE"
        assert "\n" not in str(raised.value)
        return str(raised.value)

    # duplicate keys: one row per attendance row, keyed by class only (c1 has 8 rows, c2 has 5)
    message = failure(
        "fct_broken", "-- grain: class_id\n-- purpose: deliberately broken\nselect class_id from stg_class__attendance\n"
    )
    assert message.startswith("model fct_broken breaks its grain (class_id): 2 key(s) repeated or null, e.g. ")
    assert "(c1) x8" in message and "(c2) x5" in message

    # a null key: one row per session of the events, s1 to s4 and null (events outside every session)
    per_session = "select session_id, count(*) as events from int_class__events group by session_id\n"
    message = failure("agg_events_per_session", "-- grain: session_id\n-- purpose: test\n" + per_session)
    assert message == "model agg_events_per_session breaks its grain (session_id): 1 key(s) repeated or null, e.g. (null) x1"

    # a database error
    message = failure("fct_typo", "-- grain: class_id\n-- purpose: test\nselect clas_id as class_id from classes\n")
    assert message.startswith(f"model fct_typo (table) failed on {pipeline.destination.destination_name}: ")
    assert "clas_id" in message

    # a broken relationship: a class no dimension knows
    _orphans = "-- grain: class_id\n-- purpose: test\nselect 'c7' as class_id, 2.5 as rate\n"
    models_dir = _copy_models(tmp_path / "orphans")
    _write_model(models_dir, "marts", "fct_orphans", _orphans)
    (models_dir / "marts" / "fct_orphans.yml").write_text(
        "checks:\n  relationships:\n    - {columns: [class_id], to: dim_classes}\n"
    )
    with pytest.raises(ModelError) as raised:
        build_models(pipeline, models_dir=models_dir)
    assert str(raised.value) == "model fct_orphans fails its check (class_id) with no row in dim_classes: 1 row(s), e.g. (c7) x1"
    assert "fct_orphans" not in _relations(pipeline), "the failed build was rolled back as a whole"
    # a rate out of range
    (models_dir / "marts" / "fct_orphans.yml").write_text("checks:\n  ranges:\n    rate: [0, 1]\n")
    with pytest.raises(ModelError, match=r"^model fct_orphans fails its check rate outside \[0.0, 1.0\]: 1 row\(s\), e.g. \(2.5\) x1$"):
        build_models(pipeline, models_dir=models_dir)

    # the same null key is fine once declared nullable
    models_dir = _copy_models(tmp_path / "nullable")
    _write_model(models_dir, "marts", "agg_events_per_session", "-- grain: session_id?\n-- purpose: test\n" + per_session)
    built = {b.name: b.rows for b in build_models(pipeline, models_dir=models_dir)}
    assert built["agg_events_per_session"] == 5


def test_rebuild_replaces_models_including_a_change_of_kind(new_pipeline, tmp_path: Path) -> None:
    pipeline = new_pipeline()
    load_raw_tables(pipeline)
    build_models(pipeline)
    models_dir = _copy_models(tmp_path)
    # a view becomes a table, tables become views that read it
    changes = (
        ("staging", "stg_class__attendance", "table"),
        ("intermediate", "int_class__sessions", "view"),
        ("marts", "dim_classes", "view"),
    )
    for folder, name, kind in changes:
        path = models_dir / folder / f"{name}.sql"
        path.write_text(f"-- materialized: {kind}\n" + path.read_text())
    build_models(pipeline, models_dir=models_dir)
    # in place again: on Postgres, dropping stg_class__attendance cascades to the two views reading
    # it, which are rebuilt later in the same build
    built = build_models(pipeline, models_dir=models_dir)
    relations = _relations(pipeline)
    assert relations["stg_class__attendance"] == "BASE TABLE"
    assert relations["int_class__sessions"] == "VIEW"
    assert relations["dim_classes"] == "VIEW"
    assert {b.name: b.rows for b in built} == EXPECTED_ROW_COUNTS
    assert {b.name: b.kind for b in built if b.name in dict.fromkeys(n for _, n, _ in changes)} == {
        name: kind for _, name, kind in changes
    }


def test_missing_raw_tables_read_as_empty(new_pipeline) -> None:
    pipeline = new_pipeline()
    # e.g. a key without the metrics and classes scopes: only these resources were loaded
    load_raw_tables(pipeline, {name: RAW_ROWS[name] for name in ("attendance", "enrollments")})
    progress: list[str] = []
    built = {b.name: b.rows for b in build_models(pipeline, progress=progress.append)}
    assert progress[0] == (
        "raw table(s) classes, deferred_classes, metrics, schedules, templates, users not loaded: "
        "models read them as empty"
    )
    assert built["stg_class__metrics"] == 0
    assert built["fct_event_durations"] == 0
    assert built["fct_session_attendance"] == 13
    # every report row still gets an engagement row, with zero activity
    assert built["fct_student_engagement"] == 13
    # no schedules: nothing scheduled, nothing missed
    assert built["fct_scheduled_sessions"] == 0
    # classes known from enrollments (c1, c2, c3) and attendance
    assert built["dim_classes"] == 3


def test_roster_changes_keep_history_and_marts_use_the_current_roster(new_pipeline) -> None:
    pipeline = new_pipeline()
    load_raw_tables(pipeline)
    # the next load's rosters: ben left c3, dev became an assistant in c2, everyone else unchanged
    changed = [
        {**row, "role": "assistant"} if (row["class_id"], row["student_id"]) == ("c2", "dev") else row
        for row in RAW_ROWS["enrollments"]
        if (row["class_id"], row["student_id"]) != ("c3", "ben")
    ]
    load_raw_tables(pipeline, {"enrollments": changed})
    build_models(pipeline)
    with pipeline.sql_client() as client:
        history = client.execute_sql(
            f"select class_id, student_id, role, is_current, valid_to is null from "
            f"{client.make_qualified_table_name('dim_roster_history')} order by class_id, student_id, valid_from"
        )
        c3_roster = client.execute_sql(
            f"select students_enrolled from {client.make_qualified_table_name('agg_class_summary')} where class_id = 'c3'"
        )
        dev_roles = client.execute_sql(
            f"select session_id, enrollment_role, person_type from "
            f"{client.make_qualified_table_name('fct_session_attendance')} where student_id = 'dev' order by session_id"
        )
        instructors = client.execute_sql(
            f"select instructor_id, classes_as_assistant from {client.make_qualified_table_name('dim_instructors')} "
            "order by instructor_id"
        )
    by_person = {}
    for class_id, student_id, role, current, open_ended in history:
        assert current == open_ended
        by_person.setdefault((class_id, student_id), []).append((role, current))
    # 8 first versions; ben's c3 enrollment retired; dev's student version retired, assistant current
    assert len(history) == 9
    assert by_person[("c3", "ben")] == [("student", False)]
    assert by_person[("c2", "dev")] == [("student", False), ("assistant", True)]
    assert by_person[("c1", "ana")] == [("student", True)]
    assert c3_roster == [(0,)]  # marts count the current roster only
    # s3 and s4 predate both of dev's versions (they are load times): the earliest one, student, applies
    assert dev_roles == [("s3", "student", "student"), ("s4", "student", "student")]
    # today dev assists in c2
    assert instructors == [("anne", 0), ("dev", 1), ("gus", 1)]


def test_roles_and_enrollment_are_taken_as_of_each_session(new_pipeline) -> None:
    # Three roster loads, stamped between c1's sessions (s1: Mar 4 10:00, s2: Mar 5 10:00):
    #   Mar 1:        the fixture's rosters
    #   Mar 4 12:00:  ben becomes an assistant in c1; cara is removed from c1
    #   Mar 5 12:00:  cara is added back to c1 as a student
    pipeline = new_pipeline()
    load_raw_tables(pipeline, roster_seen_at=at(1, "00:00"))
    c1 = [row for row in RAW_ROWS["enrollments"] if row["class_id"] == "c1"]
    ben_assists = [{**row, "role": "assistant"} if row["student_id"] == "ben" else row for row in c1]
    load_raw_tables(pipeline, {"enrollments": [row for row in ben_assists if row["student_id"] != "cara"]}, at(4, "12:00"))
    load_raw_tables(pipeline, {"enrollments": ben_assists}, at(5, "12:00"))
    build_models(pipeline)
    with pipeline.sql_client() as client:
        facts = client.execute_sql(
            "select session_id, student_id, enrollment_role, person_type, is_enrolled from "
            f"{client.make_qualified_table_name('fct_session_attendance')} "
            "where class_id = 'c1' and student_id in ('ben', 'cara') order by session_id, student_id"
        )
        ben = client.execute_sql(
            "select sessions_expected, sessions_present, sessions_tardy from "
            f"{client.make_qualified_table_name('fct_student_class_attendance')} where class_id = 'c1' and student_id = 'ben'"
        )
    assert [tuple(row) for row in facts] == [
        # s1: the first rosters were current
        ("s1", "ben", "student", "student", True),
        ("s1", "cara", "student", "student", True),
        # s2: ben assisted; cara was on no roster (removed, not yet back): not enrolled, a student by default
        ("s2", "ben", "assistant", "staff", True),
        ("s2", "cara", "student", "student", False),
    ]
    # as a student ben was expected at s1 only (present, 10 minutes late: tardy)
    assert [tuple(row) for row in ben] == [(1, 1, 1)]


def test_drop_models_lets_dlt_drop_the_raw_tables(new_pipeline) -> None:
    pipeline = new_pipeline()
    load_raw_tables(pipeline)
    build_models(pipeline)
    # dependents first: marts before the views they read, staging views last
    dropped = drop_models(pipeline)
    assert dropped == [m.name for m in reversed(load_models())]
    assert not set(_relations(pipeline)) & set(MODEL_NAMES)
    assert drop_models(pipeline) == []  # nothing left to drop
    # a full refresh drops and recreates the raw tables: Postgres refuses while views depend on them
    load_raw_tables(pipeline, refresh="drop_sources")
    assert {b.name: b.rows for b in build_models(pipeline)} == EXPECTED_ROW_COUNTS


def test_filesystem_destination_builds_in_its_duckdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the filesystem destination only replaces by truncate-and-insert (the repo config may say otherwise)
    monkeypatch.setenv("DESTINATION__REPLACE_STRATEGY", "truncate-and-insert")
    pipeline = dlt.pipeline(
        pipeline_name="models_files",
        destination=dlt.destinations.filesystem((tmp_path / "bucket").as_uri()),
        dataset_name="class_files",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    load_raw_tables(pipeline, loader_file_format="parquet")
    # dlt's filesystem SQL client is DuckDB over the files: the raw tables must be found, not read as empty
    assert {b.name: b.rows for b in build_models(pipeline)} == EXPECTED_ROW_COUNTS


def test_build_without_a_dataset_says_to_run_the_pipeline_first(tmp_path: Path) -> None:
    pipeline = dlt.pipeline(
        pipeline_name="models_empty",
        destination=dlt.destinations.duckdb(str(tmp_path / "empty.duckdb")),
        dataset_name="nothing_here",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    with pytest.raises(ModelError, match="dataset nothing_here does not exist on duckdb: run the pipeline first"):
        build_models(pipeline)


# --- Postgres specifics --------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_millisecond_differences_are_exact_across_dst(pg_user: str) -> None:
    """sqlglot's own Postgres DATE_DIFF casts to local TIMESTAMP: wrong by an hour across a DST change."""
    import psycopg2

    model = Model(
        name="dst_probe",
        path=Path("dst_probe.sql"),
        kind="view",
        grain=("ms",),
        # 06:00Z -> 08:00Z on 2024-03-10: New York moves its clocks from 02:00 to 03:00 in between
        sql="select date_diff('millisecond', cast('2024-03-10 06:00:00+00' as timestamptz), "
        "cast('2024-03-10 08:00:00+00' as timestamptz)) as ms",
    )
    schema = f"models_dst_{uuid.uuid4().hex[:8]}"
    connection = psycopg2.connect(host="127.0.0.1", port=5432, dbname="test", user=pg_user)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(f"create schema {schema}")
            cursor.execute("set time zone 'America/New_York'")
            for statement in render(model, dialect="postgres", dataset=schema):
                cursor.execute(statement)
            cursor.execute(f"select ms from {schema}.dst_probe")
            assert cursor.fetchone()[0] == 2 * 3600 * 1000
    finally:
        with connection, connection.cursor() as cursor:
            cursor.execute(f"drop schema if exists {schema} cascade")
        connection.close()


# --- loading, ordering, errors -------------------------------------------------------------------


def test_models_load_in_dependency_order() -> None:
    models = load_models()
    position = {model.name: i for i, model in enumerate(models)}
    assert set(position) == set(MODEL_NAMES)
    for model in models:
        for dependency in model.depends_on:
            assert position[dependency] < position[model.name], f"{dependency} must come before {model.name}"
    # dependencies read from the SQL itself, CTE names excluded
    by_name = models_by_name()
    assert by_name["stg_class__metrics"].depends_on == set()
    assert by_name["stg_class__metrics"].sources == {"metrics"}
    assert by_name["int_class__as_of"].depends_on == {"stg_class__attendance", "stg_class__metrics_people"}
    assert by_name["int_class__events"].depends_on == {
        "stg_class__metrics",
        "stg_class__metrics_people",
        "int_class__sessions",
        "int_class__session_attendance",
    }
    assert by_name["fct_event_durations"].depends_on == {
        "int_class__events",
        "int_class__session_participants",
        "int_class__roster_versions",
    }
    assert by_name["agg_class_summary"].depends_on == {
        "dim_classes",
        "dim_sessions",
        "fct_scheduled_sessions",
        "fct_student_engagement",
        "stg_class__enrollments",
    }
    # staging first, then intermediate, then marts, each alphabetically where dependencies allow
    assert [m.name for m in models][:9] == sorted([f"stg_class__{table}" for table in RAW_TABLES] + ["stg_class__metrics_people"])
    assert [m.name for m in models][9:16] == [
        "int_class__as_of",
        "int_class__roster_versions",
        "int_class__sessions",
        "int_class__session_attendance",
        "int_class__events",
        "int_class__session_activity",
        "int_class__session_participants",
    ]


def test_every_model_declares_grain_purpose_and_layer() -> None:
    for model in load_models():
        assert model.grain, model.name
        folder = model.path.parent.name
        if folder == "staging":
            # a view, except the people of the events: three models read it, and as a view each
            # would group the 2 M events again
            assert model.name.startswith("stg_class__")
            assert model.kind == ("table" if model.name == "stg_class__metrics_people" else "view"), model.name
            (raw_table,) = model.sources  # staging reads one raw table, the one its name starts with
            assert model.name.removeprefix("stg_class__") in (raw_table, f"{raw_table}_people"), model.name
        elif folder == "intermediate":
            # tables: several marts read them, and recomputing millions of events per reader is slow
            assert model.name.startswith("int_") and model.kind == "table"
            assert not model.sources, "only staging reads raw tables"
        else:
            assert model.name.split("_")[0] in ("fct", "dim", "agg") and model.kind == "table"
            assert not model.sources, "only staging reads raw tables"
    by_name = models_by_name()
    assert by_name["fct_session_attendance"].grain == ("class_id", "session_id", "student_id")
    assert by_name["fct_event_durations"].grain == (
        "class_id", "session_id", "activity_date", "student_id", "event_type", "event_value"
    )
    assert by_name["fct_event_durations"].nullable_keys == {"session_id", "event_value"}
    assert by_name["fct_student_engagement"].nullable_keys == frozenset()


def test_a_dependency_cycle_is_an_error_naming_it(tmp_path: Path) -> None:
    _write_model(tmp_path, "marts", "agg_a", "-- grain: x\n-- purpose: t\nselect x from fct_b\n")
    _write_model(tmp_path, "marts", "fct_b", "-- grain: x\n-- purpose: t\nselect x from dim_c\n")
    _write_model(tmp_path, "marts", "dim_c", "-- grain: x\n-- purpose: t\nselect x from agg_a\n")
    _write_model(tmp_path, "marts", "dim_ok", "-- grain: x\n-- purpose: t\nselect 1 as x\n")
    with pytest.raises(ModelError, match=r"^models depend on each other in a cycle: agg_a -> fct_b -> dim_c -> agg_a$"):
        load_models(tmp_path)


def test_a_model_reading_itself_is_a_cycle(tmp_path: Path) -> None:
    _write_model(tmp_path, "marts", "fct_self", "-- grain: x\n-- purpose: t\nselect x from fct_self\n")
    with pytest.raises(ModelError, match=r"cycle: fct_self -> fct_self$"):
        load_models(tmp_path)


def test_cte_named_like_a_table_is_not_a_dependency(tmp_path: Path) -> None:
    sql = "-- grain: x\n-- purpose: t\nwith metrics as (select 1 as x) select x from metrics\n"
    _write_model(tmp_path, "marts", "fct_cte", sql)
    (model,) = load_models(tmp_path)
    assert model.depends_on == set() and model.sources == set()


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("-- purpose: t\nselect 1 as x\n", r"has no '-- grain: col, \.\.\.' header line"),
        ("-- grain: x\nselect 1 as x\n", r"has no '-- purpose: \.\.\.' header line"),
        ("-- grain: x, y\n-- purpose: t\nselect 1 as x\n", r"grain column\(s\) y are not among its output columns"),
        ("-- grain: x\n-- purpose: t\nselect x from metricz\n", r"reads unknown table\(s\) metricz: not a model"),
        ("-- grain: x\n-- purpose: t\nselect x from other.metrics\n", r"reads other\.metrics: name tables bare"),
        ("-- grain: x\n-- purpose: t\nselect 1 as x; select 2 as x\n", r"must hold exactly one SELECT"),
        ("-- grain: x\n-- purpose: t\ndrop table metrics\n", r"must hold exactly one SELECT"),
        ("-- grain: x\n-- purpose: t\n-- materialized: index\nselect 1 as x\n", r"materialized must be 'view' or 'table'"),
    ],
)
def test_malformed_models_are_rejected_at_load(tmp_path: Path, sql: str, message: str) -> None:
    _write_model(tmp_path, "marts", "fct_bad", sql)
    with pytest.raises(ModelError, match=rf"^model fct_bad.*{message}"):
        load_models(tmp_path)


def test_destination_types_map_to_dialects() -> None:
    assert {
        name: dialect_for_destination(name)
        for name in ("duckdb", "motherduck", "filesystem", "postgres", "bigquery", "snowflake")
    } == {
        "duckdb": "duckdb",
        "motherduck": "duckdb",
        "filesystem": "duckdb",
        "postgres": "postgres",
        "bigquery": "bigquery",
        "snowflake": "snowflake",
    }
    assert dialect_for_destination("dlt.destinations.postgres") == "postgres"
    with pytest.raises(ModelError, match="do not support destination 'mssql'"):
        dialect_for_destination("mssql")


# --- rendering -----------------------------------------------------------------------------------


def test_render_wraps_each_dialect_in_its_ddl() -> None:
    table, view = models_by_name()["dim_classes"], models_by_name()["stg_class__classes"]
    assert render(table, dialect="duckdb", dataset="class_data")[0].startswith(
        "CREATE OR REPLACE TABLE class_data.dim_classes AS"
    )
    # Postgres has no CREATE OR REPLACE TABLE, and CREATE OR REPLACE VIEW cannot change columns
    drop, create = render(table, dialect="postgres", dataset="class_data")
    assert drop == "DROP TABLE IF EXISTS class_data.dim_classes CASCADE"
    assert create.startswith("CREATE TABLE class_data.dim_classes AS")
    drop, create = render(view, dialect="postgres", dataset="class_data")
    assert drop == "DROP VIEW IF EXISTS class_data.stg_class__classes CASCADE"
    assert create.startswith("CREATE VIEW class_data.stg_class__classes AS")
    # a relation of the other kind goes first; a catalog-qualified dataset qualifies every name
    statements = render(table, dialect="snowflake", dataset="ANALYTICS.CLASS_DATA", replacing="view")
    assert statements[0] == "DROP VIEW IF EXISTS ANALYTICS.CLASS_DATA.dim_classes"
    assert statements[1].startswith("CREATE OR REPLACE TABLE ANALYTICS.CLASS_DATA.dim_classes AS")
    assert "FROM ANALYTICS.CLASS_DATA.stg_class__classes" in statements[1]


def test_render_reads_a_missing_raw_table_as_an_empty_typed_relation() -> None:
    model = models_by_name()["stg_class__metrics"]
    (create,) = render(model, dialect="duckdb", dataset="class_data", missing_sources={"metrics"})
    assert "class_data.metrics" not in create
    assert "CAST(NULL AS TIMESTAMPTZ) AS event_start" in create and "LIMIT 0" in create


def _snapshot_text(model: Model, dialect: str) -> str:
    statements = render(model, dialect=dialect, dataset="class_data") + comment_sql(model, dialect=dialect, dataset="class_data")
    return ";\n\n".join(statements) + ";\n"


@pytest.mark.parametrize("dialect", SNAPSHOT_DIALECTS)
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_transpiled_sql_matches_snapshot(dialect: str, name: str) -> None:
    model = models_by_name()[name]
    path = SNAPSHOT_DIR / dialect / f"{name}.sql"
    text = _snapshot_text(model, dialect)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no snapshot {path}: run UPDATE_SNAPSHOTS=1 pytest tests/test_models.py and review it"
    assert text == path.read_text(), f"{path} is stale: regenerate with UPDATE_SNAPSHOTS=1 and review the diff"
    # the snapshot is valid SQL of its dialect: a drop (Postgres), a create of the model, then its docs
    statements = [s for s in sqlglot.parse(path.read_text(), read=dialect) if s is not None]
    creates = [i for i, s in enumerate(statements) if isinstance(s, exp.Create)]
    assert len(creates) == 1
    create = statements[creates[0]]
    assert create.this.name == name and create.this.db == "class_data"
    assert all(isinstance(s, exp.Drop) for s in statements[: creates[0]])
    docs = statements[creates[0] + 1 :]
    assert len(docs) == 1 + len(model.docs.columns)
    if dialect == "bigquery":
        # sqlglot parses ALTER ... ALTER COLUMN ... SET OPTIONS as a generic command
        assert all(s.sql(dialect=dialect).upper().startswith("ALTER ") for s in docs)
    else:
        assert all(isinstance(s, exp.Comment) for s in docs)


def test_no_stale_snapshots() -> None:
    stored = {(p.parent.name, p.stem) for p in SNAPSHOT_DIR.glob("*/*.sql")}
    expected = {(dialect, name) for dialect in SNAPSHOT_DIALECTS for name in MODEL_NAMES}
    assert stored == expected


def test_grain_check_skips_the_grouping_only_for_a_final_select_grouped_by_exactly_the_grain(tmp_path: Path) -> None:
    cases = {
        # grouped by the grain, each key output as the very column grouped on: keys cannot repeat
        "stg_class__grouped": ("class_id", "select class_id, count(*) as events from metrics group by class_id", True),
        "stg_class__qualified": ("class_id, student_id?", "select m.class_id, m.student_id from metrics as m group by m.class_id, m.student_id", True),
        # one more grouping key: (class_id) repeats across students
        "stg_class__finer": ("class_id", "select class_id from metrics group by class_id, student_id", False),
        # the grain column is another expression under the grouped column's name
        "stg_class__aliased": ("class_id", "select max(student_id) as class_id from metrics group by class_id", False),
        # the grouping is not the final select
        "stg_class__nested": ("class_id", "select class_id from (select class_id from metrics group by class_id) as g", False),
        "stg_class__union": ("class_id", "select class_id from metrics group by class_id union all select class_id from metrics group by class_id", False),
    }
    for name, (grain, select, _) in cases.items():
        _write_model(tmp_path, "staging", name, f"-- grain: {grain}\n-- purpose: test\n{select}\n")
    models = {model.name: model for model in load_models(tmp_path)}
    assert {name: models[name].grouped_by_grain for name in cases} == {name: case[2] for name, case in cases.items()}
    # the grouped model's check counts rows and null keys in one scan, without a GROUP BY
    summary = grain_summary_sql(models["stg_class__grouped"], dialect="duckdb", dataset="d")
    assert "GROUP BY" not in summary.upper() and "class_id IS NULL" in summary
    assert "GROUP BY" in grain_summary_sql(models["stg_class__finer"], dialect="duckdb", dataset="d").upper()
