"""Every example request of the API reference, replayed against the emulator: the documented status,
keys and (where the request determines them) values. Ids the reference invents are replaced by ids
of entities created first through the write endpoints."""

from __future__ import annotations

import math
from urllib.parse import parse_qs, urlsplit

import pytest

from class_source.emulator import ALL_SCOPES, Emulator
from emulator_helpers import (
    ATTENDANCE_KEYS,
    ATTENDANCE_STUDENT_KEYS,
    CLASS_KEYS,
    CREATED_CLASS_KEYS,
    CREATED_DEFERRED_KEYS,
    DEFERRED_CLASS_KEYS,
    DEFERRED_ENROLLMENT_KEYS,
    DEFERRED_ENROLLMENT_USER_KEYS,
    DEMO_CLASS,
    ENROLLMENT_KEYS,
    METRIC_KEYS,
    PAGINATION_KEYS,
    POD_KEYS,
    SCHEDULE_KEYS,
    SESSION_KEYS,
    SUCCESS,
    TEMPLATE_KEYS,
    USER_KEYS,
    Api,
    ok,
    validation_error,
)

FRANCISCO = {
    "email": "francisco.beck@demo.com",
    "ext_class_id": "074c697e-e20b-4da8-9361-1b707137d6e3",
    "ext_person_id": "f.beck",
    "first_name": "Francisco",
    "last_name": "Beck",
    "role": "student",
    "display_name": "Francisco Beck",
}


def _demo_class(api: Api, **changes: object) -> str:
    """Create the reference's demo class; return its class_id."""
    body = {**DEMO_CLASS, **changes}
    created = api.post("/classes", {k: v for k, v in body.items() if v is not None})
    assert created.status_code == 201, created.text
    if "invite_link" in created.json():
        return created.json()["invite_link"].split("class_uuid=")[1]
    return created.json()["class_id"]


# ------------------------------------------------------------------------------------------- classes
def test_create_a_class_example(api: Api) -> None:
    created = ok(api.post("/classes", DEMO_CLASS), 201)
    assert set(created) == CREATED_CLASS_KEYS
    class_id = created["invite_link"].split("class_uuid=")[1]
    assert created["invite_link"] == f"https://school.class.com/class.html?class_uuid={class_id}"
    assert created["meeting_id"].isdigit() and len(created["meeting_id"]) == 11
    [record] = ok(api.get("/classes", ext_class_id="demo-1"))
    assert record == {
        "class_id": class_id,
        "ext_class_id": "demo-1",
        "class_name": "Demo Class",
        "class_description": "A demonstration of Class",
        "meeting_id": created["meeting_id"],
        "host": "Anne Malley",
        "invite_link": created["invite_link"],
        "password": "a1demo",
    }
    # the instructors became teachers of the class (the Get Enrollments example lists the host)
    roster = ok(api.get("/class/enrollments", class_id=class_id))
    assert [(e["email"], e["role"]) for e in roster] == [
        ("anne.malley@demo.com", "teacher"), ("james.lloyd@demo.com", "teacher"), ("chaya.meyer@demo.com", "teacher"),
    ]
    assert roster[1]["user_name"] == "James Lloyd"


def test_create_a_class_without_session_times_is_deferred(api: Api) -> None:
    body = {k: v for k, v in DEMO_CLASS.items() if k != "session_times"}
    created = ok(api.post("/classes", body), 201)
    assert set(created) == CREATED_DEFERRED_KEYS
    assert created["ext_id"] == "demo-1"
    assert isinstance(created["class_deferred_id"], int)
    deferred = ok(api.get("/classes", deferred="true", ext_class_id="demo-1"))
    assert [d["class_deferred_id"] for d in deferred] == [created["class_deferred_id"]]
    assert deferred[0]["class_id"] == created["class_id"] and deferred[0]["email"] == "anne.malley@demo.com"
    # an empty session_times list is the same as none
    created_empty = ok(api.post("/classes", {**body, "ext_class_id": "demo-2", "session_times": []}), 201)
    assert set(created_empty) == CREATED_DEFERRED_KEYS
    assert created_empty["class_deferred_id"] == created["class_deferred_id"] + 1


