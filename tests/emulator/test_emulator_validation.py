"""Strictness: identifier groups, unknown entities, paging parameters, bodies, auth and scopes."""

from __future__ import annotations

import pytest

from class_source.emulator import ALL_SCOPES, ENDPOINTS, Emulator
from emulator_helpers import DEMO_CLASS, Api, not_found, ok, validation_error


@pytest.fixture
def ids(emu: Emulator, api: Api) -> dict[str, str]:
    """A regular class with an ext id, a person enrolled in it (email + ext id), a deferred class."""
    school = emu.school
    class_id = next(c for c in school.class_ids() if school.classes[c].ext_class_id)
    person = next(e for e in ok(api.get("/class/enrollments", class_id=class_id)) if e["email"] and e["ext_person_id"])
    return {"class_id": class_id, "ext_class_id": school.classes[class_id].ext_class_id,
            "student_id": person["student_id"], "email": person["email"], "ext_person_id": person["ext_person_id"],
            "deferred_class_id": school.deferred_class_ids()[0]}


# (method, path, where the identifiers go, identifier group, other required fields)
CLASS_GROUP_CASES = [
    ("PATCH", "/classes", "body", ("class_id", "ext_class_id", "class_deferred_id"), {"class_name": "x"}),
    ("DELETE", "/classes", "query", ("class_id", "ext_class_id", "class_deferred_id"), {}),
    ("GET", "/class/enrollments", "query", ("class_id", "ext_class_id"), {}),
    ("POST", "/class/enrollments", "body", ("class_id", "ext_class_id"), {"email": "new.person@x.org", "first_name": "A", "last_name": "B"}),
    ("PUT", "/class/enrollments", "body", ("class_id", "ext_class_id"), {"student_id": "$student_id", "first_name": "A", "last_name": "B"}),
    ("DELETE", "/class/enrollments", "body", ("class_id", "ext_class_id"), {"student_id": "$student_id"}),
    ("GET", "/class/enrollments/launch", "query", ("class_id", "ext_class_id"), {"email": "$email"}),
    ("GET", "/reporting/attendance", "query", ("class_id", "ext_class_id"), {}),
    ("GET", "/reporting/metrics", "query", ("class_id", "ext_class_id"), {}),
]


def _call(api: Api, method: str, path: str, where: str, fields: dict) -> object:
    if where == "query":
        return api.request(method, path, params=fields)
    return api.request(method, path, json=fields)


def _fill(fields: dict, ids: dict[str, str]) -> dict:
    return {k: ids[v[1:]] if isinstance(v, str) and v.startswith("$") else v for k, v in fields.items()}


@pytest.mark.parametrize(("method", "path", "where", "group", "extra"), CLASS_GROUP_CASES)
def test_class_identifier_missing_or_several_is_400(api: Api, ids: dict, method, path, where, group, extra) -> None:
    extra = _fill(extra, ids)
    data = validation_error(_call(api, method, path, where, extra))
    assert data == {group[0]: [f"One of {', '.join(group[:-1])} or {group[-1]} is required."]}
    several = {**extra, "class_id": ids["class_id"], "ext_class_id": ids["ext_class_id"]}
    data = validation_error(_call(api, method, path, where, several))
    message = f"Only one of {', '.join(group[:-1])} or {group[-1]} may be provided."
    assert data == {"class_id": [message], "ext_class_id": [message]}


@pytest.mark.parametrize(("method", "path", "where", "group", "extra"), CLASS_GROUP_CASES)
def test_unknown_class_is_404_in_the_documented_shape(api: Api, ids: dict, method, path, where, group, extra) -> None:
    extra = _fill(extra, ids)
    not_found(_call(api, method, path, where, {**extra, "class_id": "no-such-class"}), "class", "no-such-class")
    not_found(_call(api, method, path, where, {**extra, "ext_class_id": "no-such-ext"}), "class", "no-such-ext")


def test_get_classes_identifier_is_optional_but_single(api: Api, ids: dict) -> None:
    assert len(ok(api.get("/classes"))) == 19
    data = validation_error(api.get("/classes", class_id=ids["class_id"], ext_class_id=ids["ext_class_id"]))
    assert set(data) == {"class_id", "ext_class_id"}
    not_found(api.get("/classes", ext_class_id="nope"), "class", "nope")
    not_found(api.get("/classes", deferred="true", class_id=ids["class_id"]), "class", ids["class_id"])
    not_found(api.get("/classes", class_id=ids["deferred_class_id"]), "class", ids["deferred_class_id"])
    assert validation_error(api.get("/classes", deferred="yes")) == {"deferred": ["The deferred field must be true or false."]}
    assert ok(api.get("/classes", deferred="FALSE")) == ok(api.get("/classes"))
    not_found(api.delete("/classes", class_deferred_id="999"), "class", "999")


