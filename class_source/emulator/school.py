"""The school: state behind every endpoint, the write operations, and the ground truth.

Structure (users, templates, people, classes, rosters, schedules) is materialized compactly at
construction (generate.py); attendance and activity events are generated per class on demand
(activity.py) and cached in a small LRU. All methods take the school lock: the HTTP server runs on
its own thread while tests call this API from theirs.
"""

from __future__ import annotations

import functools
import math
import random
import threading
from bisect import bisect_right, insort
from typing import Any, Callable, Iterator, TypeVar
from urllib.parse import quote_plus

import orjson

from .activity import (
    CODE_OF,
    MAX_EVENT_SPAN_MS,
    TARDY_AFTER_MS,
    TYPE_VALUES,
    ActivityCache,
    ClassActivity,
    generate_activity,
    key64,
    reported_duration,
    splitmix64,
)
from .clock import Clock
from .errors import BadRequest, NotFound, ValidationFailed
from .generate import build_structure, new_uuid, unique_meeting_id
from .readings import ApiReadings
from .records import ROLE_ORDER, ClassRecord, SchoolShape, Template, User
from .render import events_json
from .timefmt import iso_ms, iso_s, parse_iso_ms

F = TypeVar("F", bound=Callable[..., Any])
_WRITE_SALT = 0x5EED_0F_0A11_0F_57A7E  # ids minted by writes come from their own seeded stream
_UNORDERED_SALT = 0x0DD_0ADE5  # the "unordered" reading's order of events
MISSING: Any = object()  # "field absent" as opposed to an explicit JSON null