def test_get_all_classes_info_examples(api: Api, emu: Emulator) -> None:
    regular = ok(api.get("/classes"))
    assert regular and all(set(c) == CLASS_KEYS for c in regular)
    assert [c["class_id"] for c in regular] == emu.school.class_ids()
    deferred = ok(api.get("/classes", deferred="true"))
    assert deferred and all(set(c) == DEFERRED_CLASS_KEYS for c in deferred)
    assert [c["class_id"] for c in deferred] == emu.school.deferred_class_ids()
    assert [c["class_deferred_id"] for c in deferred] == list(range(100, 100 + len(deferred)))


def test_get_single_class_info_examples(api: Api) -> None:
    class_id = _demo_class(api)
    deferred_id = _demo_class(api, ext_class_id="demo-d", session_times=None)
    for params in ({"class_id": class_id}, {"ext_class_id": "demo-1"}):
        [record] = ok(api.get("/classes", **params))
        assert set(record) == CLASS_KEYS and record["class_id"] == class_id
    for params in ({"deferred": "true", "class_id": deferred_id}, {"deferred": "true", "ext_class_id": "demo-d"}):
        [record] = ok(api.get("/classes", **params))
        assert set(record) == DEFERRED_CLASS_KEYS and record["class_id"] == deferred_id
    # the reference's deferred example: deferred=true&class_id / &ext_class_id=demo-1 of a regular class is 404
    assert api.get("/classes", deferred="true", ext_class_id="demo-1").status_code == 404


def test_update_a_class_example(api: Api, emu: Emulator) -> None:
    class_id = _demo_class(api)
    body = {"ext_class_id": "demo-1", "class_name": "Demo class extended", "class_description": "Updated description text"}
    updated = ok(api.patch("/classes", body))
    assert set(updated) == CLASS_KEYS
    assert (updated["class_id"], updated["class_name"], updated["class_description"]) == (class_id, "Demo class extended", "Updated description text")
    assert ok(api.get("/classes", class_id=class_id)) == [updated]


def test_update_a_deferred_class_answers_a_list(api: Api, emu: Emulator) -> None:
    _demo_class(api, session_times=None)
    emu.clock.advance(60)
    updated = ok(api.patch("/classes", {"ext_class_id": "demo-1", "class_name": "Demo class extended", "class_description": "Updated description text"}))
    assert isinstance(updated, list) and len(updated) == 1 and set(updated[0]) == DEFERRED_CLASS_KEYS
    assert updated[0]["class_name"] == "Demo class extended"
    assert updated[0]["updated_at"] > updated[0]["created_at"]
    # class_deferred_id (documented as a string) identifies it too
    again = ok(api.patch("/classes", {"class_deferred_id": str(updated[0]["class_deferred_id"]), "class_name": "Again"}))
    assert again[0]["class_name"] == "Again" and again[0]["class_description"] == "Updated description text"


@pytest.mark.parametrize("identifier", ["class_id", "ext_class_id", "class_deferred_id"])
def test_remove_a_class_examples(api: Api, emu: Emulator, identifier: str) -> None:
    if identifier == "class_deferred_id":
        class_id = emu.school.deferred_class_ids()[0]
        params = {"class_deferred_id": "100"}
    else:
        class_id = _demo_class(api)
        params = {"class_id": class_id} if identifier == "class_id" else {"ext_class_id": "demo-1"}
    assert ok(api.delete("/classes", **params)) == SUCCESS
    assert class_id not in emu.school.class_ids() + emu.school.deferred_class_ids()
    assert api.delete("/classes", **params).status_code == 404
    assert api.get("/class/enrollments", class_id=class_id).status_code == 404


