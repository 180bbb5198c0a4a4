"""Shared helpers for the emulator tests: a thin synchronous API client and the documented shapes.

The key sets below are copied by hand from the reference's example responses."""

from __future__ import annotations

from typing import Any, Iterable

import httpx

from class_source.emulator import ALL_SCOPES, Emulator

CLASS_KEYS = {"class_id", "ext_class_id", "class_name", "class_description", "meeting_id", "host", "invite_link", "password"}
DEFERRED_CLASS_KEYS = {"class_deferred_id", "class_id", "ext_class_id", "email", "class_name", "class_description", "created_at", "updated_at"}
CREATED_CLASS_KEYS = {"meeting_id", "invite_link"}
CREATED_DEFERRED_KEYS = {"class_deferred_id", "class_id", "ext_id"}
ENROLLMENT_KEYS = {"student_id", "meeting_id", "user_name", "first_name", "last_name", "email", "ext_person_id", "role"}
DEFERRED_ENROLLMENT_KEYS = {"id", "class_deferred_id", "email_user", "enroll_params", "user", "created_at", "updated_at", "role"}
POD_KEYS = {"name", "region", "account", "environment", "databaseName"}
DEFERRED_ENROLLMENT_USER_KEYS = {"role", "email", "last_name", "user_name", "first_name", "ext_person_id"}
ATTENDANCE_KEYS = {"class_id", "sessions"}
SESSION_KEYS = {"session_id", "start_time", "end_time", "students"}
ATTENDANCE_STUDENT_KEYS = {"student_id", "email", "ext_person_id", "present", "tardy", "join_time", "leave_time"}
METRIC_KEYS = {"student_id", "email", "ext_person_id", "event_start", "event_end", "event_duration", "event_type", "event_value"}
SCHEDULE_KEYS = {"schedule_id", "class_id", "start_time", "end_time"}
TEMPLATE_KEYS = {"template_id", "name", "description", "status"}
USER_KEYS = {"id", "ext_user_id", "email", "user_name", "roles", "is_zoom_configured"}
PAGINATION_KEYS = {"total_records", "current_page", "total_pages", "next_page", "prev_page"}
SUCCESS = {"message": "Success"}

# The reference's "Create a Class" example body.
DEMO_CLASS = {
    "email": "anne.malley@demo.com",
    "first_name": "Anne",
    "last_name": "Malley",
    "timezone": "America/Los_Angeles",
    "ext_class_id": "demo-1",
    "class_name": "Demo Class",
    "class_description": "A demonstration of Class",
    "meeting_passcode": "a1demo",
    "session_times": [{"start_time": 1631810954, "end_time": 1631814554}],
    "settings": {"waiting_room": False, "join_before_host": True, "jbh_time": 0},
    "additional_instructors": [{"email": "james.lloyd@demo.com"}, {"email": "chaya.meyer@demo.com"}],
}


class Api:
    """Synchronous client on the in-process transport, authenticated with a fresh key."""

    def __init__(self, emu: Emulator, scopes: Iterable[str] = ALL_SCOPES, secret: str | None = None) -> None:
        self.emu = emu
        self.secret = secret or emu.mint_key(scopes=scopes)
        self._transport = emu.sync_transport()
        self.client = httpx.Client(transport=self._transport, base_url="http://emulator",
                                   headers={"Authorization": f"Bearer {self.secret}"})

    def request(self, method: str, path: str, params: dict[str, Any] | None = None, json: Any = None,
                headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        url = path if path.startswith("/_emulator") or path.startswith("/api/") else f"/api/v1{path}"
        return self.client.request(method, url, params=params, json=json, headers=headers, **kwargs)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.request("POST", path, json=body)

    def put(self, path: str, body: Any) -> httpx.Response:
        return self.request("PUT", path, json=body)

    def patch(self, path: str, body: Any) -> httpx.Response:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str, body: Any = None, **params: Any) -> httpx.Response:
        return self.request("DELETE", path, params=params or None, json=body)

    def close(self) -> None:
        self.client.close()


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.status_code} {response.text}"
    return response.json()


def validation_error(response: httpx.Response) -> dict[str, list[str]]:
    """Assert the documented 400 validation shape; return its data."""
    assert response.status_code == 400, f"{response.status_code} {response.text}"
    body = response.json()
    assert set(body) == {"error", "data"} and body["error"] == "Request failed validation", body
    assert body["data"] and all(isinstance(v, list) and v and all(isinstance(m, str) for m in v) for v in body["data"].values()), body
    return body["data"]


def not_found(response: httpx.Response, entity: str, ident: object) -> None:
    assert response.status_code == 404, f"{response.status_code} {response.text}"
    assert response.json() == {"error": f"{entity} {ident} not found"}
