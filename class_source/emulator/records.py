"""The school's structural records, kept compact: people are columns, rosters are tuples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .timefmt import iso_ms

ROLE_ORDER = ("instructor", "admin", "instructional-designer")  # canonical order roles are served in
ENROLLMENT_ROLES = ("student", "assistant", "teacher")
TEMPLATE_STATUSES = ("published", "draft")


@dataclass
class User:
    id: int
    ext_user_id: str | None
    email: str | None
    user_name: str
    roles: tuple[str, ...]
    is_zoom_configured: bool

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ext_user_id": self.ext_user_id,
            "email": self.email,
            "user_name": self.user_name,
            "roles": list(self.roles),
            "is_zoom_configured": self.is_zoom_configured,
        }


@dataclass
class Template:
    template_id: str
    name: str
    description: str | None
    status: str

    def to_api(self) -> dict[str, Any]:
        return {"template_id": self.template_id, "name": self.name, "description": self.description, "status": self.status}


class People:
    """Everyone who can be enrolled, school-wide (a student_id names one person in every class, as
    the reference's examples show). Columns, not objects: 30k+ people at the 5,000-class scale."""

    def __init__(self) -> None:
        self.student_id: list[str] = []
        self.first_name: list[str] = []
        self.last_name: list[str] = []
        self.user_name: list[str] = []
        self.email: list[str | None] = []
        self.ext_person_id: list[str | None] = []
        self.key: list[int] = []  # 64-bit randomness key derived from student_id
        self.by_student_id: dict[str, int] = {}
        self.by_email: dict[str, int] = {}  # lower-cased email -> person
        self.by_ext: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.student_id)

    def add(self, student_id: str, first: str, last: str, user_name: str, email: str | None, ext_person_id: str | None, key: int) -> int:
        idx = len(self.student_id)
        self.student_id.append(student_id)
        self.first_name.append(first)
        self.last_name.append(last)
        self.user_name.append(user_name)
        self.email.append(email)
        self.ext_person_id.append(ext_person_id)
        self.key.append(key)
        self.by_student_id[student_id] = idx
        if email is not None:
            self.by_email[email.lower()] = idx
        if ext_person_id is not None:
            self.by_ext[ext_person_id] = idx
        return idx

    def set_email(self, idx: int, email: str | None) -> None:
        old = self.email[idx]
        if old is not None and self.by_email.get(old.lower()) == idx:
            del self.by_email[old.lower()]
        self.email[idx] = email
        if email is not None:
            self.by_email[email.lower()] = idx

    def set_ext(self, idx: int, ext_person_id: str | None) -> None:
        old = self.ext_person_id[idx]
        if old is not None and self.by_ext.get(old) == idx:
            del self.by_ext[old]
        self.ext_person_id[idx] = ext_person_id
        if ext_person_id is not None:
            self.by_ext[ext_person_id] = idx


class ClassRecord:
    """One class, regular (meeting_id set) or deferred (deferred_id set, no meeting yet)."""

    __slots__ = (
        "class_id",
        "ext_class_id",
        "class_name",
        "class_description",
        "meeting_id",
        "host",
        "password",
        "deferred_id",
        "instructor_email",
        "created_at_ms",
        "updated_at_ms",
        "template_id",
        "timezone",
        "settings",
        "schedules",
        "roster",
        "version",
        "injected",
        "missed",
    )

    def __init__(
        self,
        class_id: str,
        ext_class_id: str | None,
        class_name: str,
        class_description: str | None,
        meeting_id: str | None,
        host: str,
        password: str | None,
        deferred_id: int | None,
        instructor_email: str | None,
        created_at_ms: int,
        template_id: str | None,
        timezone: str,
    ) -> None:
        self.class_id = class_id
        self.ext_class_id = ext_class_id
        self.class_name = class_name
        self.class_description = class_description
        self.meeting_id = meeting_id
        self.host = host
        self.password = password
        self.deferred_id = deferred_id
        self.instructor_email = instructor_email
        self.created_at_ms = created_at_ms
        self.updated_at_ms = created_at_ms
        self.template_id = template_id
        self.timezone = timezone
        self.settings: dict[str, Any] = {}
        # (start, end, schedule_id), kept sorted: that is also the order GET /schedules answers in.
        self.schedules: list[tuple[int, int, str]] = []
        # (person index, role, enrolled_at unix seconds), in enrollment order.
        self.roster: list[tuple[int, str, int]] = []
        # Bumped by every write that changes generated activity (roster, schedules, injected events).
        self.version = 0
        self.injected: list[tuple[int, int, int, int, int]] = []
        # schedule ids whose session is never held (SchoolShape.missed_fraction)
        self.missed: frozenset[str] = frozenset()

    @property
    def deferred(self) -> bool:
        return self.deferred_id is not None

    def to_api(self, invite_base: str) -> dict[str, Any]:
        return {
            "class_id": self.class_id,
            "ext_class_id": self.ext_class_id,
            "class_name": self.class_name,
            "class_description": self.class_description,
            "meeting_id": self.meeting_id,
            "host": self.host,
            "invite_link": invite_base + self.class_id,
            "password": self.password,
        }

    def to_deferred_api(self) -> dict[str, Any]:
        return {
            "class_deferred_id": self.deferred_id,
            "class_id": self.class_id,
            "ext_class_id": self.ext_class_id,
            "email": self.instructor_email,
            "class_name": self.class_name,
            "class_description": self.class_description,
            "created_at": iso_ms(self.created_at_ms),
            "updated_at": iso_ms(self.updated_at_ms),
        }


@dataclass
class SchoolShape:
    """Knobs of the synthetic school (all deterministic given the seed)."""

    classes: int = 20
    students_per_class: int = 30  # average roster size incl. teacher and assistants; totals are exact
    classes_per_student: int = 5
    deferred_fraction: float = 0.05
    no_ext_id_fraction: float = 0.15
    event_scale: float = 1.0  # multiplies activity-event frequency (event-heavy schools for CPU benchmarks)
    term_start: int = 1_725_235_200  # Monday 2024-09-02T00:00:00Z
    term_weeks: int = 15
    org: str = "school"  # invite/launch links are https://<org>.class.com/...
    cache_classes: int = 64  # LRU size for generated per-class activity
    # Edges the default school leaves out (both 0: the data every existing benchmark and test was
    # written against). missed_fraction: share of a class's schedules whose session is never held
    # (no attendance report, no events: the marts' `missed` status); never class 0's, which carries
    # the default clock's live session. odd_event_rate: per person and attended session, the chance
    # of one event the API reference does not document (a null or empty value, an unknown type).
    missed_fraction: float = 0.0
    odd_event_rate: float = 0.0