@pytest.mark.parametrize(("method", "path", "group"), [
    ("DELETE", "/class/enrollments", ("student_id", "ext_person_id", "email")),
    ("GET", "/class/enrollments/launch", ("email", "ext_person_id")),
])
def test_person_identifier_missing_or_several_is_400(api: Api, ids: dict, method, path, group) -> None:
    where = "body" if method == "DELETE" else "query"
    base = {"class_id": ids["class_id"]}
    data = validation_error(_call(api, method, path, where, base))
    assert data == {group[0]: [f"One of {', '.join(group[:-1])} or {group[-1]} is required."]}
    data = validation_error(_call(api, method, path, where, {**base, **{f: ids[f] for f in group}}))
    assert set(data) == set(group)
    # a person of the school who is not in this class
    outsider = ids["email"]
    other_class = next(c for c in api.emu.school.class_ids() if c != ids["class_id"]
                       and outsider not in [e["email"] for e in api.emu.school.enrollments(api.emu.school.classes[c])])
    not_found(_call(api, method, path, where, {"class_id": other_class, "email": outsider}), "student", outsider)


def test_put_enrollment_needs_some_person_identifier(api: Api, ids: dict) -> None:
    data = validation_error(api.put("/class/enrollments", {"class_id": ids["class_id"], "first_name": "A", "last_name": "B"}))
    assert data == {"student_id": ["One of student_id, ext_person_id or email is required."]}
    not_found(api.put("/class/enrollments", {"class_id": ids["class_id"], "student_id": "nobody", "first_name": "A", "last_name": "B"}),
              "student", "nobody")
    # student_id identifies; the e-mail in the same body is the new value
    updated = ok(api.put("/class/enrollments", {"class_id": ids["class_id"], "student_id": ids["student_id"],
                                                "email": "Changed@Example.org", "first_name": "A", "last_name": "B"}))
    assert (updated["student_id"], updated["email"], updated["role"]) == (ids["student_id"], "Changed@Example.org", "student")


def test_post_enrollment_needs_email_or_ext_person_id_and_names(api: Api, ids: dict) -> None:
    data = validation_error(api.post("/class/enrollments", {"class_id": ids["class_id"]}))
    assert data == {"email": ["The email field is required when ext person id is not present."],
                    "first_name": ["The first name field is required."], "last_name": ["The last name field is required."]}
    data = validation_error(api.post("/class/enrollments", {"class_id": ids["class_id"], "ext_person_id": "z", "first_name": "A",
                                                            "last_name": "B", "role": "principal"}))
    assert data == {"role": ["The selected role is invalid."]}
    # an ext_person_id or e-mail that belongs to somebody else cannot be given to another person
    people = api.emu.school.people
    other_ext = next(e for e in people.ext_person_id if e is not None and e != ids["ext_person_id"])
    other_email = next(e for e in people.email if e is not None and e != ids["email"])
    data = validation_error(api.put("/class/enrollments", {"class_id": ids["class_id"], "student_id": ids["student_id"],
                                                           "ext_person_id": other_ext, "first_name": "A", "last_name": "B"}))
    assert data == {"ext_person_id": ["The ext person id has already been taken."]}
    data = validation_error(api.post("/class/enrollments", {"class_id": ids["class_id"], "ext_person_id": ids["ext_person_id"],
                                                            "email": other_email.upper(), "first_name": "A", "last_name": "B"}))
    assert data == {"email": ["The email has already been taken."]}
    with_ext = next(i for i, (m, e) in enumerate(zip(people.email, people.ext_person_id)) if m and e and m != ids["email"])
    data = validation_error(api.post("/class/enrollments", {"class_id": ids["class_id"], "ext_person_id": "brand-new",
                                                            "email": people.email[with_ext], "first_name": "A", "last_name": "B"}))
    assert data == {"ext_person_id": ["The ext person id does not match the person with this email."]}


def test_create_class_validation_reports_every_field(api: Api) -> None:
    data = validation_error(api.post("/classes", {"email": "bad", "session_times": [{"start_time": 10, "end_time": 5}, {"start_time": "x"}],
                                                  "timezone": "Mars/Olympus", "settings": {"jbh_time": 7},
                                                  "additional_instructors": [{"email": "nope"}]}))
    assert data == {
        "email": ["The email format is invalid."],
        "first_name": ["The first name field is required."],
        "last_name": ["The last name field is required."],
        "class_name": ["The class name field is required."],
        "timezone": ["The timezone must be a valid zone."],
        "session_times.0.end_time": ["The session_times.0.end_time must be greater than start time."],
        "session_times.1.start_time": ["The session_times.1.start_time must be an integer."],
        "session_times.1.end_time": ["The session_times.1.end_time field is required."],
        "settings.jbh_time": ["The selected jbh time is invalid."],
        "additional_instructors.0.email": ["The additional_instructors.0.email format is invalid."],
    }
    not_found(api.post("/classes", {**DEMO_CLASS, "template_id": 12345}), "template", "12345")


