"""Errors the API answers with, in the documented JSON shapes."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error response: HTTP status plus the JSON body to send."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


class ValidationFailed(ApiError):
    """400 `{"error": "Request failed validation", "data": {field: [message, ...]}}` (documented shape)."""

    def __init__(self, data: dict[str, list[str]]) -> None:
        super().__init__(400, {"error": "Request failed validation", "data": data})
        self.data = data


class NotFound(ApiError):
    """404 `{"error": "<entity> <id> not found"}` (documented for classes; same pattern for the rest)."""

    def __init__(self, entity: str, ident: object) -> None:
        super().__init__(404, {"error": f"{entity} {ident} not found"})


class BadRequest(ApiError):
    """400 `{"error": "<message>"}`, the documented shape for business-rule failures."""

    def __init__(self, message: str) -> None:
        super().__init__(400, {"error": message})
