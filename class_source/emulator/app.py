"""Starlette app of the Class API emulator: the 24 documented endpoints under /api/v1, plus
unauthenticated /_emulator/ admin routes (a local tool: clock, request log, faults, keys).

Choices — where the reference is silent, the emulator does what a production REST API plausibly
does. Each choice is deliberate; tests pin most of them.

Requests and validation
 1. Order of checks: 401 (auth) -> 403 (scope) -> 400 (validation) -> 404 (unknown entity) ->
    400 (business rule, e.g. duplicate ext_class_id) (reading scope_check_order, see 29). All validation errors of a request are
    reported at once in the documented shape {"error": "Request failed validation", "data": {...}}
    with Laravel-style messages ("The class name field is required.").
 2. Identifier groups the reference calls one-and-only-one (class_id | ext_class_id |
    class_deferred_id; id | ext_user_id | email; student_id | ext_person_id | email; launch:
    email | ext_person_id): none -> 400 under the group's first field ("One of a, b or c is
    required."), several -> 400 under each given field ("Only one of ... may be provided."). On
    list endpoints (GET /classes, GET /users, GET /templates) the identifier is optional.
 3. Exception, forced by the reference's own examples: POST/PUT /class/enrollments carry email AND
    ext_person_id as data. POST needs at least one of them. PUT identifies the person by the first
    present of student_id, ext_person_id, email; the others are new values.
 4. An empty string parameter (?class_id=) counts as absent. Unknown query/body fields are ignored.
    A repeated query parameter uses its last value. Bodies must be JSON objects (else 400
    {"error": "Malformed JSON body."}); DELETE /class/enrollments reads its body, the other
    DELETEs read the query string, as documented.
 5. Booleans in query strings: true/false/1/0 (case-insensitive); anything else is 400.
 6. Unknown paths -> 404 {"error": "Not found"}; wrong method -> 405 {"error": "Method not allowed"}.

Auth
 7. `Authorization: Bearer <secret>` (scheme case-insensitive). Missing, malformed, unknown or
    expired (clock.now >= expires_at) -> 401 {"error": "Unauthenticated"} plus
    `WWW-Authenticate: Bearer`; one message for all cases so secrets cannot be probed. Missing
    scope -> 403 {"error": "Api key scope <scope> required"} (documented). Secrets are stored as
    SHA-256 hashes and are never logged or echoed (only mint_key / POST /_emulator/keys return a
    new secret once, like the admin portal's one-time dialog).

Classes
 8. POST /classes without session_times (or with []) creates a deferred class (201 deferred shape
    {class_deferred_id, class_id, ext_id}); with session_times a regular class (201 {meeting_id,
    invite_link}). class_deferred_id values are sequential integers (generated classes start at 100).
 9. ext_class_id is unique across regular and deferred classes: a duplicate is the documented 400
    {"error": "Class exists for external class ID provided: <ext>."}.
10. The instructor (email) and additional_instructors become users with roles ["instructor"] if no
    user has that e-mail, and are enrolled as role "teacher" (as the Get Enrollments example shows
    the host). Names of additional instructors come from the e-mail ("james.lloyd" -> "James
    Lloyd"). host = display_name if given, else "first_name last_name".
11. template_id (documented Integer, but template ids are strings) accepts a string or an integer
    and must name an existing template, else 404 {"error": "template <id> not found"}.
12. GET /classes lists regular classes, ?deferred=true deferred ones, both in creation order. A
    single-class lookup of a class of the other kind is 404 (a deferred class is not a "scheduled"
    record and vice versa). PATCH answers an object for a regular class and a one-element list for a
    deferred one (as documented) and sets updated_at to the clock. Adding a schedule to a deferred
    class keeps it deferred. DELETE removes the class with its enrollments and schedules.

Enrollments, people and launch links
13. A person (student_id) is school-wide: the same student_id appears in every class they are
    enrolled in (as in the reference's examples). Names, e-mail and ext_person_id belong to the
    person (an update through one class shows in all); role belongs to the enrollment. E-mail
    (case-insensitive) and ext_person_id each name at most one person: reusing one for somebody
    else is 400 {"data": {"email": ["The email has already been taken."]}}.
14. POST /class/enrollments reuses the person matching ext_person_id (else email) and updates their
    names (and fills in a missing e-mail/ext_person_id); a person found by e-mail whose
    ext_person_id differs from the one given -> 400 {"data": {"ext_person_id": ["The ext person id
    does not match the person with this email."]}}; a person already enrolled in the class -> 400
    {"error": "Enrollment exists for the person provided in class <class_id>."}. Regular classes answer the enrollment shape, deferred
    classes the documented deferred shape (id, class_deferred_id as a string, email_user,
    enroll_params{pod, class{ext_id}}, user, created_at, updated_at, role); status 200 as documented.
15. PUT sets role to "student" when role is absent ("defaults to student if not provided", as
    documented for the field). Unknown person or not enrolled in the class -> 404
    {"error": "student <identifier> not found"}.
16. GET /class/enrollments on a deferred class answers the regular shape with meeting_id null. The
    launch link of a deferred class is 400 {"error": "Class <id> is deferred; no launch link is
    available yet."}. Launch codes are fresh per request (deterministic given the request sequence).
17. Enrollments record when they were made (generated rosters: at class creation; API: the clock).
    A session's attendance and events only involve people enrolled when it started. Removing an
    enrollment removes that person's attendance and events from the class (no history is kept).

Reporting
18. Sessions: every schedule whose start_time <= now is a session; session_id is a UUID derived
    from the schedule_id (stable, distinct); start/end are the scheduled times. Attendance lists
    every person enrolled at the session start, teachers and assistants included. present = joined
    (join_time <= now); tardy = joined more than 5 minutes after start; join_time/leave_time are
    null until they happen (a student still in a live session has leave_time null). Deleting a
    schedule removes its session; adding or deleting a schedule that already started regenerates
    the class's later sessions. Generated activity of a session depends only on the seed, the class,
    the sessions before it and who was enrolled when it started, so advancing the clock only adds.
    `school.add_events` (tests) injects events; they follow the same visibility rule.
19. Metrics (contract): starting_after=S -> floor(event_start/1000) > S; ending_before=E ->
    event_end < E*1000 ms; limit 1..1000, default 100; order (event_start, student_id, event_type,
    event_value); (student_id, event_type, event_start) is unique per class; an event is listed
    only once it has ended (event_end <= now). starting_after/ending_before must be integers >= 0.
    These are the default readings; 29 lists the others the emulator can play.
20. event_duration is reported as whole seconds x 60, which reproduces the reference's example
    (600.001 s -> 36000). It is not milliseconds; event_start/event_end are the truth.
21. Deferred classes: attendance {"class_id": ..., "sessions": []}, metrics [].

Schedules, templates, users
22. POST /schedules answers 200 (as documented), requires end_time > start_time, a valid IANA
    timezone (stored, not served), and accepts a regular or deferred class_id only (no
    ext_class_id, as documented). GET lists by (start_time, end_time, schedule_id).
23. Templates: status defaults to "published"; DELETE answers the deleted template (documented).
24. PUT /users: identified_by in {id, ext_user_id, email}; the field it names must be in the body.
    Found -> update (200), not found -> create (201) with roles ["instructor"] unless given and
    is_zoom_configured false. identified_by=id with an unknown id -> 404 (ids are generated, they
    cannot be chosen). Fields absent from the body are left unchanged; explicit null clears
    ext_user_id/email. Roles are served in the order instructor, admin, instructional-designer (the
    documented example reorders ["admin", "instructor"] that way). New users get max id + 1; ids
    are never reused.
25. GET /users: page or limit switches to the paginated envelope (page defaults to 1, limit to
    100); both must be positive integers, limit <= 1000, else 400. A page past the end has empty
    data, next_page null, prev_page page-1. With an identifier (id | ext_user_id | email) the answer
    is the one-element array and page/limit are ignored after validation. Users are ordered by id.

Faults and latency (see faults.py)
26. Faults apply to /api/ paths only, before authentication (they model the network and load
    balancer). 429 and 503 carry Retry-After (FaultConfig.retry_after_s, default 1). Decisions are
    a pure function of (seed, endpoint, ordinal of the request to that endpoint), so they do not
    depend on how requests to different endpoints interleave; scripted faults come first.
27. Admin routes (/_emulator/...) need no auth and are never delayed, faulted or logged.
28. latency_ms (+ jitter) is the time a request takes to be answered, the emulator's own work
    included: the answer is prepared at once and sent latency_ms after the request arrived (or
    when ready, if later). Faulted requests wait latency_ms, then fail.

Readings (see readings.py): other plausible servers, chosen by Emulator(readings=ApiReadings(...)),
`emu.readings = ...` or GET/POST/PATCH/DELETE /_emulator/readings. Defaults are 1 and 19 above.
29. starting_after "whole-second" (floor(event_start/1000) > S) | "instant" (event_start > S*1000
    ms: an event at S.500 is after S). metrics_order "ascending" (19) | "descending" (the newest
    `limit` matching events, newest first) | "unordered" (matching events in a fixed order hashed
    from each event, then the first `limit`). page_cap N: at most N events a page whatever
    `limit` asks; limit_ignored: every matching event (then page_cap, if set). starting_after_ignored:
    validated, then ignored. same_instant_values: the generated school also has same-millisecond
    pairs of one student and event type with different values (a reaction or feedback gets a
    partner with probability 0.15, from a stream of its own, so every other event is unchanged);
    uniqueness is then per (student_id, event_type, event_start, event_value) and an injected event
    replaces only one with its value. repeated_records (listings of readings.LISTINGS): the record
    at position len // 2 is served again at the end of the listing (of each session's students for
    attendance; paged users are paged over the listing with the repeat). scope_check_order
    "validation-first": a GET is validated and its entity resolved before its scope is checked
    (writes keep 403 first: validating a write would perform it). Only same_instant_values changes
    the ground truth (School.ground_truth, iter_metrics); the others change what is served.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.utils import formatdate
from typing import TYPE_CHECKING, Any, Awaitable, Callable, TypeVar

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .auth import ALL_SCOPES, require_scope
from .errors import ApiError, BadRequest, ValidationFailed
from .readings import ApiReadings, repeat_one
from .records import ENROLLMENT_ROLES, ROLE_ORDER, TEMPLATE_STATUSES
from .school import MISSING as SCHOOL_MISSING
from .school import School, paginate
from .timefmt import iso_s
from .validation import MISSING, Validator

if TYPE_CHECKING:
    from . import Emulator

API = "/api/v1"
SUCCESS = {"message": "Success"}
CLASS_IDS = ("class_id", "ext_class_id")
CLASS_IDS_WITH_DEFERRED = ("class_id", "ext_class_id", "class_deferred_id")
PERSON_IDS = ("student_id", "ext_person_id", "email")
USER_IDS = ("id", "ext_user_id", "email")
MAX_LIMIT = 1000


class RawJson(bytes):
    """A payload that is already JSON-encoded (metrics pages are encoded by the school directly)."""


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    if isinstance(payload, RawJson):
        return Response(bytes(payload), status_code=status, headers=headers, media_type="application/json")
    return Response(orjson.dumps(payload), status_code=status, headers=headers, media_type="application/json")


@dataclass
class Call:
    """What a handler gets: the school, the query (last value per name) and the JSON body."""

    school: School
    query: dict[str, str]
    body: dict[str, Any]


Handler = Callable[[Call], "tuple[int, Any]"]
T = TypeVar("T")


def _listed(call: Call, listing: str, records: list[T]) -> list[T]:
    """A snapshot listing as served: one record twice under the repeated_records reading."""
    return repeat_one(records) if call.school.readings.repeats(listing) else records


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    scope: str
    handler: Handler
    reads_body: bool


# ---------------------------------------------------------------------------------- classes
def _class_by(call: Call, source: dict[str, Any], fields: tuple[str, ...] = CLASS_IDS, v: Validator | None = None):
    """Validate and resolve a class identifier group (exactly one)."""
    v = v or Validator(source)
    ident = v.one_identifier(fields)
    v.check()
    assert ident is not None
    field, value = ident
    if field == "class_deferred_id":
        return call.school.find_class(deferred_id=value)
    if not isinstance(value, str):
        raise ValidationFailed({field: [f"The {field.replace('_', ' ')} must be a string."]})
    return call.school.find_class(**{field: value})


def create_class(call: Call) -> tuple[int, Any]:
    v = Validator(call.body)
    email = v.email("email", required=True)
    first_name = v.string("first_name", required=True)
    last_name = v.string("last_name", required=True)
    display_name = v.string("display_name")
    ext_class_id = v.string("ext_class_id")
    class_name = v.string("class_name", required=True)
    class_description = v.string("class_description", max_length=5000)
    meeting_passcode = v.string("meeting_passcode")
    timezone = v.timezone("timezone", required=True)
    template_id = v.raw("template_id")
    if template_id is not MISSING and template_id is not None:
        if isinstance(template_id, bool) or not isinstance(template_id, (str, int)):
            v.fail("template_id", "The template id must be a string or an integer.")
        template_id = str(template_id)
    session_times = _session_times(v)
    settings = _settings(v)
    additional = _additional_instructors(v)
    v.check()
    body = call.school.create_class(
        email=email,
        first_name=first_name,
        last_name=last_name,
        display_name=_opt(display_name),
        ext_class_id=_opt(ext_class_id),
        class_name=class_name,
        class_description=_opt(class_description),
        template_id=_opt(template_id),
        meeting_passcode=_opt(meeting_passcode),
        timezone=timezone,
        session_times=session_times,
        settings=settings,
        additional_instructors=additional,
    )
    return 201, body


def _opt(value: Any) -> Any:
    return None if value is MISSING else value


def _session_times(v: Validator) -> list[tuple[int, int]]:
    raw = v.raw("session_times")
    if raw is MISSING or raw is None:
        return []
    if not isinstance(raw, list):
        v.fail("session_times", "The session times must be an array.")
        return []
    out = []
    for i, item in enumerate(raw):
        prefix = f"session_times.{i}"
        if not isinstance(item, dict):
            v.fail(prefix, f"The {prefix} must be an object.")
            continue
        sub = Validator(item)
        start = sub.integer("start_time", required=True, minimum=0)
        end = sub.integer("end_time", required=True, minimum=0)
        if isinstance(start, int) and isinstance(end, int) and end <= start:
            sub.fail("end_time", "The end time must be greater than start time.")
        for field, messages in sub.errors.items():
            for message in messages:
                v.fail(f"{prefix}.{field}", message.replace(f"The {field.replace('_', ' ')}", f"The {prefix}.{field}"))
        if not sub.errors:
            out.append((start, end))
    return out


def _settings(v: Validator) -> dict[str, Any]:
    raw = v.raw("settings")
    if raw is MISSING or raw is None:
        return {}
    if not isinstance(raw, dict):
        v.fail("settings", "The settings must be an object.")
        return {}
    sub = Validator(raw)
    out: dict[str, Any] = {}
    for flag in ("waiting_room", "join_before_host"):
        value = sub.boolean(flag)
        if value is not MISSING and value is not None:
            out[flag] = value
    jbh = sub.integer("jbh_time")
    if isinstance(jbh, int):
        if jbh not in (0, 5, 10):
            sub.fail("jbh_time", "The selected jbh time is invalid.")
        else:
            out["jbh_time"] = jbh
    for field, messages in sub.errors.items():
        for message in messages:
            v.fail(f"settings.{field}", message)
    return out


def _additional_instructors(v: Validator) -> list[str]:
    raw = v.raw("additional_instructors")
    if raw is MISSING or raw is None:
        return []
    if not isinstance(raw, list):
        v.fail("additional_instructors", "The additional instructors must be an array.")
        return []
    out = []
    for i, item in enumerate(raw):
        sub = Validator(item if isinstance(item, dict) else {})
        email = sub.email("email", required=True)
        for message in sub.errors.get("email", []):
            v.fail(f"additional_instructors.{i}.email", message.replace("The email", f"The additional_instructors.{i}.email"))
        if isinstance(email, str):
            out.append(email)
    return out


def get_classes(call: Call) -> tuple[int, Any]:
    v = Validator(call.query)
    deferred = v.boolean("deferred", from_query=True)
    ident = v.one_identifier(CLASS_IDS, required=False)
    v.check()
    deferred = deferred is True
    if ident is None:
        return 200, _listed(call, "deferred_classes" if deferred else "classes", call.school.list_classes(deferred))
    field, value = ident
    cls = call.school.find_class(**{field: value})
    if cls.deferred != deferred:
        raise ApiError(404, {"error": f"class {value} not found"})
    return 200, [call.school.class_api(cls)]


def update_class(call: Call) -> tuple[int, Any]:
    v = Validator(call.body)
    class_name = v.string("class_name", nullable=False)
    class_description = v.string("class_description", max_length=5000)
    cls = _class_by(call, call.body, CLASS_IDS_WITH_DEFERRED, v)
    return 200, call.school.update_class(
        cls,
        class_name=SCHOOL_MISSING if class_name is MISSING else class_name,
        class_description=SCHOOL_MISSING if class_description is MISSING else class_description,
    )


def delete_class(call: Call) -> tuple[int, Any]:
    cls = _class_by(call, call.query, CLASS_IDS_WITH_DEFERRED)
    call.school.delete_class(cls)
    return 200, SUCCESS


# ---------------------------------------------------------------------------------- enrollments
def create_enrollment(call: Call) -> tuple[int, Any]:
    v = Validator(call.body)
    email = v.email("email")
    ext_person_id = v.string("ext_person_id")
    if not isinstance(email, str) and not isinstance(ext_person_id, str) and "email" not in v.errors and "ext_person_id" not in v.errors:
        v.fail("email", "The email field is required when ext person id is not present.")
    first_name = v.string("first_name", required=True)
    last_name = v.string("last_name", required=True)
    role = v.choice("role", ENROLLMENT_ROLES)
    display_name = v.string("display_name")
    cls = _class_by(call, call.body, CLASS_IDS, v)
    body = call.school.create_enrollment(
        cls,
        first_name=first_name,
        last_name=last_name,
        role=_opt(role) or "student",
        display_name=_opt(display_name),
        email=_opt(email),
        ext_person_id=_opt(ext_person_id),
    )
    return 200, body


def get_enrollments(call: Call) -> tuple[int, Any]:
    return 200, _listed(call, "enrollments", call.school.enrollments(_class_by(call, call.query)))


def update_enrollment(call: Call) -> tuple[int, Any]:
    v = Validator(call.body)
    student_id = v.string("student_id")
    email = v.email("email", nullable=False)
    ext_person_id = v.string("ext_person_id", nullable=False)
    first_name = v.string("first_name", required=True)
    last_name = v.string("last_name", required=True)
    role = v.choice("role", ENROLLMENT_ROLES)
    display_name = v.string("display_name")
    given = {"student_id": student_id, "ext_person_id": ext_person_id, "email": email}
    identified_by = next((f for f in PERSON_IDS if isinstance(given[f], str)), None)
    if identified_by is None and not any(f in v.errors for f in PERSON_IDS):
        v.fail("student_id", "One of student_id, ext_person_id or email is required.")
    cls = _class_by(call, call.body, CLASS_IDS, v)
    assert identified_by is not None
    return 200, call.school.update_enrollment(
        cls,
        identified_by=identified_by,
        identifier=given[identified_by],
        first_name=first_name,
        last_name=last_name,
        role=_opt(role) or "student",
        display_name=_opt(display_name),
        email=email if identified_by in ("student_id", "ext_person_id") and isinstance(email, str) else None,
        ext_person_id=ext_person_id if identified_by == "student_id" and isinstance(ext_person_id, str) else None,
    )


def delete_enrollment(call: Call) -> tuple[int, Any]:
    v = Validator(call.body)
    person = v.one_identifier(PERSON_IDS)
    cls = _class_by(call, call.body, CLASS_IDS, v)
    assert person is not None
    call.school.delete_enrollment(cls, person[0], str(person[1]))
    return 200, SUCCESS


def launch(call: Call) -> tuple[int, Any]:
    v = Validator(call.query)
    person = v.one_identifier(("email", "ext_person_id"))
    cls = _class_by(call, call.query, CLASS_IDS, v)
    assert person is not None
    return 200, {"launch_url": call.school.launch_url(cls, person[0], str(person[1]))}


# ---------------------------------------------------------------------------------- reporting
def attendance(call: Call) -> tuple[int, Any]:
    body = call.school.attendance(_class_by(call, call.query))
    for session in body["sessions"]:
        session["students"] = _listed(call, "attendance", session["students"])
    return 200, body


def metrics(call: Call) -> tuple[int, Any]:
    v = Validator(call.query)
    starting_after = v.integer("starting_after", minimum=0, from_query=True)
    ending_before = v.integer("ending_before", minimum=0, from_query=True)
    limit = v.integer("limit", minimum=1, maximum=MAX_LIMIT, from_query=True)
    cls = _class_by(call, call.query, CLASS_IDS, v)
    return 200, RawJson(
        call.school.metrics_page_json(
            cls,
            starting_after=_opt(starting_after),
            ending_before=_opt(ending_before),
            limit=100 if limit is MISSING else limit,
        )
    )


# ---------------------------------------------------------------------------------- schedules
def create_schedule(call: Call) -> tuple[int, Any]:
    v = Validator(call.body)
    class_id = v.string("class_id", required=True)
    start = v.integer("start_time", required=True, minimum=0)
    end = v.integer("end_time", required=True, minimum=0)
    timezone = v.timezone("timezone", required=True)
    if isinstance(start, int) and isinstance(end, int) and end <= start:
        v.fail("end_time", "The end time must be greater than start time.")
    v.check()
    cls = call.school.find_class(class_id=class_id)
    return 200, {"schedule_id": call.school.add_schedule(cls, start, end, timezone)}


def get_schedules(call: Call) -> tuple[int, Any]:
    v = Validator(call.query)
    class_id = v.string("class_id", required=True)
    v.check()
    return 200, _listed(call, "schedules", call.school.schedules(call.school.find_class(class_id=class_id)))


def delete_schedule(call: Call) -> tuple[int, Any]:
    v = Validator(call.query)
    schedule_id = v.string("schedule_id", required=True)
    v.check()
    call.school.delete_schedule(schedule_id)
    return 200, SUCCESS


# ---------------------------------------------------------------------------------- templates
def create_template(call: Call) -> tuple[int, Any]:
    v = Validator(call.body)
    name = v.string("name", required=True)
    description = v.string("description", max_length=5000)
    status = v.choice("status", TEMPLATE_STATUSES)
    v.check()
    return 201, call.school.create_template(name, _opt(description), _opt(status) or "published")


def get_templates(call: Call) -> tuple[int, Any]:
    v = Validator(call.query)
    template_id = v.string("template_id")
    v.check()
    if template_id is MISSING:
        return 200, _listed(call, "templates", call.school.list_templates())
    return 200, [call.school.get_template(template_id).to_api()]


def update_template(call: Call) -> tuple[int, Any]:
    v = Validator(call.body)
    template_id = v.string("template_id", required=True)
    name = v.string("name", nullable=False)
    description = v.string("description", max_length=5000)
    status = v.choice("status", TEMPLATE_STATUSES)
    v.check()
    return 200, call.school.update_template(
        template_id,
        name=SCHOOL_MISSING if name is MISSING else name,
        description=SCHOOL_MISSING if description is MISSING else description,
        status=SCHOOL_MISSING if status is MISSING else status,
    )


def delete_template(call: Call) -> tuple[int, Any]:
    v = Validator(call.query)
    template_id = v.string("template_id", required=True)
    v.check()
    return 200, call.school.delete_template(template_id)


# ---------------------------------------------------------------------------------- users
def put_user(call: Call) -> tuple[int, Any]:
    v = Validator(call.body)
    identified_by = v.choice("identified_by", USER_IDS, required=True)
    user_id = v.integer("id", minimum=1)
    ext_user_id = v.string("ext_user_id")
    email = v.email("email")
    user_name = v.string("user_name", required=True)
    roles = v.raw("roles")
    if roles is not MISSING:
        if not isinstance(roles, list):
            v.fail("roles", "The roles must be an array.")
        else:
            for i, role in enumerate(roles):
                if role not in ROLE_ORDER:
                    v.fail(f"roles.{i}", f"The selected roles.{i} is invalid.")
    values = {"id": user_id, "ext_user_id": ext_user_id, "email": email}
    if isinstance(identified_by, str) and values[identified_by] in (MISSING, None) and identified_by not in v.errors:
        v.fail(identified_by, f"The {identified_by.replace('_', ' ')} field is required when identified by is {identified_by}.")
    v.check()
    fields: dict[str, Any] = {"user_name": user_name}
    for name in ("ext_user_id", "email"):
        if values[name] is not MISSING:
            fields[name] = values[name]
    if identified_by == "id":
        fields["id"] = user_id
    if roles is not MISSING:
        fields["roles"] = roles
    user, created = call.school.put_user(identified_by, fields)
    return (201 if created else 200), user


def _user_identifier(v: Validator, required: bool) -> tuple[str, Any] | None:
    ident = v.one_identifier(USER_IDS, required=required)
    if ident is not None and ident[0] == "id":
        value = v.integer("id", minimum=1, from_query=True)
        return None if value is MISSING else ("id", value)
    return ident


def get_users(call: Call) -> tuple[int, Any]:
    v = Validator(call.query)
    ident = _user_identifier(v, required=False)
    page = v.integer("page", minimum=1, from_query=True)
    limit = v.integer("limit", minimum=1, maximum=MAX_LIMIT, from_query=True)
    v.check()
    if ident is not None:
        return 200, [call.school.find_user(*ident).to_api()]
    if page is MISSING and limit is MISSING:
        return 200, _listed(call, "users", call.school.list_users())
    page, limit = 1 if page is MISSING else page, 100 if limit is MISSING else limit
    if call.school.readings.repeats("users"):
        return 200, paginate(_listed(call, "users", call.school.list_users()), page, limit, dict)
    return 200, call.school.users_page(page, limit)


def delete_user(call: Call) -> tuple[int, Any]:
    v = Validator(call.query)
    ident = _user_identifier(v, required=True)
    v.check()
    assert ident is not None
    return 200, call.school.delete_user(*ident)


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("POST", f"{API}/classes", "class:write", create_class, True),
    Endpoint("GET", f"{API}/classes", "class:read", get_classes, False),
    Endpoint("PATCH", f"{API}/classes", "class:write", update_class, True),
    Endpoint("DELETE", f"{API}/classes", "class:write", delete_class, False),
    Endpoint("POST", f"{API}/class/enrollments", "enrollment:write", create_enrollment, True),
    Endpoint("GET", f"{API}/class/enrollments", "enrollment:read", get_enrollments, False),
    Endpoint("PUT", f"{API}/class/enrollments", "enrollment:write", update_enrollment, True),
    Endpoint("DELETE", f"{API}/class/enrollments", "enrollment:write", delete_enrollment, True),
    Endpoint("GET", f"{API}/class/enrollments/launch", "enrollment:read", launch, False),
    Endpoint("GET", f"{API}/reporting/attendance", "attendance:read", attendance, False),
    Endpoint("GET", f"{API}/reporting/metrics", "metrics:read", metrics, False),
    Endpoint("POST", f"{API}/schedules", "schedule:write", create_schedule, True),
    Endpoint("GET", f"{API}/schedules", "schedule:read", get_schedules, False),
    Endpoint("DELETE", f"{API}/schedules", "schedule:write", delete_schedule, False),
    Endpoint("POST", f"{API}/templates", "template:write", create_template, True),
    Endpoint("GET", f"{API}/templates", "template:read", get_templates, False),
    Endpoint("PATCH", f"{API}/templates", "template:write", update_template, True),
    Endpoint("DELETE", f"{API}/templates", "template:write", delete_template, False),
    Endpoint("PUT", f"{API}/users", "user:write", put_user, True),
    Endpoint("GET", f"{API}/users", "user:read", get_users, False),
    Endpoint("DELETE", f"{API}/users", "user:write", delete_user, False),
)


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("Malformed JSON body.") from None
    if not isinstance(body, dict):
        raise BadRequest("Malformed JSON body.")
    return body


def _api_routes(emu: "Emulator") -> list[Route]:
    by_path: dict[str, dict[str, Endpoint]] = {}
    for endpoint in ENDPOINTS:
        by_path.setdefault(endpoint.path, {})[endpoint.method] = endpoint
    routes = []
    for path, methods in by_path.items():

        def make(methods: dict[str, Endpoint]) -> Callable[[Request], Awaitable[Response]]:
            async def dispatch(request: Request) -> Response:
                endpoint = methods[request.method if request.method != "HEAD" else "GET"]
                try:
                    key = emu.keys.authenticate(request.headers.get("authorization"), emu.clock.now)
                    # validation-first (a reading): a read is validated and resolved before its scope is checked
                    scope_first = endpoint.method != "GET" or emu.readings.scope_check_order == "scope-first"
                    if scope_first:
                        require_scope(key, endpoint.scope)
                    body = await _json_body(request) if endpoint.reads_body else {}
                    call = Call(emu.school, dict(request.query_params), body)
                    status, payload = endpoint.handler(call)
                    if not scope_first:
                        require_scope(key, endpoint.scope)
                except ApiError as error:
                    return json_response(error.status, error.body, error.headers)
                response = json_response(status, payload)
                if emu.readings.server_date:  # the API's clock is the emulator's, not the machine's
                    response.headers["date"] = formatdate(emu.clock.now, usegmt=True)
                return response

            return dispatch

        routes.append(Route(path, make(methods), methods=list(methods)))
    return routes


# ---------------------------------------------------------------------------------- admin
def _admin_routes(emu: "Emulator") -> list[Route]:
    async def clock(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = await _json_body(request)
            except ApiError as error:
                return json_response(error.status, error.body)
            given = [k for k in ("now", "advance") if k in body]
            value = body.get(given[0]) if len(given) == 1 else None
            if len(given) != 1 or isinstance(value, bool) or not isinstance(value, int):
                return json_response(400, {"error": 'Send exactly one of {"now": <unix seconds>} or {"advance": <seconds>}.'})
            if given[0] == "now":
                emu.clock.set(value)
            else:
                emu.clock.advance(value)
        return json_response(200, {"now": emu.clock.now, "iso": iso_s(emu.clock.now)})

    async def requests(request: Request) -> Response:
        if request.method == "DELETE":
            emu.request_log.reset()
        return json_response(200, {"total": emu.request_log.total, "counts": emu.request_log.counts(), "faults": emu.request_log.faults()})

    async def faults(request: Request) -> Response:
        if request.method in ("POST", "PATCH"):
            try:
                emu.faults.update_from_json(await _json_body(request))
            except (ValueError, TypeError) as error:
                return json_response(400, {"error": str(error)})
            except ApiError as error:
                return json_response(error.status, error.body)
        return json_response(200, emu.faults.to_json())

    async def readings(request: Request) -> Response:
        if request.method == "DELETE":
            emu.readings = ApiReadings()
        elif request.method in ("POST", "PATCH"):
            try:
                emu.readings = emu.readings.updated(await _json_body(request))
            except (ValueError, TypeError) as error:
                return json_response(400, {"error": str(error)})
            except ApiError as error:
                return json_response(error.status, error.body)
        return json_response(200, emu.readings.to_json())

    async def keys(request: Request) -> Response:
        try:
            body = await _json_body(request)
            secret = emu.mint_key(scopes=body.get("scopes", ALL_SCOPES), expires_at=body.get("expires_at"))
        except (ValueError, TypeError) as error:
            return json_response(400, {"error": str(error)})
        except ApiError as error:
            return json_response(error.status, error.body)
        return json_response(201, {"secret": secret, "scopes": list(body.get("scopes", ALL_SCOPES)), "expires_at": body.get("expires_at")})

    async def health(request: Request) -> Response:
        return json_response(200, {"ok": True, "seed": emu.seed, "classes": len(emu.school.class_ids()), "now": emu.clock.now})

    return [
        Route("/_emulator/clock", clock, methods=["GET", "POST"]),
        Route("/_emulator/requests", requests, methods=["GET", "DELETE"]),
        Route("/_emulator/faults", faults, methods=["GET", "POST", "PATCH"]),
        Route("/_emulator/readings", readings, methods=["GET", "POST", "PATCH", "DELETE"]),
        Route("/_emulator/keys", keys, methods=["POST"]),
        Route("/_emulator/health", health, methods=["GET"]),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    if status == 405:
        return json_response(405, {"error": "Method not allowed"}, dict(getattr(exc, "headers", None) or {}))
    if status == 404:
        return json_response(404, {"error": "Not found"})
    return json_response(status, {"error": str(getattr(exc, "detail", "Error"))})


def build_app(emu: "Emulator") -> Starlette:
    return Starlette(routes=_api_routes(emu) + _admin_routes(emu), exception_handlers={HTTPException: _http_error})