# ------------------------------------------------------------------------------------------- enrollments
def test_create_an_enrollment_example(api: Api) -> None:
    class_id = _demo_class(api, ext_class_id=FRANCISCO["ext_class_id"])
    created = ok(api.post("/class/enrollments", FRANCISCO))
    assert set(created) == ENROLLMENT_KEYS
    [meeting] = [c["meeting_id"] for c in ok(api.get("/classes", class_id=class_id))]
    assert {k: created[k] for k in ENROLLMENT_KEYS - {"student_id"}} == {
        "meeting_id": meeting, "first_name": "Francisco", "last_name": "Beck", "user_name": "Francisco Beck",
        "role": "student", "email": "francisco.beck@demo.com", "ext_person_id": "f.beck",
    }
    assert created in ok(api.get("/class/enrollments", class_id=class_id))
    # the same person in a second class keeps their student_id (as in the reference's examples),
    # and so does the instructor
    second_id = _demo_class(api, ext_class_id="second")
    again = ok(api.post("/class/enrollments", {**FRANCISCO, "ext_class_id": "second"}))
    assert again["student_id"] == created["student_id"]
    teachers = [[e["student_id"] for e in ok(api.get("/class/enrollments", class_id=c)) if e["role"] == "teacher"] for c in (class_id, second_id)]
    assert teachers[0] == teachers[1] and len(set(teachers[0])) == 3
    # enrolling the same person twice in a class is refused
    duplicate = api.post("/class/enrollments", FRANCISCO)
    assert duplicate.status_code == 400 and duplicate.json() == {
        "error": f"Enrollment exists for the person provided in class {class_id}."}


def test_create_an_enrollment_in_a_deferred_class_answers_the_deferred_shape(api: Api) -> None:
    deferred = ok(api.post("/classes", {**{k: v for k, v in DEMO_CLASS.items() if k != "session_times"},
                                        "ext_class_id": FRANCISCO["ext_class_id"]}), 201)
    created = ok(api.post("/class/enrollments", FRANCISCO))
    assert set(created) == DEFERRED_ENROLLMENT_KEYS
    assert created["class_deferred_id"] == str(deferred["class_deferred_id"])
    assert set(created["enroll_params"]) == {"pod", "class"} and set(created["enroll_params"]["pod"]) == POD_KEYS
    assert created["enroll_params"]["class"] == {"ext_id": FRANCISCO["ext_class_id"]}
    assert set(created["user"]) == DEFERRED_ENROLLMENT_USER_KEYS
    assert created["email_user"] == "francisco.beck@demo.com" and created["role"] == "student"
    # reading the roster of a deferred class answers the regular shape with meeting_id null
    roster = ok(api.get("/class/enrollments", class_id=deferred["class_id"]))
    assert all(set(e) == ENROLLMENT_KEYS and e["meeting_id"] is None for e in roster)
    assert "francisco.beck@demo.com" in [e["email"] for e in roster]


def test_get_enrollments_examples(api: Api) -> None:
    class_id = _demo_class(api, ext_class_id=FRANCISCO["ext_class_id"], additional_instructors=None)
    ok(api.post("/class/enrollments", FRANCISCO))
    for params in ({"class_id": class_id}, {"ext_class_id": FRANCISCO["ext_class_id"]}):
        roster = ok(api.get("/class/enrollments", **params))
        assert all(set(e) == ENROLLMENT_KEYS for e in roster)
        assert [(e["user_name"], e["role"]) for e in roster] == [("Anne Malley", "teacher"), ("Francisco Beck", "student")]


def test_update_an_enrollment_example(api: Api) -> None:
    class_id = _demo_class(api, ext_class_id=FRANCISCO["ext_class_id"])
    kayla = ok(api.post("/class/enrollments", {"ext_class_id": FRANCISCO["ext_class_id"], "ext_person_id": "k.becker",
                                              "first_name": "Kay", "last_name": "B", "role": "assistant"}))
    body = {
        "email": "kayla.becker@demo.com", "ext_class_id": FRANCISCO["ext_class_id"], "ext_person_id": "k.becker",
        "first_name": "Kayla", "last_name": "Becker", "role": "student", "display_name": "Kayla Becker",
    }
    updated = ok(api.put("/class/enrollments", body))
    assert set(updated) == ENROLLMENT_KEYS
    assert updated == {**updated, "student_id": kayla["student_id"], "ext_person_id": "k.becker", "first_name": "Kayla",
                       "last_name": "Becker", "user_name": "Kayla Becker", "role": "student", "email": "kayla.becker@demo.com"}
    assert updated in ok(api.get("/class/enrollments", class_id=class_id))