def test_bodies_must_be_json_objects(api: Api) -> None:
    for content in (b"{not json", b"[1, 2]", b'"text"'):
        response = api.request("POST", "/templates", content=content, headers={"content-type": "application/json"})
        assert response.status_code == 400 and response.json() == {"error": "Malformed JSON body."}
    assert validation_error(api.request("POST", "/templates", content=b"")) == {"name": ["The name field is required."]}


def test_schedules_validation(api: Api, ids: dict) -> None:
    data = validation_error(api.post("/schedules", {"class_id": ids["class_id"], "start_time": 100, "end_time": 100, "timezone": "UTC"}))
    assert data == {"end_time": ["The end time must be greater than start time."]}
    data = validation_error(api.post("/schedules", {}))
    assert set(data) == {"class_id", "start_time", "end_time", "timezone"}
    not_found(api.post("/schedules", {"class_id": "ghost", "start_time": 1, "end_time": 2, "timezone": "UTC"}), "class", "ghost")
    assert validation_error(api.get("/schedules")) == {"class_id": ["The class id field is required."]}
    not_found(api.get("/schedules", class_id="ghost"), "class", "ghost")
    assert validation_error(api.delete("/schedules")) == {"schedule_id": ["The schedule id field is required."]}
    not_found(api.delete("/schedules", schedule_id="ghost"), "schedule", "ghost")


def test_templates_validation_and_404(api: Api) -> None:
    assert validation_error(api.post("/templates", {"name": "x", "status": "archived"})) == {"status": ["The selected status is invalid."]}
    assert validation_error(api.patch("/templates", {"name": "x"})) == {"template_id": ["The template id field is required."]}
    assert validation_error(api.delete("/templates")) == {"template_id": ["The template id field is required."]}
    for response in (api.get("/templates", template_id="ghost"), api.patch("/templates", {"template_id": "ghost"}),
                     api.delete("/templates", template_id="ghost")):
        not_found(response, "template", "ghost")


# ------------------------------------------------------------------------------------------- users
def test_user_identifiers(api: Api) -> None:
    data = validation_error(api.delete("/users"))
    assert data == {"id": ["One of id, ext_user_id or email is required."]}
    data = validation_error(api.delete("/users", id=1, email="a@b.org"))
    assert set(data) == {"id", "email"}
    data = validation_error(api.get("/users", id=1, ext_user_id="x"))
    assert set(data) == {"id", "ext_user_id"}
    assert validation_error(api.get("/users", id="abc")) == {"id": ["The id must be an integer."]}
    not_found(api.get("/users", id=999999), "user", 999999)
    not_found(api.get("/users", email="ghost@x.org"), "user", "ghost@x.org")
    not_found(api.delete("/users", ext_user_id="ghost"), "user", "ghost")


def test_put_user_validation(api: Api) -> None:
    data = validation_error(api.put("/users", {}))
    assert data == {"identified_by": ["The identified by field is required."], "user_name": ["The user name field is required."]}
    data = validation_error(api.put("/users", {"identified_by": "email", "user_name": "X"}))
    assert data == {"email": ["The email field is required when identified by is email."]}
    data = validation_error(api.put("/users", {"identified_by": "name", "user_name": "X", "roles": ["admin", "janitor"]}))
    assert data == {"identified_by": ["The selected identified by is invalid."], "roles.1": ["The selected roles.1 is invalid."]}
    not_found(api.put("/users", {"identified_by": "id", "id": 424242, "user_name": "X"}), "user", 424242)
    users = ok(api.get("/users"))
    user_one = users[0]
    data = validation_error(api.put("/users", {"identified_by": "id", "id": 2, "user_name": "X", "email": user_one["email"]}))
    assert data == {"email": ["The email has already been taken."]}
    with_ext = next(u for u in users if u["ext_user_id"] is not None)
    data = validation_error(api.put("/users", {"identified_by": "email", "email": "someone.new@x.org", "user_name": "X",
                                               "ext_user_id": with_ext["ext_user_id"]}))
    assert data == {"ext_user_id": ["The ext user id has already been taken."]}


@pytest.mark.parametrize(("params", "field"), [
    ({"page": 0}, "page"), ({"page": -1}, "page"), ({"page": "abc"}, "page"), ({"page": "1.5"}, "page"),
    ({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"limit": "x"}, "limit"), ({"page": 1, "limit": -5}, "limit"),
])
def test_bad_page_or_limit_is_400(api: Api, params: dict, field: str) -> None:
    data = validation_error(api.get("/users", **params))
    assert set(data) == {field}


