"""A hand-made warehouse for the SQL model tests: raw tables as the connector lands them.

Small enough to work every mart row out by hand (tests/test_models.py does, with the arithmetic):

- classes c1 "Algebra I" and c2 "Biology" (regular), c3 "Chemistry" (deferred, never held) and
  c9 (only a schedule row left: a deleted class);
- sessions s1 (c1, 2024-03-04 10:00-11:00), s2 (c1, 2024-03-05 10:00-11:00), s3 (c2, 2024-03-04 14:00-14:30)
  and s4 (c2, 2024-03-05 14:00-15:00), live: the latest thing the data reports is dev's video-on event
  ending 2024-03-05 14:20 (the data's as-of time), before s4's end;
- schedules: sch-1, sch-2, sch-4, sch-7 matched by s1, s2, s3, s4; sch-6 (c9) and sch-8 (c2,
  2024-03-04 16:00) passed without a session (missed); sch-3 (c1, 03-06) and sch-5 (c3, 03-10) upcoming;
- people: ana (c1, c2), ben (c1, c3; no e-mail anywhere), cara (c1; no ext_person_id), dev (c2),
  eli (on c2's attendance roster but never enrolled), anne (c1's teacher: on s1's report, joined
  early; events in s2 without being on its report), gus (c1's assistant, on s1's report);
- a tardy join (ben in s1), an early leave (ana in s2), a join before the start and a leave after the
  end (ana in s1, clipped), a millisecond join (ben in s2), a leave not reported (cara in s2);
- an early joiner focused from before the start to the end (ana in s1: 09:58-11:00, counts 3600 s),
  overlapping, contained and touching IS_TALKING intervals, events outside every session (one before
  s1's join-before-host allowance, one starting exactly at s1's end), an event starting in s1 and
  running past the student's leave (ben), an event whose raw event_duration (36000) contradicts its
  timestamps, a null and an empty event_value, two STARS of one student at one instant with
  different values, and an undocumented event type (WAVING).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dlt

from class_source import ROSTER_HISTORY
from tests.support import KEYS

UTC = dt.timezone.utc


def at(day: int, clock: str) -> dt.datetime:
    """2024-03-<day> <clock> UTC, e.g. at(4, "10:05:30.250")."""
    time = dt.time.fromisoformat(clock)
    return dt.datetime.combine(dt.date(2024, 3, day), time, tzinfo=UTC)


TEXT = {"data_type": "text"}
NULLABLE_TEXT = {"data_type": "text", "nullable": True}
BIGINT = {"data_type": "bigint"}
BOOL = {"data_type": "bool"}
TS = {"data_type": "timestamp", "timezone": True}
NULLABLE_TS = {"data_type": "timestamp", "timezone": True, "nullable": True}

# column types as the design contract lists them (`?` columns nullable)
COLUMNS: dict[str, dict[str, dict[str, Any]]] = {
    "classes": {
        "class_id": TEXT,
        "ext_class_id": NULLABLE_TEXT,
        "class_name": TEXT,
        "class_description": NULLABLE_TEXT,
        "meeting_id": TEXT,
        "host": TEXT,
        "invite_link": TEXT,
        "password": NULLABLE_TEXT,
    },
    "deferred_classes": {
        "class_deferred_id": BIGINT,
        "class_id": TEXT,
        "ext_class_id": NULLABLE_TEXT,
        "email": NULLABLE_TEXT,
        "class_name": TEXT,
        "class_description": NULLABLE_TEXT,
        "created_at": TS,
        "updated_at": TS,
    },
    "users": {
        "id": BIGINT,
        "ext_user_id": NULLABLE_TEXT,
        "email": NULLABLE_TEXT,
        "user_name": TEXT,
        "roles": {"data_type": "json"},
        "is_zoom_configured": BOOL,
    },
    "templates": {
        "template_id": TEXT,
        "name": TEXT,
        "description": NULLABLE_TEXT,
        "status": TEXT,
    },
    "enrollments": {
        "class_id": TEXT,
        "student_id": TEXT,
        "meeting_id": NULLABLE_TEXT,
        "user_name": TEXT,
        "first_name": TEXT,
        "last_name": TEXT,
        "email": NULLABLE_TEXT,
        "ext_person_id": NULLABLE_TEXT,
        "role": TEXT,
    },
    "schedules": {
        "schedule_id": TEXT,
        "class_id": TEXT,
        "start_time": TS,
        "end_time": TS,
    },
    "attendance": {
        "class_id": TEXT,
        "session_id": TEXT,
        "session_start_time": TS,
        "session_end_time": TS,
        "student_id": TEXT,
        "email": NULLABLE_TEXT,
        "ext_person_id": NULLABLE_TEXT,
        "present": BOOL,
        "tardy": BOOL,
        "join_time": NULLABLE_TS,
        "leave_time": NULLABLE_TS,
    },
    "metrics": {
        "class_id": TEXT,
        "student_id": TEXT,
        "email": NULLABLE_TEXT,
        "ext_person_id": NULLABLE_TEXT,
        "event_start": TS,
        "event_end": TS,
        "event_duration": BIGINT,
        "event_type": TEXT,
        # the API may send null; the loader lands it as '' (both are "no value" in the models)
        "event_value": NULLABLE_TEXT,
    },
}

CLASSES = [
    {
        "class_id": "c1",
        "ext_class_id": "alg-1",
        "class_name": "Algebra I",
        "class_description": "Linear equations",
        "meeting_id": "m-1",
        "host": "Anne Malley",
        "invite_link": "https://demo.class.com/c1",
        "password": "secret-1",
    },
    {
        "class_id": "c2",
        "ext_class_id": "bio-1",
        "class_name": "Biology",
        "class_description": None,
        "meeting_id": "m-2",
        "host": "James Lloyd",
        "invite_link": "https://demo.class.com/c2",
        "password": None,
    },
]

DEFERRED_CLASSES = [
    {
        "class_deferred_id": 7,
        "class_id": "c3",
        "ext_class_id": "chem-1",
        "email": "chaya.meyer@demo.com",
        "class_name": "Chemistry",
        "class_description": "Atoms",
        "created_at": at(1, "09:00:00"),
        "updated_at": at(2, "09:00:00"),
    }
]

USERS = [
    {
        "id": 1,
        "ext_user_id": None,
        "email": "anne.malley@demo.com",
        "user_name": "Anne Malley",
        "roles": ["instructor"],
        "is_zoom_configured": True,
    },
    {
        "id": 2,
        "ext_user_id": "555",
        "email": "james.lloyd@demo.com",
        "user_name": "James Lloyd",
        "roles": ["instructor", "admin"],
        "is_zoom_configured": False,
    },
]

TEMPLATES = [{"template_id": "t1", "name": "Lecture", "description": None, "status": "active"}]


def _person(class_id: str, student_id: str, name: str, email: str | None, ext: str | None, role: str) -> dict[str, Any]:
    first, last = name.split(" ")
    return {
        "class_id": class_id,
        "student_id": student_id,
        "meeting_id": {"c1": "m-1", "c2": "m-2"}.get(class_id),
        "user_name": name,
        "first_name": first,
        "last_name": last,
        "email": email,
        "ext_person_id": ext,
        "role": role,
    }


ENROLLMENTS = [
    _person("c1", "anne", "Anne Malley", "anne.malley@demo.com", "a.malley", "teacher"),
    _person("c1", "gus", "Gus Berg", "gus@demo.com", None, "assistant"),
    _person("c1", "ana", "Ana Lima", "ana@demo.com", "a.lima", "student"),
    _person("c1", "ben", "Ben Okafor", None, "b.okafor", "student"),
    _person("c1", "cara", "Cara Diaz", "cara@demo.com", None, "student"),
    _person("c2", "ana", "Ana Lima", "ana@demo.com", "a.lima", "student"),
    _person("c2", "dev", "Dev Patel", "dev@demo.com", "d.patel", "student"),
    _person("c3", "ben", "Ben Okafor", None, "b.okafor", "student"),
]

SCHEDULES = [
    {"schedule_id": "sch-1", "class_id": "c1", "start_time": at(4, "10:00"), "end_time": at(4, "11:00")},
    {"schedule_id": "sch-2", "class_id": "c1", "start_time": at(5, "10:00"), "end_time": at(5, "11:00")},
    {"schedule_id": "sch-3", "class_id": "c1", "start_time": at(6, "10:00"), "end_time": at(6, "11:00")},
    {"schedule_id": "sch-4", "class_id": "c2", "start_time": at(4, "14:00"), "end_time": at(4, "14:30")},
    {"schedule_id": "sch-5", "class_id": "c3", "start_time": at(10, "09:00"), "end_time": at(10, "10:00")},
    {"schedule_id": "sch-6", "class_id": "c9", "start_time": at(1, "08:00"), "end_time": at(1, "09:00")},
    {"schedule_id": "sch-7", "class_id": "c2", "start_time": at(5, "14:00"), "end_time": at(5, "15:00")},
    {"schedule_id": "sch-8", "class_id": "c2", "start_time": at(4, "16:00"), "end_time": at(4, "16:30")},
]

SESSION_WINDOWS = {
    ("c1", "s1"): (at(4, "10:00"), at(4, "11:00")),
    ("c1", "s2"): (at(5, "10:00"), at(5, "11:00")),
    ("c2", "s3"): (at(4, "14:00"), at(4, "14:30")),
    ("c2", "s4"): (at(5, "14:00"), at(5, "15:00")),
}


def _attended(
    class_id: str,
    session_id: str,
    student_id: str,
    email: str | None,
    ext: str | None,
    present: bool,
    tardy: bool,
    join: dt.datetime | None,
    leave: dt.datetime | None,
) -> dict[str, Any]:
    start, end = SESSION_WINDOWS[(class_id, session_id)]
    return {
        "class_id": class_id,
        "session_id": session_id,
        "session_start_time": start,
        "session_end_time": end,
        "student_id": student_id,
        "email": email,
        "ext_person_id": ext,
        "present": present,
        "tardy": tardy,
        "join_time": join,
        "leave_time": leave,
    }


ATTENDANCE = [
    # s1: ana joins before the start and leaves after the end; ben is tardy; cara never comes
    _attended("c1", "s1", "ana", "ana@demo.com", "a.lima", True, False, at(4, "09:58"), at(4, "11:05")),
    _attended("c1", "s1", "ben", None, "b.okafor", True, True, at(4, "10:10"), at(4, "11:00")),
    _attended("c1", "s1", "cara", "cara@demo.com", None, False, False, None, None),
    # staff on the report: the teacher joins 8 minutes early, the assistant leaves at half time
    _attended("c1", "s1", "anne", "anne.malley@demo.com", "a.malley", True, False, at(4, "09:52"), at(4, "11:00")),
    _attended("c1", "s1", "gus", "gus@demo.com", None, True, False, at(4, "10:00"), at(4, "10:30")),
    # s2: ana leaves early; ben joins half a second late; cara is still in (no leave_time yet)
    _attended("c1", "s2", "ana", "ana@demo.com", "a.lima", True, False, at(5, "10:00"), at(5, "10:30")),
    _attended("c1", "s2", "ben", None, "b.okafor", True, False, at(5, "10:00:00.500"), at(5, "11:00")),
    _attended("c1", "s2", "cara", "cara@demo.com", None, True, True, at(5, "10:05"), None),
    # s3: the report has an old e-mail for ana (her enrollment's wins); dev is absent; eli is not enrolled
    _attended("c2", "s3", "ana", "ana.lima@old.example", "a.lima", True, False, at(4, "14:00"), at(4, "14:30")),
    _attended("c2", "s3", "dev", "dev@demo.com", "d.patel", False, False, None, None),
    _attended("c2", "s3", "eli", "eli@guest.com", None, True, True, at(4, "14:05"), at(4, "14:20")),
    # s4 is live: dev is in (no leave_time yet), ana has not joined (yet)
    _attended("c2", "s4", "ana", "ana@demo.com", "a.lima", False, False, None, None),
    _attended("c2", "s4", "dev", "dev@demo.com", "d.patel", True, False, at(5, "14:02"), None),
]

_PEOPLE = {
    "ana": ("ana@demo.com", "a.lima"),
    "ben": (None, "b.okafor"),
    "cara": ("cara@demo.com", None),
    "eli": ("eli@guest.com", None),
    "anne": ("anne.malley@demo.com", "a.malley"),
    "gus": ("gus@demo.com", None),
    "dev": ("dev@demo.com", "d.patel"),
}


def _event(
    class_id: str,
    student_id: str,
    event_type: str,
    event_value: str | None,
    start: dt.datetime,
    end: dt.datetime,
    raw_duration: int | None = None,
) -> dict[str, Any]:
    email, ext = _PEOPLE[student_id]
    return {
        "class_id": class_id,
        "student_id": student_id,
        "email": email,
        "ext_person_id": ext,
        "event_start": start,
        "event_end": end,
        # the API's own field; the models must not use it (see the 36000 below)
        "event_duration": raw_duration if raw_duration is not None else int((end - start).total_seconds()),
        "event_type": event_type,
        "event_value": event_value,
    }


METRICS = [
    # --- c1, s1 (2024-03-04 10:00-11:00) ---
    # ana talks: 10:05-10:07 and 10:06-10:08:30 overlap, 10:05:30-10:06 sits inside, 10:08:30-10:09
    # touches, 10:20-10:21:00.250 stands alone
    _event("c1", "ana", "IS_TALKING", "true", at(4, "10:05"), at(4, "10:07")),
    _event("c1", "ana", "IS_TALKING", "true", at(4, "10:06"), at(4, "10:08:30")),
    _event("c1", "ana", "IS_TALKING", "true", at(4, "10:08:30"), at(4, "10:09")),
    _event("c1", "ana", "IS_TALKING", "true", at(4, "10:20"), at(4, "10:21:00.250")),
    _event("c1", "ana", "IS_TALKING", "true", at(4, "10:05:30"), at(4, "10:06")),
    _event("c1", "ana", "IS_TALKING", "false", at(4, "10:09"), at(4, "10:20")),
    _event("c1", "ana", "RAISED_HAND", "1", at(4, "10:04"), at(4, "10:04:10")),
    _event("c1", "ana", "RAISED_HAND", "0", at(4, "10:04:10"), at(4, "10:04:10")),
    _event("c1", "ana", "IS_VIDEO_ON", "true", at(4, "10:00"), at(4, "10:30")),
    _event("c1", "ana", "STARS", "2", at(4, "10:40"), at(4, "10:40")),
    _event("c1", "ana", "STARS", "3", at(4, "10:50"), at(4, "10:50")),
    # a second STARS at the same instant with another value: a second event
    _event("c1", "ana", "STARS", "1", at(4, "10:40"), at(4, "10:40")),
    # the early joiner, focused from before the start to the end; the raw duration contradicts the
    # 3720-second span, like the API documentation's example
    _event("c1", "ana", "FOCUSED", "true", at(4, "09:58"), at(4, "11:00"), raw_duration=36000),
    # ben: two overlapping mutes, reactions, feedback, presenting, and talk that runs past s1's end
    _event("c1", "ben", "IS_AUDIO_MUTED", "true", at(4, "10:10"), at(4, "10:40")),
    _event("c1", "ben", "IS_AUDIO_MUTED", "true", at(4, "10:30"), at(4, "10:50")),
    _event("c1", "ben", "REACTION", "clap", at(4, "10:15"), at(4, "10:15")),
    _event("c1", "ben", "REACTION", "thumbup", at(4, "10:16"), at(4, "10:16")),
    _event("c1", "ben", "FEEDBACK", "faster", at(4, "10:20"), at(4, "10:20")),
    _event("c1", "ben", "PRESENTING", "true", at(4, "10:30"), at(4, "10:45")),
    _event("c1", "ben", "IS_TALKING", "true", at(4, "10:45"), at(4, "11:10")),
    # a hand raise without a value (landed as '') and one the API sent as null; an undocumented type
    _event("c1", "ben", "RAISED_HAND", "", at(4, "10:25"), at(4, "10:25:05")),
    _event("c1", "ben", "REACTION", None, at(4, "10:26"), at(4, "10:26")),
    _event("c1", "ben", "WAVING", "true", at(4, "10:27"), at(4, "10:28")),
    # the teacher talks before the start (she joined at 09:52) and into the class; the assistant too
    _event("c1", "anne", "IS_TALKING", "true", at(4, "09:55"), at(4, "10:03")),
    _event("c1", "gus", "IS_TALKING", "true", at(4, "10:10"), at(4, "10:11")),
    # --- c1, outside every session: before s1's join-before-host allowance (09:50), and starting
    # exactly at s1's (exclusive) end ---
    _event("c1", "ana", "IS_TALKING", "true", at(4, "09:45"), at(4, "09:49")),
    _event("c1", "ana", "IS_TALKING", "true", at(4, "11:00"), at(4, "11:01")),
    # --- c1, s2 (2024-03-05 10:00-11:00) ---
    _event("c1", "ben", "IS_TALKING", "true", at(5, "10:10"), at(5, "10:12")),
    _event("c1", "ben", "IS_TALKING", "true", at(5, "10:11"), at(5, "10:11:30")),
    _event("c1", "cara", "IS_VIDEO_ON", "true", at(5, "10:05"), at(5, "10:35")),
    _event("c1", "ana", "RAISED_HAND", "1", at(5, "10:20"), at(5, "10:20:05")),
    _event("c1", "ana", "RAISED_HAND", "1", at(5, "10:25"), at(5, "10:25:05")),
    # the teacher, not on s2's report
    _event("c1", "anne", "IS_TALKING", "true", at(5, "10:01"), at(5, "10:02")),
    # --- c2, s3 (2024-03-04 14:00-14:30) ---
    _event("c2", "eli", "IS_TALKING", "true", at(4, "14:06"), at(4, "14:08")),
    _event("c2", "ana", "FOCUSED", "true", at(4, "14:00"), at(4, "14:30")),
    # --- c2, s4 (live) ---
    _event("c2", "dev", "IS_VIDEO_ON", "true", at(5, "14:02"), at(5, "14:20")),
]

RAW_ROWS: dict[str, list[dict[str, Any]]] = {
    "classes": CLASSES,
    "deferred_classes": DEFERRED_CLASSES,
    "users": USERS,
    "templates": TEMPLATES,
    "enrollments": ENROLLMENTS,
    "schedules": SCHEDULES,
    "attendance": ATTENDANCE,
    "metrics": METRICS,
}


@dlt.source(name="class_fixture")
def fixture_source(tables: dict[str, list[dict[str, Any]]] | None = None, roster_seen_at: dt.datetime | None = None) -> list[Any]:
    """The fixture's raw tables (or `tables`) as resources with the contract's column types;
    `roster_seen_at` stamps the roster versions this load opens or retires (dlt's scd2 boundary
    timestamp) instead of the load's own clock, to place roster changes between sessions."""
    tables = RAW_ROWS if tables is None else tables
    roster_history = ROSTER_HISTORY if roster_seen_at is None else {**ROSTER_HISTORY, "boundary_timestamp": roster_seen_at}
    return [
        dlt.resource(
            rows,
            name=name,
            # dlt writes into hint dicts (their name): one fresh dict per column, as the constants are shared
            columns={column: dict(hint) for column, hint in COLUMNS[name].items()},
            **(
                {"write_disposition": roster_history}  # as the connector keeps rosters
                if name == "enrollments"
                else {"primary_key": KEYS[name], "write_disposition": "replace"}
            ),
        )
        for name, rows in tables.items()
    ]