def _locked(method: F) -> F:
    @functools.wraps(method)
    def wrapper(self: "School", *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _name_from_email(email: str) -> tuple[str, str]:
    """'james.lloyd@demo.com' -> ('James', 'Lloyd'): names for instructors known only by e-mail."""
    parts = [p for p in email.split("@", 1)[0].replace("_", ".").replace("-", ".").split(".") if p]
    if not parts:
        return (email, "")
    return (parts[0].capitalize(), " ".join(p.capitalize() for p in parts[1:]))


class School:
    def __init__(self, seed: int, shape: SchoolShape, clock: Clock, readings: ApiReadings | None = None) -> None:
        self.seed = seed
        self.shape = shape
        self.clock = clock
        # Which server the metrics pages play (readings.py); replaced whole, read once per page.
        self.readings = readings if readings is not None else ApiReadings()
        self.lock = threading.RLock()
        built = build_structure(seed, shape)
        self.people = built.people
        self.users: dict[int, User] = built.users
        self.templates: dict[str, Template] = built.templates
        self.classes: dict[str, ClassRecord] = built.classes
        self._meeting_ids = built.meeting_ids
        self._next_deferred_id = built.next_deferred_id
        self._next_user_id = max(self.users, default=0) + 1
        self._next_enrollment_id = 1
        self._launch_counter = 0
        self._write_rng = random.Random(seed ^ _WRITE_SALT)
        self._by_ext: dict[str, str] = {}
        self._by_deferred: dict[int, str] = {}
        self._schedule_owner: dict[str, str] = {}
        for cls in self.classes.values():
            self._index_class(cls)
        self._user_by_email = {u.email.lower(): u.id for u in self.users.values() if u.email is not None}
        self._user_by_ext = {u.ext_user_id: u.id for u in self.users.values() if u.ext_user_id is not None}
        self._cache = ActivityCache(shape.cache_classes)
        # a metrics event's JSON up to its start, by the person's (student_id, email, ext_person_id):
        # keyed by the values, so a person whose email changes gets a new entry, never a stale one
        self._event_prefixes: dict[tuple[Any, Any, Any], str] = {}
        self.invite_base = f"https://{shape.org}.class.com/class.html?class_uuid="

    def _index_class(self, cls: ClassRecord) -> None:
        if cls.ext_class_id is not None:
            self._by_ext[cls.ext_class_id] = cls.class_id
        if cls.deferred_id is not None:
            self._by_deferred[cls.deferred_id] = cls.class_id
        for _, _, schedule_id in cls.schedules:
            self._schedule_owner[schedule_id] = cls.class_id

    # ------------------------------------------------------------------ lookups
    @_locked
    def class_ids(self) -> list[str]:
        """Regular classes, in listing order."""
        return [c.class_id for c in self.classes.values() if not c.deferred]

    @_locked
    def deferred_class_ids(self) -> list[str]:
        return [c.class_id for c in self.classes.values() if c.deferred]

    @_locked
    def find_class(
        self, *, class_id: str | None = None, ext_class_id: str | None = None, deferred_id: int | str | None = None
    ) -> ClassRecord:
        """Resolve exactly one given identifier; 404 in the documented shape when unknown."""
        if class_id is not None:
            cls = self.classes.get(class_id)
            ident: object = class_id
        elif ext_class_id is not None:
            cid = self._by_ext.get(ext_class_id)
            cls = self.classes.get(cid) if cid is not None else None
            ident = ext_class_id
        else:
            ident = deferred_id
            try:
                cid = self._by_deferred.get(int(str(deferred_id)))
            except ValueError:
                cid = None
            cls = self.classes.get(cid) if cid is not None else None
        if cls is None:
            raise NotFound("class", ident)
        return cls

    def _class(self, class_id: str) -> ClassRecord:
        cls = self.classes.get(class_id)
        if cls is None:
            raise KeyError(f"no class {class_id!r} in this school")
        return cls

    # ------------------------------------------------------------------ classes
    @_locked
    def list_classes(self, deferred: bool) -> list[dict[str, Any]]:
        if deferred:
            return [c.to_deferred_api() for c in self.classes.values() if c.deferred]
        return [c.to_api(self.invite_base) for c in self.classes.values() if not c.deferred]

    def class_api(self, cls: ClassRecord) -> dict[str, Any]:
        return cls.to_deferred_api() if cls.deferred else cls.to_api(self.invite_base)

    @_locked
    def create_class(
        self,
        *,
        email: str,
        first_name: str,
        last_name: str,
        display_name: str | None,
        ext_class_id: str | None,
        class_name: str,
        class_description: str | None,
        template_id: str | None,
        meeting_passcode: str | None,
        timezone: str,
        session_times: list[tuple[int, int]],
        settings: dict[str, Any],
        additional_instructors: list[str],
    ) -> dict[str, Any]:
        if ext_class_id is not None and ext_class_id in self._by_ext:
            raise BadRequest(f"Class exists for external class ID provided: {ext_class_id}.")
        if template_id is not None and template_id not in self.templates:
            raise NotFound("template", template_id)
        now = self.clock.now
        rng = self._write_rng
        host = display_name or f"{first_name} {last_name}"
        deferred = not session_times
        self._ensure_user(email, f"{first_name} {last_name}")
        cls = ClassRecord(
            class_id=new_uuid(rng),
            ext_class_id=ext_class_id,
            class_name=class_name,
            class_description=class_description,
            meeting_id=None if deferred else unique_meeting_id(rng, self._meeting_ids),
            host=host,
            password=meeting_passcode,
            deferred_id=self._next_deferred_id if deferred else None,
            instructor_email=email,
            created_at_ms=now * 1000,
            template_id=template_id,
            timezone=timezone,
        )
        if deferred:
            self._next_deferred_id += 1
        cls.settings = dict(settings)
        cls.schedules = sorted((start, end, new_uuid(rng)) for start, end in session_times)
        # The instructor is one person school-wide: reuse (and rename) them if their e-mail is known.
        teacher = self._upsert_person(first_name, last_name, display_name, email, None, self.people.by_email.get(email.lower()))
        cls.roster.append((teacher, "teacher", now))
        for extra in additional_instructors:
            first, last = _name_from_email(extra)
            self._ensure_user(extra, f"{first} {last}".strip())
            person = self.people.by_email.get(extra.lower())
            if person is None:
                person = self._upsert_person(first, last, None, extra, None)
            if all(p != person for p, _, _ in cls.roster):
                cls.roster.append((person, "teacher", now))
        self.classes[cls.class_id] = cls
        self._index_class(cls)
        if deferred:
            return {"class_deferred_id": cls.deferred_id, "class_id": cls.class_id, "ext_id": cls.ext_class_id}
        return {"meeting_id": cls.meeting_id, "invite_link": self.invite_base + cls.class_id}

    def _ensure_user(self, email: str, user_name: str) -> None:
        """Instructors named by e-mail become users (roles [instructor]) if they are not users yet."""
        if email.lower() not in self._user_by_email:
            user = User(self._next_user_id, None, email, user_name, ("instructor",), False)
            self._next_user_id += 1
            self.users[user.id] = user
            self._user_by_email[email.lower()] = user.id

    @_locked
    def update_class(self, cls: ClassRecord, class_name: Any = MISSING, class_description: Any = MISSING) -> Any:
        if class_name is not MISSING:
            cls.class_name = class_name
        if class_description is not MISSING:
            cls.class_description = class_description
        cls.updated_at_ms = self.clock.now * 1000
        # The reference answers a deferred update with a one-element list, a regular one with an object.
        return [cls.to_deferred_api()] if cls.deferred else cls.to_api(self.invite_base)

    @_locked
    def delete_class(self, cls: ClassRecord) -> None:
        del self.classes[cls.class_id]
        if cls.ext_class_id is not None:
            self._by_ext.pop(cls.ext_class_id, None)
        if cls.deferred_id is not None:
            self._by_deferred.pop(cls.deferred_id, None)
        for _, _, schedule_id in cls.schedules:
            self._schedule_owner.pop(schedule_id, None)
        self._cache.discard(cls.class_id)

    # ------------------------------------------------------------------ enrollments
    def _enrollment_api(self, cls: ClassRecord, person: int, role: str) -> dict[str, Any]:
        p = self.people
        return {
            "student_id": p.student_id[person],
            "meeting_id": cls.meeting_id,
            "user_name": p.user_name[person],
            "first_name": p.first_name[person],
            "last_name": p.last_name[person],
            "email": p.email[person],
            "ext_person_id": p.ext_person_id[person],
            "role": role,
        }

    @_locked
    def enrollments(self, cls: ClassRecord) -> list[dict[str, Any]]:
        return [self._enrollment_api(cls, person, role) for person, role, _ in cls.roster]

    def _upsert_person(
        self, first: str, last: str, display_name: str | None, email: str | None, ext_person_id: str | None, person: int | None = None
    ) -> int:
        p = self.people
        user_name = display_name or f"{first} {last}"
        if person is None:
            sid = new_uuid(self._write_rng)
            return p.add(sid, first, last, user_name, email, ext_person_id, key64(sid))
        p.first_name[person], p.last_name[person], p.user_name[person] = first, last, user_name
        if email is not None:
            p.set_email(person, email)
        if ext_person_id is not None:
            p.set_ext(person, ext_person_id)
        return person

    def _check_free(self, person: int | None, email: str | None, ext_person_id: str | None) -> None:
        """E-mail and ext_person_id each name at most one person school-wide."""
        errors: dict[str, list[str]] = {}
        if email is not None:
            owner = self.people.by_email.get(email.lower())
            if owner is not None and owner != person:
                errors["email"] = ["The email has already been taken."]
        if ext_person_id is not None:
            owner = self.people.by_ext.get(ext_person_id)
            if owner is not None and owner != person:
                errors["ext_person_id"] = ["The ext person id has already been taken."]
        if errors:
            raise ValidationFailed(errors)

    def _roster_index(self, cls: ClassRecord, person: int) -> int:
        for i, (p, _, _) in enumerate(cls.roster):
            if p == person:
                return i
        return -1

    @_locked
    def create_enrollment(
        self,
        cls: ClassRecord,
        *,
        first_name: str,
        last_name: str,
        role: str,
        display_name: str | None,
        email: str | None,
        ext_person_id: str | None,
    ) -> dict[str, Any]:
        p = self.people
        person = p.by_ext.get(ext_person_id) if ext_person_id is not None else None
        if person is None and email is not None:
            person = p.by_email.get(email.lower())
            known_ext = p.ext_person_id[person] if person is not None else None
            if known_ext is not None and ext_person_id is not None and known_ext != ext_person_id:
                raise ValidationFailed({"ext_person_id": ["The ext person id does not match the person with this email."]})
        self._check_free(person, email, ext_person_id)
        if person is not None and self._roster_index(cls, person) >= 0:
            raise BadRequest(f"Enrollment exists for the person provided in class {cls.class_id}.")
        person = self._upsert_person(first_name, last_name, display_name, email, ext_person_id, person)
        now = self.clock.now
        cls.roster.append((person, role, now))
        cls.version += 1
        if not cls.deferred:
            body = self._enrollment_api(cls, person, role)
            # Field order of the reference's Create an Enrollment example.
            return {
                k: body[k] for k in ("student_id", "meeting_id", "first_name", "last_name", "user_name", "role", "email", "ext_person_id")
            }
        enrollment_id = self._next_enrollment_id
        self._next_enrollment_id += 1
        stamp = iso_s(now)
        return {
            "id": enrollment_id,
            "class_deferred_id": str(cls.deferred_id),
            "email_user": p.email[person],
            "enroll_params": {
                "pod": {
                    "name": "pod-1",
                    "region": "us-east-1",
                    "account": self.shape.org,
                    "environment": "emulator",
                    "databaseName": f"customer_{self.shape.org}",
                },
                "class": {"ext_id": cls.ext_class_id},
            },
            "user": {
                "role": role,
                "email": p.email[person],
                "last_name": p.last_name[person],
                "user_name": p.user_name[person],
                "first_name": p.first_name[person],
                "ext_person_id": p.ext_person_id[person],
            },
            "created_at": stamp,
            "updated_at": stamp,
            "role": role,
        }

    def _enrolled_person(self, cls: ClassRecord, field: str, value: str) -> tuple[int, int]:
        p = self.people
        if field == "student_id":
            person = p.by_student_id.get(value)
        elif field == "ext_person_id":
            person = p.by_ext.get(value)
        else:
            person = p.by_email.get(value.lower())
        pos = self._roster_index(cls, person) if person is not None else -1
        if person is None or pos < 0:
            raise NotFound("student", value)
        return person, pos

    @_locked
    def update_enrollment(
        self,
        cls: ClassRecord,
        *,
        identified_by: str,
        identifier: str,
        first_name: str,
        last_name: str,
        role: str,
        display_name: str | None,
        email: str | None,
        ext_person_id: str | None,
    ) -> dict[str, Any]:
        """`email`/`ext_person_id` other than the identifying field are new values (None = unchanged)."""
        person, pos = self._enrolled_person(cls, identified_by, identifier)
        self._check_free(person, email, ext_person_id)
        self._upsert_person(first_name, last_name, display_name, email, ext_person_id, person)
        cls.roster[pos] = (person, role, cls.roster[pos][2])
        cls.version += 1
        body = self._enrollment_api(cls, person, role)
        # Field order of the reference's Update an Enrollment example.
        return {k: body[k] for k in ("student_id", "ext_person_id", "meeting_id", "first_name", "last_name", "user_name", "role", "email")}

    @_locked
    def delete_enrollment(self, cls: ClassRecord, field: str, value: str) -> None:
        _, pos = self._enrolled_person(cls, field, value)
        del cls.roster[pos]
        cls.version += 1

    @_locked
    def launch_url(self, cls: ClassRecord, field: str, value: str) -> str:
        if cls.deferred:
            raise BadRequest(f"Class {cls.class_id} is deferred; no launch link is available yet.")
        person, _ = self._enrolled_person(cls, field, value)
        self._launch_counter += 1
        code = new_uuid(random.Random(f"{self.seed}|{cls.class_id}|{person}|{self._launch_counter}"))
        return (
            f"https://{self.shape.org}.class.com/class.html?class_uuid={cls.class_id}"
            f"&student_id={self.people.student_id[person]}&username={quote_plus(self.people.user_name[person])}"
            f"&code={code}"
        )

    # ------------------------------------------------------------------ activity
    def _activity(self, cls: ClassRecord, now: int) -> ClassActivity:
        started = bisect_right(cls.schedules, (now, math.inf))
        validity = (cls.version, started, self.readings.same_instant_values)
        return self._cache.get(cls.class_id, validity, lambda: self._generate(cls, started))

    def _generate(self, cls: ClassRecord, started: int) -> ClassActivity:
        """The activity of `cls`'s first `started` schedules, missed ones left out (never held)."""
        return generate_activity(
            seed=self.seed,
            class_key=key64(cls.class_id),
            sessions=[(sid, start, end) for start, end, sid in cls.schedules[:started] if sid not in cls.missed],
            roster=list(cls.roster),
            person_keys=self.people.key,
            person_student_ids=self.people.student_id,
            injected=list(cls.injected),
            event_scale=self.shape.event_scale,
            same_instant_values=self.readings.same_instant_values,
            odd_event_rate=self.shape.odd_event_rate,
        )

    @_locked
    def attendance(self, cls: ClassRecord) -> dict[str, Any]:
        if cls.deferred:
            return {"class_id": cls.class_id, "sessions": []}
        now = self.clock.now
        now_ms = now * 1000
        p = self.people
        sessions = []
        for s in self._activity(cls, now).sessions:
            students = []
            tardy_after = s.start * 1000 + TARDY_AFTER_MS
            for person, join, leave in s.rows:
                joined = 0 <= join <= now_ms
                students.append(
                    {
                        "student_id": p.student_id[person],
                        "email": p.email[person],
                        "ext_person_id": p.ext_person_id[person],
                        "present": joined,
                        "tardy": joined and join > tardy_after,
                        "join_time": iso_ms(join) if joined else None,
                        "leave_time": iso_ms(leave) if joined and leave <= now_ms else None,
                    }
                )
            sessions.append({"session_id": s.session_id, "start_time": iso_s(s.start), "end_time": iso_s(s.end), "students": students})
        return {"class_id": cls.class_id, "sessions": sessions}

    def _event_dicts(self, activity: ClassActivity, indices: list[int]) -> list[dict[str, Any]]:
        p = self.people
        sid, email, ext = p.student_id, p.email, p.ext_person_id
        starts, ends, persons, codes = activity.starts, activity.ends, activity.persons, activity.codes
        overrides = activity.duration_overrides
        out = []
        for i in indices:
            person = persons[i]
            etype, evalue = TYPE_VALUES[codes[i]]
            start, end = starts[i], ends[i]
            duration = overrides.get(i) if overrides else None
            out.append(
                {
                    "student_id": sid[person],
                    "email": email[person],
                    "ext_person_id": ext[person],
                    "event_start": iso_ms(start),
                    "event_end": iso_ms(end),
                    "event_duration": (end - start) // 1000 * 60 if duration is None else duration,
                    "event_type": etype,
                    "event_value": evalue,
                }
            )
        return out

    @_locked
    def metrics_page(self, cls: ClassRecord, *, starting_after: int | None, ending_before: int | None, limit: int) -> list[dict[str, Any]]:
        if cls.deferred:
            return []
        now = self.clock.now
        activity = self._activity(cls, now)
        return self._event_dicts(activity, self._page_indices(activity, now, starting_after, ending_before, limit, self.readings))

    @_locked
    def metrics_page_json(self, cls: ClassRecord, *, starting_after: int | None, ending_before: int | None, limit: int) -> bytes:
        """The same page as `metrics_page`, encoded straight to JSON column by column (render.py):
        the hot path of extraction."""
        if cls.deferred:
            return b"[]"
        now = self.clock.now
        activity = self._activity(cls, now)
        readings = self.readings
        indices = self._page_indices(activity, now, starting_after, ending_before, limit, readings)
        p = self.people
        prefixes = self._event_prefixes

        def person_prefix(person: int) -> str:
            identity = (p.student_id[person], p.email[person], p.ext_person_id[person])
            prefix = prefixes.get(identity)
            if prefix is None:
                student_id, email, ext_person_id = (_dumps(value) for value in identity)
                prefix = prefixes[identity] = f'{{"student_id":{student_id},"email":{email},"ext_person_id":{ext_person_id},"event_start":"'
            return prefix

        return events_json(activity, indices, person_prefix, ascending=readings.metrics_order == "ascending")

    def _page_indices(
        self, activity: ClassActivity, now: int, starting_after: int | None, ending_before: int | None, limit: int, readings: ApiReadings
    ) -> list[int]:
        """The events of one metrics page, in the order served, under `readings`."""
        if readings.starting_after_ignored:
            starting_after = None
        size: int | None = None if readings.limit_ignored else limit
        if readings.page_cap is not None:
            size = readings.page_cap if size is None else min(size, readings.page_cap)
        instant = readings.starting_after == "instant"
        if readings.metrics_order == "unordered":
            matching = self._arbitrary_order(activity, activity.visible_indices(now, starting_after, ending_before, after_instant=instant))
            return matching if size is None else matching[:size]
        return activity.visible_indices(
            now, starting_after, ending_before, size, after_instant=instant, newest_first=readings.metrics_order == "descending"
        )

    def _arbitrary_order(self, activity: ClassActivity, indices: list[int]) -> list[int]:
        """`indices` sorted by a hash of each event (student, start, type/value): a fixed order that
        has nothing to do with time, like a hash index's."""
        starts, persons, codes, person_keys = activity.starts, activity.persons, activity.codes, self.people.key
        salt = (self.seed ^ _UNORDERED_SALT) & 0xFFFF_FFFF_FFFF_FFFF
        return sorted(indices, key=lambda i: splitmix64(salt ^ person_keys[persons[i]] ^ (starts[i] << 6 | codes[i])))

    @_locked
    def iter_metrics(self, class_id: str) -> Iterator[dict[str, Any]]:
        """Every event of the class visible now, in API order, API shape (a snapshot)."""
        cls = self._class(class_id)
        if cls.deferred:
            return iter(())
        now = self.clock.now
        activity = self._activity(cls, now)
        return iter(self._event_dicts(activity, activity.visible_indices(now)))

    @_locked
    def activity(self, class_id: str) -> ClassActivity:
        """The columnar activity of a class at the current clock (benchmarks, diagnostics)."""
        return self._activity(self._class(class_id), self.clock.now)

    def clear_activity_cache(self) -> None:
        """Forget generated activity (benchmarks measure cold generation with this)."""
        self._cache.clear()

    def count_visible_events(self) -> int:
        """Visible events across the school, generating class by class without filling the cache."""
        total = 0
        now = self.clock.now
        for class_id in self.class_ids():
            with self.lock:
                cls = self.classes[class_id]
                activity = self._generate(cls, bisect_right(cls.schedules, (now, math.inf)))
            total += activity.count_visible(now)
        return total

    @_locked
    def add_events(self, class_id: str, events: list[dict[str, Any]]) -> None:
        """Inject raw events into a regular class (test helper), e.g. >1000 events in one second or
        a long event that ends after a sync. Each needs student_id (any person of the school,
        normally one enrolled in the class), event_start and event_end (ISO string or unix ms),
        event_type/event_value from the documented table (or ODD_TYPE_VALUES); event_duration is optional (default: as
        the API computes it). Other keys (email, ...) are ignored: they come from the person. An
        injected event replaces a generated one with the same (student_id, event_type, event_start).
        Like every event, it is listed once event_end <= clock.now."""
        cls = self._class(class_id)
        if cls.deferred:
            raise ValueError(f"class {class_id} is deferred: deferred classes have no metrics")
        parsed = []
        for n, event in enumerate(events):
            person = self.people.by_student_id.get(event.get("student_id", ""))
            if person is None:
                raise ValueError(f"event {n}: student_id {event.get('student_id')!r} is not a person of this school")
            start, end = (_as_ms(event.get(k), f"event {n}: {k}") for k in ("event_start", "event_end"))
            if not 0 <= end - start <= MAX_EVENT_SPAN_MS:
                raise ValueError(f"event {n}: event_end must be between event_start and event_start + {MAX_EVENT_SPAN_MS} ms")
            value = event.get("event_value")
            code = CODE_OF.get((str(event.get("event_type")), None if value is None else str(value)))
            if code is None:
                raise ValueError(
                    f"event {n}: ({event.get('event_type')!r}, {event.get('event_value')!r}) is not a documented event "
                    "type/value nor one of the emulator's odd ones (ODD_TYPE_VALUES)"
                )
            duration = event.get("event_duration")
            duration = reported_duration(start, end) if duration is None else int(duration)
            parsed.append((start, end, duration, person, code))
        cls.injected.extend(parsed)
        cls.version += 1

    # ------------------------------------------------------------------ schedules
    @_locked
    def schedules(self, cls: ClassRecord) -> list[dict[str, Any]]:
        return [{"schedule_id": sid, "class_id": cls.class_id, "start_time": start, "end_time": end} for start, end, sid in cls.schedules]

    @_locked
    def add_schedule(self, cls: ClassRecord, start: int, end: int, timezone: str) -> str:
        schedule_id = new_uuid(self._write_rng)
        insort(cls.schedules, (start, end, schedule_id))
        self._schedule_owner[schedule_id] = cls.class_id
        cls.version += 1
        return schedule_id

    @_locked
    def delete_schedule(self, schedule_id: str) -> None:
        owner = self._schedule_owner.pop(schedule_id, None)
        if owner is None:
            raise NotFound("schedule", schedule_id)
        cls = self.classes[owner]
        cls.schedules = [s for s in cls.schedules if s[2] != schedule_id]
        cls.version += 1

    # ------------------------------------------------------------------ templates
    @_locked
    def list_templates(self) -> list[dict[str, Any]]:
        return [t.to_api() for t in self.templates.values()]

    @_locked
    def get_template(self, template_id: str) -> Template:
        template = self.templates.get(template_id)
        if template is None:
            raise NotFound("template", template_id)
        return template

    @_locked
    def create_template(self, name: str, description: str | None, status: str) -> dict[str, Any]:
        template = Template(new_uuid(self._write_rng), name, description, status)
        self.templates[template.template_id] = template
        return template.to_api()

    @_locked
    def update_template(self, template_id: str, name: Any = MISSING, description: Any = MISSING, status: Any = MISSING) -> dict[str, Any]:
        template = self.get_template(template_id)
        if name is not MISSING:
            template.name = name
        if description is not MISSING:
            template.description = description
        if status is not MISSING:
            template.status = status
        return template.to_api()

    @_locked
    def delete_template(self, template_id: str) -> dict[str, Any]:
        template = self.get_template(template_id)
        del self.templates[template_id]
        return template.to_api()

    # ------------------------------------------------------------------ users
    @_locked
    def list_users(self) -> list[dict[str, Any]]:
        return [u.to_api() for u in self.users.values()]

    @_locked
    def users_page(self, page: int, limit: int) -> dict[str, Any]:
        return paginate(list(self.users.values()), page, limit, User.to_api)

    @_locked
    def find_user(self, field: str, value: Any) -> User:
        if field == "id":
            user = self.users.get(value)
        elif field == "email":
            uid = self._user_by_email.get(str(value).lower())
            user = self.users.get(uid) if uid is not None else None
        else:
            uid = self._user_by_ext.get(value)
            user = self.users.get(uid) if uid is not None else None
        if user is None:
            raise NotFound("user", value)
        return user

    @_locked
    def put_user(self, identified_by: str, fields: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Create or update; returns (user, created). `fields` holds only the keys present in the body."""
        key = fields[identified_by]
        try:
            user: User | None = self.find_user(identified_by, key)
        except NotFound:
            if identified_by == "id":
                raise  # ids are generated by Class: an unknown id cannot be created
            user = None
        errors: dict[str, list[str]] = {}
        email, ext = fields.get("email"), fields.get("ext_user_id")
        me = user.id if user is not None else None
        email_owner = self._user_by_email.get(email.lower()) if email is not None else None
        if email_owner is not None and email_owner != me:
            errors["email"] = ["The email has already been taken."]
        ext_owner = self._user_by_ext.get(ext) if ext is not None else None
        if ext_owner is not None and ext_owner != me:
            errors["ext_user_id"] = ["The ext user id has already been taken."]
        if errors:
            raise ValidationFailed(errors)
        roles = fields.get("roles", MISSING)
        if roles is not MISSING:
            roles = tuple(r for r in ROLE_ORDER if r in roles)
        created = user is None
        if user is None:
            user = User(self._next_user_id, None, None, fields["user_name"], ("instructor",), False)
            self._next_user_id += 1
            self.users[user.id] = user
        if "email" in fields:
            if user.email is not None:
                self._user_by_email.pop(user.email.lower(), None)
            user.email = email
            if email is not None:
                self._user_by_email[email.lower()] = user.id
        if "ext_user_id" in fields:
            if user.ext_user_id is not None:
                self._user_by_ext.pop(user.ext_user_id, None)
            user.ext_user_id = ext
            if ext is not None:
                self._user_by_ext[ext] = user.id
        user.user_name = fields["user_name"]
        if roles is not MISSING:
            user.roles = roles
        return user.to_api(), created

    @_locked
    def delete_user(self, field: str, value: Any) -> dict[str, Any]:
        user = self.find_user(field, value)
        del self.users[user.id]
        if user.email is not None:
            self._user_by_email.pop(user.email.lower(), None)
        if user.ext_user_id is not None:
            self._user_by_ext.pop(user.ext_user_id, None)
        return user.to_api()

    # ------------------------------------------------------------------ ground truth
    @_locked
    def ground_truth(self) -> dict[str, list[dict[str, Any]]]:
        """What the API serves right now, per warehouse table of the contract (small schools only:
        metrics become one dict per event)."""
        enrollments, schedules, attendance, metrics = [], [], [], []
        for cls in self.classes.values():
            for row in self.enrollments(cls):
                enrollments.append({"class_id": cls.class_id, **row})
            schedules.extend(self.schedules(cls))
            if cls.deferred:
                continue
            for session in self.attendance(cls)["sessions"]:
                for student in session["students"]:
                    attendance.append(
                        {
                            "class_id": cls.class_id,
                            "session_id": session["session_id"],
                            "session_start_time": session["start_time"],
                            "session_end_time": session["end_time"],
                            **student,
                        }
                    )
            for event in self.iter_metrics(cls.class_id):
                metrics.append({"class_id": cls.class_id, **event})
        return {
            "classes": self.list_classes(False),
            "deferred_classes": self.list_classes(True),
            "users": self.list_users(),
            "templates": self.list_templates(),
            "enrollments": enrollments,
            "schedules": schedules,
            "attendance": attendance,
            "metrics": metrics,
        }


R = TypeVar("R")


def paginate(records: list[R], page: int, limit: int, to_api: Callable[[R], Any]) -> dict[str, Any]:
    """The documented pagination envelope of page `page` (from 1) of `records`, `limit` a page."""
    total = len(records)
    total_pages = math.ceil(total / limit)
    return {
        "data": [to_api(r) for r in records[(page - 1) * limit : page * limit]],
        "pagination": {
            "total_records": total,
            "current_page": page,
            "total_pages": total_pages,
            "next_page": page + 1 if page < total_pages else None,
            "prev_page": page - 1 if page > 1 else None,
        },
    }


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


def _as_ms(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{what}: expected an ISO timestamp or unix milliseconds, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return parse_iso_ms(value)
    raise ValueError(f"{what}: expected an ISO timestamp or unix milliseconds, got {value!r}")