def test_limits_at_the_bounds_are_accepted(api: Api, emu: Emulator) -> None:
    assert ok(api.get("/users", limit=1000))["pagination"]["total_pages"] == 1
    assert len(ok(api.get("/users", page=1, limit=1))["data"]) == 1
    assert ok(api.get("/users", page=3))["pagination"]["current_page"] == 3  # limit defaults to 100
    class_id = emu.school.class_ids()[0]
    assert len(ok(api.get("/reporting/metrics", class_id=class_id))) == 100  # default limit
    assert len(ok(api.get("/reporting/metrics", class_id=class_id, limit=1000))) == 1000


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"limit": "ten"}, "limit"),
    ({"starting_after": "yesterday"}, "starting_after"), ({"starting_after": -1}, "starting_after"),
    ({"ending_before": "1.5"}, "ending_before"),
])
def test_bad_metrics_parameters_are_400(api: Api, emu: Emulator, params: dict, field: str) -> None:
    data = validation_error(api.get("/reporting/metrics", class_id=emu.school.class_ids()[0], **params))
    assert set(data) == {field}


def test_unknown_route_and_method(api: Api) -> None:
    response = api.get("/lessons")
    assert response.status_code == 404 and response.json() == {"error": "Not found"}
    response = api.request("PATCH", "/users", json={})
    assert response.status_code == 405 and response.json() == {"error": "Method not allowed"}


# ------------------------------------------------------------------------------------------- auth
@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer  {secret}", "Token {secret}",
                                    "Bearer {secret} extra", "Bearer unknown-secret", "{secret}"])
def test_401_for_missing_malformed_or_unknown_keys(emu: Emulator, header: str | None) -> None:
    api = Api(emu)
    try:
        headers = {} if header is None else {"Authorization": header.format(secret=api.secret)}
        api.client.headers.pop("Authorization")
        response = api.client.get("/api/v1/classes", headers=headers)
        assert response.status_code == 401, header
        assert response.json() == {"error": "Unauthenticated"}
        assert response.headers["www-authenticate"] == "Bearer"
        assert api.secret not in response.text
    finally:
        api.close()


def test_scheme_is_case_insensitive(emu: Emulator) -> None:
    api = Api(emu)
    try:
        assert api.client.get("/api/v1/templates", headers={"Authorization": f"bearer {api.secret}"}).status_code == 200
    finally:
        api.close()


def test_keys_expire_on_the_emulator_clock(emu: Emulator) -> None:
    secret = emu.mint_key(expires_at=emu.clock.now + 10)
    api = Api(emu, secret=secret)
    try:
        assert api.get("/templates").status_code == 200
        emu.clock.advance(9)
        assert api.get("/templates").status_code == 200
        emu.clock.advance(1)
        assert api.get("/templates").status_code == 401
        emu.clock.set(emu.clock.now - 100)  # the clock is the only judge
        assert api.get("/templates").status_code == 200
    finally:
        api.close()


def test_secrets_are_stored_hashed(emu: Emulator) -> None:
    secret = emu.mint_key()
    stored = repr(vars(emu.keys)) + repr(list(emu.keys._by_hash.values()))
    assert secret not in stored


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_each_endpoint_requires_its_documented_scope(emu: Emulator, endpoint) -> None:
    api = Api(emu, scopes=[s for s in ALL_SCOPES if s != endpoint.scope])
    try:
        response = api.request(endpoint.method, endpoint.path, json={} if endpoint.reads_body else None)
        assert response.status_code == 403
        assert response.json() == {"error": f"Api key scope {endpoint.scope} required"}
    finally:
        api.close()


def test_the_scope_table_of_the_reference() -> None:
    expected = {
        ("POST", "/classes"): "class:write", ("GET", "/classes"): "class:read", ("PATCH", "/classes"): "class:write",
        ("DELETE", "/classes"): "class:write", ("POST", "/class/enrollments"): "enrollment:write",
        ("GET", "/class/enrollments"): "enrollment:read", ("PUT", "/class/enrollments"): "enrollment:write",
        ("DELETE", "/class/enrollments"): "enrollment:write", ("GET", "/class/enrollments/launch"): "enrollment:read",
        ("GET", "/reporting/attendance"): "attendance:read", ("GET", "/reporting/metrics"): "metrics:read",
        ("POST", "/schedules"): "schedule:write", ("GET", "/schedules"): "schedule:read", ("DELETE", "/schedules"): "schedule:write",
        ("POST", "/templates"): "template:write", ("GET", "/templates"): "template:read", ("PATCH", "/templates"): "template:write",
        ("DELETE", "/templates"): "template:write", ("PUT", "/users"): "user:write", ("GET", "/users"): "user:read",
        ("DELETE", "/users"): "user:write",
    }
    assert {(e.method, e.path.removeprefix("/api/v1")): e.scope for e in ENDPOINTS} == expected
    assert sorted(ALL_SCOPES) == sorted(set(expected.values()))