def test_remove_an_enrollment_example(api: Api) -> None:
    class_id = _demo_class(api, ext_class_id=FRANCISCO["ext_class_id"])
    ok(api.post("/class/enrollments", {"ext_class_id": FRANCISCO["ext_class_id"], "email": "jordan.day@demo.com",
                                       "first_name": "Jordan", "last_name": "Day"}))
    body = {"email": "jordan.day@demo.com", "ext_class_id": FRANCISCO["ext_class_id"]}
    assert ok(api.delete("/class/enrollments", body)) == SUCCESS
    assert "jordan.day@demo.com" not in [e["email"] for e in ok(api.get("/class/enrollments", class_id=class_id))]
    gone = api.delete("/class/enrollments", body)
    assert gone.status_code == 404 and gone.json() == {"error": "student jordan.day@demo.com not found"}


def test_get_a_launch_link_examples(api: Api) -> None:
    demo_id = _demo_class(api)
    other_id = _demo_class(api, ext_class_id=FRANCISCO["ext_class_id"])
    for ext in ("demo-1", FRANCISCO["ext_class_id"]):
        ok(api.post("/class/enrollments", {**FRANCISCO, "ext_class_id": ext}))
    by_ext = ok(api.get("/class/enrollments/launch", ext_class_id="demo-1", ext_person_id="f.beck"))
    by_id = ok(api.get("/class/enrollments/launch", class_id=other_id, email="francisco.beck@demo.com"))
    for body, class_id in ((by_ext, demo_id), (by_id, other_id)):
        assert set(body) == {"launch_url"}
        url = urlsplit(body["launch_url"])
        assert (url.scheme, url.netloc, url.path) == ("https", "school.class.com", "/class.html")
        query = parse_qs(url.query)
        assert query["class_uuid"] == [class_id] and query["username"] == ["Francisco Beck"]
        assert set(query) == {"class_uuid", "student_id", "username", "code"}
    assert by_ext["launch_url"] != by_id["launch_url"]


# ------------------------------------------------------------------------------------------- reporting
def test_get_attendance_example_by_class_id(api: Api, emu: Emulator) -> None:
    class_id = emu.school.class_ids()[0]
    body = ok(api.get("/reporting/attendance", class_id=class_id))
    assert set(body) == ATTENDANCE_KEYS and body["class_id"] == class_id
    assert body["sessions"] and all(set(s) == SESSION_KEYS for s in body["sessions"])
    assert all(set(st) == ATTENDANCE_STUDENT_KEYS for s in body["sessions"] for st in s["students"])


def test_get_attendance_example_by_ext_class_id(api: Api, emu: Emulator) -> None:
    # a class "111" created with a session 1-2 h ahead, a student enrolled, then the clock moves past it
    start = emu.clock.now + 3600
    class_id = _demo_class(api, ext_class_id="111", session_times=[{"start_time": start, "end_time": start + 3600}])
    ok(api.post("/class/enrollments", {**FRANCISCO, "ext_class_id": "111"}))
    assert ok(api.get("/reporting/attendance", ext_class_id="111")) == {"class_id": class_id, "sessions": []}
    emu.clock.advance(3 * 3600)
    body = ok(api.get("/reporting/attendance", ext_class_id="111"))
    [session] = body["sessions"]
    assert (session["start_time"], session["end_time"]) == (_iso(start), _iso(start + 3600))
    assert len(session["students"]) == 4  # three teachers and Francisco
    assert all(set(st) == ATTENDANCE_STUDENT_KEYS for st in session["students"])


