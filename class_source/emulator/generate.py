"""Deterministic structure of the synthetic school: users, templates, people, classes, rosters and
a term of schedules. Activity (attendance, events) is generated later, per class, in activity.py."""

from __future__ import annotations

import math
import random
import string
import uuid
from dataclasses import dataclass

from . import names
from .activity import key64, splitmix64
from .records import ClassRecord, People, SchoolShape, Template, User

DAY = 86_400
WEEK = 7 * DAY
STAFF_DOMAIN = "staff.example.org"
STUDENT_DOMAIN = "students.example.org"

# Weekday patterns (0 = Monday) and session lengths of generated classes.
_PATTERNS: tuple[tuple[int, ...], ...] = ((0, 2), (1, 3), (2, 4), (0, 2, 4), (1, 3), (0, 3), (2,), (4,), (1, 4))
_LENGTHS_MIN = (50, 60, 75, 90)


def default_now(term_start: int) -> int:
    """Wednesday of the term's 5th week, 16:30 UTC: ~4.5 weeks of sessions are past, class 0's
    Mon/Wed 16:00-17:30 session is live, and the rest of the term is in the future."""
    return term_start + 4 * WEEK + 2 * DAY + 16 * 3600 + 30 * 60


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass
class Structure:
    people: People
    users: dict[int, User]
    templates: dict[str, Template]
    classes: dict[str, ClassRecord]
    next_deferred_id: int
    meeting_ids: set[str]


