"""Which API key scopes each resource needs, what an answer says about a scope, and whether the base
URL speaks the Class API at all.

A run learns its key's scopes from its own first requests (session.py), not from extra ones: the
class listing answers for class:read, the first users page for user:read, and so on. Only when there
is no real entity to ask about (no class listed, or no class:read) does it probe one that cannot
exist (`probe_scopes`), which relies on the API checking the scope before the lookup.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Iterable
from typing import Any

from .client import ClassApiClient, decode_json
from .errors import NotClassApiError, NotFoundError, RedirectError, RequestRejectedError, ScopeError

# Per-class resources enumerate classes first, so they need class:read as well.
RESOURCE_SCOPES: dict[str, tuple[str, ...]] = {
    "classes": ("class:read",),
    "deferred_classes": ("class:read",),
    "users": ("user:read",),
    "templates": ("template:read",),
    "enrollments": ("class:read", "enrollment:read"),
    "schedules": ("class:read", "schedule:read"),
    "attendance": ("class:read", "attendance:read"),
    "metrics": ("class:read", "metrics:read"),
}

# Checked by their resource's first read instead of before the run: those tables are merged per
# class read, so a resource refused before it reads anything leaves its table and cursors as they were
# (a replaced or scd2 table would be emptied by a resource that yields nothing: their scopes are
# checked before any resource starts).
CHECKED_WHEN_READ = frozenset({"attendance:read", "metrics:read"})
# the scopes read per class, beyond class:read (which lists the classes)
PER_CLASS_SCOPES = tuple(
    dict.fromkeys(scope for scopes in RESOURCE_SCOPES.values() if "class:read" in scopes for scope in scopes if scope != "class:read")
)

_NIL_UUID = "00000000-0000-0000-0000-000000000000"

# One read per scope for an entity that cannot exist: the API checks the scope before the lookup,
# so 403 means "not granted" and 404 (or 400) means "granted". A per-class one asks a real class
# instead when there is one (`class_read`).
_PROBES: dict[str, tuple[str, dict[str, object]]] = {
    "class:read": ("/classes", {"class_id": _NIL_UUID}),
    "user:read": ("/users", {"id": 0}),
    "template:read": ("/templates", {"template_id": _NIL_UUID}),
    "enrollment:read": ("/class/enrollments", {"class_id": _NIL_UUID}),
    "schedule:read": ("/schedules", {"class_id": _NIL_UUID}),
    "attendance:read": ("/reporting/attendance", {"class_id": _NIL_UUID}),
    "metrics:read": ("/reporting/metrics", {"class_id": _NIL_UUID, "limit": 1}),
}


class _NotJson:
    """What `_json_or_marker` returns for a body that is not JSON."""


async def verify_class_api(client: ClassApiClient) -> None:
    """Raise `NotClassApiError` unless GET /classes answers as the Class API does: the list of classes,
    or the API's 403 about the key's scope (a 401 is raised as the key's problem). The scope probes cannot tell: any server answering 404
    to everything looks like a key with every scope (see `_granted`)."""
    try:
        body = await client.get("/classes", decode=_json_or_marker)
    except ScopeError:
        return  # the key lacks class:read: the scope probes report it
    except RedirectError:
        raise  # it has its own message
    except NotFoundError:
        raise _not_class_api(client, "404 Not Found") from None
    except RequestRejectedError as exc:
        raise _not_class_api(client, str(exc).split(" answered ", 1)[-1][:80]) from None
    if isinstance(body, _NotJson):
        raise _not_class_api(client, "200 with a body that is not JSON")
    if not (isinstance(body, list) and all(isinstance(item, dict) and "class_id" in item for item in body)):
        raise _not_class_api(client, f"200 with a JSON {type(body).__name__}, not the list of classes")


async def _json_or_marker(body: bytes, where: str) -> Any:
    try:
        return decode_json(body, where)
    except json.JSONDecodeError:
        return _NotJson()  # not retried: a page that is not JSON is the answer here


def _not_class_api(client: ClassApiClient, answer: str) -> NotClassApiError:
    return NotClassApiError(f"this is not a Class API at {client.base_url}: check base_url (GET /api/v1/classes answered {answer})")


async def probe_scopes(client: ClassApiClient, scopes: Iterable[str]) -> dict[str, bool]:
    """Return {scope: granted} for each scope, each asked of an entity that cannot exist (for when there
    is no real one to ask about); raises `AuthError` when the key itself is rejected."""
    wanted = sorted(set(scopes))
    results = await asyncio.gather(*(_granted(client, scope) for scope in wanted))
    return dict(zip(wanted, results))


def class_read(scope: str, class_id: str) -> tuple[str, dict[str, object]]:
    """The read of one class that tells whether the key has the per-class `scope`."""
    path, params = _PROBES[scope]
    return path, {**params, "class_id": class_id}


async def _granted(client: ClassApiClient, scope: str) -> bool:
    path, params = _PROBES[scope]
    return await answers_scope(client.get(path, params))


async def answers_scope(request: Awaitable[Any]) -> bool:
    """Whether a GET's answer shows the key has its endpoint's scope: a 403 means not; an answer, a 404
    or a 400 means it has. Any other failure is raised: it is not an answer about the scope."""
    try:
        await request
    except ScopeError:
        return False
    except RedirectError:
        raise  # not an answer about the scope: the base URL is wrong
    except (NotFoundError, RequestRejectedError):
        return True
    return True


def missing_scopes(resource: str, granted: dict[str, bool]) -> tuple[str, ...]:
    """The scopes of `resource` known to be missing (a scope not learned yet is not)."""
    return tuple(scope for scope in RESOURCE_SCOPES[resource] if granted.get(scope) is False)


def describe_missing(missing_by_resource: dict[str, tuple[str, ...]]) -> str:
    """'metrics:read (needed by metrics), ...' for an error or warning message."""
    by_scope: dict[str, list[str]] = {}
    for resource, scopes in missing_by_resource.items():
        for scope in scopes:
            by_scope.setdefault(scope, []).append(resource)
    return ", ".join(f"{scope} (needed by {', '.join(sorted(r))})" for scope, r in sorted(by_scope.items()))