def _iso(ts: int) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def test_get_metrics_examples(api: Api, emu: Emulator) -> None:
    class_id = next(c for c in emu.school.class_ids() if emu.school.classes[c].ext_class_id)
    ext = emu.school.classes[class_id].ext_class_id
    everything = list(emu.school.iter_metrics(class_id))
    assert len(everything) > 100
    middle = _seconds(everything[len(everything) // 2]["event_start"])
    page = ok(api.get("/reporting/metrics", class_id=class_id, starting_after=middle))
    assert page and all(set(e) == METRIC_KEYS for e in page)
    assert all(_seconds(e["event_start"]) > middle for e in page)
    assert page == [e for e in everything if _seconds(e["event_start"]) > middle][:100]
    assert ok(api.get("/reporting/metrics", ext_class_id=ext)) == everything[:100]


def _seconds(iso: str) -> int:
    from class_source.emulator.timefmt import parse_iso_ms

    return parse_iso_ms(iso) // 1000


# ------------------------------------------------------------------------------------------- schedules
def test_schedule_examples(api: Api, emu: Emulator) -> None:
    class_id = emu.school.class_ids()[1]
    before = ok(api.get("/schedules", class_id=class_id))
    assert before and all(set(s) == SCHEDULE_KEYS and s["class_id"] == class_id for s in before)
    created = ok(api.post("/schedules", {"class_id": class_id, "start_time": 1654787671, "end_time": 1654874071,
                                         "timezone": "America/Los_Angeles"}))
    assert set(created) == {"schedule_id"}
    after = ok(api.get("/schedules", class_id=class_id))
    assert after[0] == {"schedule_id": created["schedule_id"], "class_id": class_id, "start_time": 1654787671, "end_time": 1654874071}
    assert after[1:] == before
    assert ok(api.delete("/schedules", schedule_id=created["schedule_id"])) == SUCCESS
    assert ok(api.get("/schedules", class_id=class_id)) == before
    assert api.delete("/schedules", schedule_id=created["schedule_id"]).status_code == 404


def test_schedules_apply_to_deferred_classes_which_stay_deferred(api: Api, emu: Emulator) -> None:
    class_id = emu.school.deferred_class_ids()[0]
    ok(api.post("/schedules", {"class_id": class_id, "start_time": 1654787671, "end_time": 1654874071, "timezone": "UTC"}))
    assert class_id in [c["class_id"] for c in ok(api.get("/classes", deferred="true"))]
    assert ok(api.get("/reporting/attendance", class_id=class_id)) == {"class_id": class_id, "sessions": []}
    assert ok(api.get("/reporting/metrics", class_id=class_id)) == []


# ------------------------------------------------------------------------------------------- templates
def test_template_examples(api: Api) -> None:
    created = ok(api.post("/templates", {"name": "Template Name", "description": "A Template Description", "status": "draft"}), 201)
    assert set(created) == TEMPLATE_KEYS
    template_id = created["template_id"]
    assert created == {"template_id": template_id, "name": "Template Name", "description": "A Template Description", "status": "draft"}
    everything = ok(api.get("/templates"))
    assert all(set(t) == TEMPLATE_KEYS for t in everything) and everything[-1] == created
    assert ok(api.get("/templates", template_id=template_id)) == [created]
    updated = ok(api.patch("/templates", {"template_id": template_id, "name": "New template Name",
                                          "description": "A New Template Description", "status": "draft"}))
    assert updated == {"template_id": template_id, "name": "New template Name", "description": "A New Template Description", "status": "draft"}
    assert ok(api.delete("/templates", template_id=template_id)) == updated
    assert api.get("/templates", template_id=template_id).status_code == 404
    # status defaults to published
    assert ok(api.post("/templates", {"name": "Plain"}), 201)["status"] == "published"


# ------------------------------------------------------------------------------------------- users
BOB_BY_EMAIL = {"identified_by": "email", "ext_user_id": "888", "email": "mail@mail.com", "user_name": "Bob Smith",
                "roles": ["admin", "instructor"]}
BOB_BY_ID = {"identified_by": "id", "id": 2, "ext_user_id": None, "email": "mail@mail.com", "user_name": "Bob Smith",
             "roles": ["admin", "instructor"]}


def _make_bob(api: Api) -> dict:
    """The reference's two PUT examples, in the order that makes both apply to user 2."""
    by_id = ok(api.put("/users", BOB_BY_ID), 200)
    assert by_id == {**by_id, "id": 2, "ext_user_id": None, "email": "mail@mail.com", "user_name": "Bob Smith",
                     "roles": ["instructor", "admin"]}
    return ok(api.put("/users", BOB_BY_EMAIL), 200)


def test_create_or_update_a_user_examples(api: Api) -> None:
    bob = _make_bob(api)
    assert set(bob) == USER_KEYS
    assert {k: bob[k] for k in USER_KEYS - {"is_zoom_configured"}} == {
        "id": 2, "ext_user_id": "888", "email": "mail@mail.com", "user_name": "Bob Smith", "roles": ["instructor", "admin"]}
    created = ok(api.put("/users", {**BOB_BY_EMAIL, "email": "new@mail.com", "ext_user_id": "999"}), 201)
    assert set(created) == USER_KEYS
    assert created["is_zoom_configured"] is False and created["roles"] == ["instructor", "admin"]
    assert created["id"] == max(u["id"] for u in ok(api.get("/users")))


def test_get_all_users_examples(api: Api, emu: Emulator) -> None:
    everything = ok(api.get("/users"))
    assert isinstance(everything, list) and all(set(u) == USER_KEYS for u in everything)
    assert [u["id"] for u in everything] == sorted(emu.school.users)
    page = ok(api.get("/users", page=1, limit=20))
    assert set(page) == {"data", "pagination"} and set(page["pagination"]) == PAGINATION_KEYS
    total = len(everything)
    assert page["pagination"] == {"total_records": total, "current_page": 1, "total_pages": math.ceil(total / 20),
                                  "next_page": 2 if total > 20 else None, "prev_page": None}
    assert page["data"] == everything[:20]


def test_get_a_user_examples(api: Api) -> None:
    _make_bob(api)
    jane = ok(api.put("/users", {"identified_by": "email", "email": "jane@mail.com", "ext_user_id": "555",
                                 "user_name": "Jane Smith", "roles": ["instructor"]}), 201)
    john = ok(api.put("/users", {"identified_by": "email", "email": "john@mail.com", "user_name": "John Smith"}), 201)
    for params, expected in (({"id": 2}, 2), ({"ext_user_id": "555"}, jane["id"]), ({"email": "john@mail.com"}, john["id"])):
        [user] = ok(api.get("/users", **params))
        assert set(user) == USER_KEYS and user["id"] == expected


@pytest.mark.parametrize("params", [{"id": 2}, {"ext_user_id": "888"}, {"email": "mail@mail.com"}])
def test_remove_a_user_examples(api: Api, params: dict) -> None:
    bob = _make_bob(api)
    assert ok(api.delete("/users", **params)) == bob
    assert api.get("/users", id=2).status_code == 404
    assert api.delete("/users", **params).status_code == 404


# ------------------------------------------------------------------------------------------- errors
def test_error_example_class_exists_for_external_class_id(api: Api) -> None:
    _demo_class(api, ext_class_id="074c697e-e20b-4da8-9361-1b707137d6e3")
    again = api.post("/classes", {**DEMO_CLASS, "ext_class_id": "074c697e-e20b-4da8-9361-1b707137d6e3"})
    assert again.status_code == 400
    assert again.json() == {"error": "Class exists for external class ID provided: 074c697e-e20b-4da8-9361-1b707137d6e3."}


def test_error_example_email_format_on_user_and_enrollment(api: Api) -> None:
    data = validation_error(api.put("/users", {"identified_by": "email", "email": "not-an-email", "user_name": "X"}))
    assert data == {"email": ["The email format is invalid."]}
    _demo_class(api)
    data = validation_error(api.post("/class/enrollments", {"ext_class_id": "demo-1", "email": "nope", "first_name": "A", "last_name": "B"}))
    assert data == {"email": ["The email format is invalid."]}


def test_error_example_scope_required(emu: Emulator) -> None:
    reader = Api(emu, scopes=[s for s in ALL_SCOPES if s != "class:write"])
    try:
        response = reader.post("/classes", DEMO_CLASS)
        assert response.status_code == 403 and response.json() == {"error": "Api key scope class:write required"}
    finally:
        reader.close()


def test_error_example_class_not_found(api: Api) -> None:
    response = api.get("/classes", class_id="01cceb4b-afce-4703-a842-6b41fad111b5")
    assert response.status_code == 404
    assert response.json() == {"error": "class 01cceb4b-afce-4703-a842-6b41fad111b5 not found"}