class _Emails:
    """Unique, plausible e-mail addresses (first.last@domain, numbered on collision)."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def make(self, first: str, last: str, domain: str, fallback: str) -> str:
        local = ".".join(part for part in (names.ascii_slug(first), names.ascii_slug(last)) if part) or fallback
        candidate, n = f"{local}@{domain}", 1
        while candidate in self.taken:
            n += 1
            candidate = f"{local}{n}@{domain}"
        self.taken.add(candidate)
        return candidate


def unique_meeting_id(rng: random.Random, taken: set[str]) -> str:
    while True:
        candidate = str(rng.randrange(80_000_000_000, 100_000_000_000))
        if candidate not in taken:
            taken.add(candidate)
            return candidate


def build_structure(seed: int, shape: SchoolShape) -> Structure:
    rng = random.Random(seed)
    emails = _Emails()
    people = People()
    users: dict[int, User] = {}

    # --- users: instructors (who teach), then admins and instructional designers -------------
    n_instructors = max(1, math.ceil(shape.classes / 4))
    instructor_people: list[int] = []
    for _ in range(n_instructors):
        first, last = rng.choice(names.FIRST_NAMES), rng.choice(names.LAST_NAMES)
        u = rng.random()
        roles = ("instructor",) if u < 0.85 else ("instructor", "admin") if u < 0.95 else ("instructor", "instructional-designer")
        uid = len(users) + 1
        ext = None if rng.random() < 0.4 else str(1000 + uid)
        email: str | None = emails.make(first, last, STAFF_DOMAIN, f"staff{uid}")
        users[uid] = User(uid, ext, email, f"{first} {last}", roles, rng.random() < 0.85)
        sid = new_uuid(rng)
        instructor_people.append(people.add(sid, first, last, f"{first} {last}", email, ext, key64(sid)))
    n_admins, n_designers = 2, 2 + shape.classes // 500
    for role, count in (("admin", n_admins), ("instructional-designer", n_designers)):
        for _ in range(count):
            first, last = rng.choice(names.FIRST_NAMES), rng.choice(names.LAST_NAMES)
            uid = len(users) + 1
            email = None if rng.random() < 0.3 else emails.make(first, last, STAFF_DOMAIN, f"staff{uid}")
            ext = str(1000 + uid) if email is None or rng.random() < 0.6 else None
            users[uid] = User(uid, ext, email, f"{first} {last}", (role,), False)

    # --- templates -------------------------------------------------------------------------------
    templates: dict[str, Template] = {}
    for i in range(max(2, shape.classes // 40)):
        tid = new_uuid(rng)
        topic = names.TEMPLATE_TOPICS[i % len(names.TEMPLATE_TOPICS)]
        description = None if rng.random() < 0.25 else f"{topic} for {rng.choice(names.SUBJECTS)[1]}"
        templates[tid] = Template(tid, f"{topic} #{i + 1}", description, "published" if rng.random() < 0.7 else "draft")
    template_ids = list(templates)

    # --- roster sizes: varied per class, exact total (paired +d / -d) ----------------------------
    base = max(1, shape.students_per_class)
    sizes = [base] * shape.classes
    max_delta = min(5, max(0, base - 2))
    for i in range(0, shape.classes - 1, 2):
        d = rng.randint(0, max_delta)
        sizes[i], sizes[i + 1] = base + d, base - d

    # --- student pool: each student sits in ~classes_per_student classes --------------------------
    student_slots = sum(max(0, s - 1) for s in sizes)
    pool = max(2 * (base + 6), math.ceil(student_slots / max(1, shape.classes_per_student)))
    pool_start = len(people)
    for i in range(pool):
        first, last = rng.choice(names.FIRST_NAMES), rng.choice(names.LAST_NAMES)
        u = rng.random()
        user_name = f"{first} {last}" if u < 0.95 else first if u < 0.975 else f"{first} {last[:1]}."
        email = None if rng.random() < 0.08 else emails.make(first, last, STUDENT_DOMAIN, f"student{i + 1}")
        ext = None if email is not None and rng.random() < 0.3 else f"s{100_000 + i}"
        sid = new_uuid(rng)
        people.add(sid, first, last, user_name, email, ext, key64(sid))

    # --- classes -----------------------------------------------------------------------------------
    classes: dict[str, ClassRecord] = {}
    meeting_ids: set[str] = set()
    next_deferred_id = 100
    term_start = shape.term_start
    # round(fraction x classes) deferred classes, at least one when the fraction is > 0; never
    # class 0 (it carries the live session of the default clock).
    n_deferred = min(
        max(0, shape.classes - 1), max(round(shape.deferred_fraction * shape.classes), 1 if shape.deferred_fraction > 0 else 0)
    )
    deferred_set = set(rng.sample(range(1, shape.classes), n_deferred)) if n_deferred else set()
    for i in range(shape.classes):
        deferred = i in deferred_set
        dept, subject = rng.choice(names.SUBJECTS)
        class_name = f"{subject} {rng.choice(names.LEVELS)}"
        if rng.random() < 0.3:
            class_name += f" — Section {1 + rng.randrange(9)}"
        ext = None if rng.random() < shape.no_ext_id_fraction else f"{dept}-{1001 + i}"
        description = None if rng.random() < 0.2 else rng.choice(names.DESCRIPTIONS)
        teacher_user = 0 if i == 0 else rng.randrange(n_instructors)
        instructor = users[teacher_user + 1]
        password = None if rng.random() < 0.2 else "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(6))
        template_id = rng.choice(template_ids) if rng.random() < 0.5 else None
        created_s = term_start - DAY * (7 + rng.randrange(60)) - rng.randrange(DAY)
        created_ms = created_s * 1000 + rng.randrange(1000)
        record = ClassRecord(
            class_id=new_uuid(rng),
            ext_class_id=ext,
            class_name=class_name,
            class_description=description,
            meeting_id=None if deferred else unique_meeting_id(rng, meeting_ids),
            host=instructor.user_name,
            password=password,
            deferred_id=next_deferred_id if deferred else None,
            instructor_email=instructor.email,
            created_at_ms=created_ms,
            template_id=template_id,
            timezone=rng.choice(names.TIMEZONES),
        )
        if deferred:
            next_deferred_id += 1
        record.updated_at_ms = created_ms + rng.randrange(3 * DAY * 1000)
        record.settings = {"waiting_room": rng.random() < 0.3, "join_before_host": rng.random() < 0.7, "jbh_time": rng.choice((0, 5, 10))}

        # Roster: the instructor teaches, maybe a co-teacher, 0-2 assistants, the rest students.
        roster = [(instructor_people[teacher_user], "teacher", created_s)]
        size = sizes[i]
        if n_instructors > 1 and size > 2 and rng.random() < 0.08:
            co = rng.randrange(n_instructors)
            if co != teacher_user:
                roster.append((instructor_people[co], "teacher", created_s))
        u = rng.random()
        assistants = 0 if u < 0.6 else 1 if u < 0.9 else 2
        others = max(0, size - len(roster))
        picks = rng.sample(range(pool), min(others, pool))
        for k, p in enumerate(picks):
            roster.append((pool_start + p, "assistant" if k < assistants else "student", created_s))
        record.roster = roster

        # A term of sessions (deferred classes: half have dates already, as the API allows).
        if not deferred or rng.random() < 0.5:
            if i == 0:
                days: tuple[int, ...] = (0, 2)
                hour_min, length, first_week = 16 * 60, 90, 0
            else:
                days = rng.choice(_PATTERNS)
                hour_min = 13 * 60 + 30 * rng.randrange(17)  # 13:00 .. 21:00 UTC
                length = rng.choice(_LENGTHS_MIN)
                first_week = 0 if rng.random() < 0.85 else rng.randrange(1, 3)
            last_week = shape.term_weeks if rng.random() < 0.9 else max(first_week + 1, shape.term_weeks - rng.randrange(1, 4))
            schedules = []
            for week in range(first_week, last_week):
                for day in days:
                    start = term_start + week * WEEK + day * DAY + hour_min * 60
                    schedules.append((start, start + length * 60, new_uuid(rng)))
            record.schedules = schedules  # generated in time order, hence sorted
            if shape.missed_fraction > 0 and i != 0:
                record.missed = frozenset(sid for _, _, sid in schedules if _is_missed(seed, sid, shape.missed_fraction))
        classes[record.class_id] = record
    return Structure(people, users, templates, classes, next_deferred_id, meeting_ids)


def _is_missed(seed: int, schedule_id: str, fraction: float) -> bool:
    """A hash of (seed, schedule) rather than a draw from the structure's stream: choosing missed
    schedules leaves every other generated value as it was."""
    return splitmix64((seed & 0xFFFF_FFFF_FFFF_FFFF) ^ key64(schedule_id) ^ _MISSED_SALT) < fraction * 2**64


_MISSED_SALT = 0x0415_5ED5_E551_0475
