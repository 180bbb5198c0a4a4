"""Which API key scopes each resource needs, and a cheap probe of what a key is granted."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from .client import ClassApiClient, NotFoundError, RedirectError, RequestRejectedError, ScopeError

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

_NIL_UUID = "00000000-0000-0000-0000-000000000000"

# One read per scope for an entity that cannot exist: the API checks the scope before the lookup,
# so 403 means "not granted" and 404 (or 400) means "granted".
_PROBES: dict[str, tuple[str, dict[str, object]]] = {
    "class:read": ("/classes", {"class_id": _NIL_UUID}),
    "user:read": ("/users", {"id": 0}),
    "template:read": ("/templates", {"template_id": _NIL_UUID}),
    "enrollment:read": ("/class/enrollments", {"class_id": _NIL_UUID}),
    "schedule:read": ("/schedules", {"class_id": _NIL_UUID}),
    "attendance:read": ("/reporting/attendance", {"class_id": _NIL_UUID}),
    "metrics:read": ("/reporting/metrics", {"class_id": _NIL_UUID, "limit": 1}),
}


async def probe_scopes(client: ClassApiClient, scopes: Iterable[str]) -> dict[str, bool]:
    """Return {scope: granted} for each scope; raises `AuthError` when the key itself is rejected."""
    wanted = sorted(set(scopes))
    results = await asyncio.gather(*(_granted(client, scope) for scope in wanted))
    return dict(zip(wanted, results))


async def _granted(client: ClassApiClient, scope: str) -> bool:
    path, params = _PROBES[scope]
    try:
        await client.get(path, params)
    except ScopeError:
        return False
    except RedirectError:
        raise  # not an answer about the scope: the base URL is wrong
    except (NotFoundError, RequestRejectedError):
        return True
    return True


def missing_scopes(resource: str, granted: dict[str, bool]) -> tuple[str, ...]:
    return tuple(scope for scope in RESOURCE_SCOPES[resource] if not granted.get(scope, False))


def describe_missing(missing_by_resource: dict[str, tuple[str, ...]]) -> str:
    """'metrics:read (needed by metrics), ...' for an error or warning message."""
    by_scope: dict[str, list[str]] = {}
    for resource, scopes in missing_by_resource.items():
        for scope in scopes:
            by_scope.setdefault(scope, []).append(resource)
    return ", ".join(f"{scope} (needed by {', '.join(sorted(r))})" for scope, r in sorted(by_scope.items()))