def load_raw_tables(
    pipeline: dlt.Pipeline,
    tables: dict[str, list[dict[str, Any]]] | None = None,
    roster_seen_at: dt.datetime | None = None,
    **run: Any,
) -> None:
    """Load the fixture's raw tables (or `tables`) in one dlt run; `run` goes to pipeline.run (e.g. refresh)."""
    pipeline.run(fixture_source(tables, roster_seen_at), **run)


# --- destinations --------------------------------------------------------------------------------

POSTGRES_HOST, POSTGRES_PORT, POSTGRES_DATABASE = "127.0.0.1", 5432, "test"
POSTGRES_USERS = ("postgres", "root")  # trust auth: whichever role the server has


def postgres_user() -> str | None:
    """The first role the local server accepts, or None when no server answers."""
    import psycopg2

    for user in POSTGRES_USERS:
        try:
            psycopg2.connect(
                host=POSTGRES_HOST, port=POSTGRES_PORT, dbname=POSTGRES_DATABASE, user=user, connect_timeout=3
            ).close()
            return user
        except psycopg2.OperationalError:
            continue
    return None


def postgres_url(user: str) -> str:
    # dlt insists on a password in the credentials; trust auth ignores it
    return f"postgresql://{user}:unused@{POSTGRES_HOST}:{POSTGRES_PORT}/{POSTGRES_DATABASE}"
