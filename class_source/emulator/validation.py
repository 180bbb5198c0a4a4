"""Request validation producing the documented 400 shape:
`{"error": "Request failed validation", "data": {field: [message, ...]}}` (Laravel-style messages,
as the reference's "The email format is invalid." suggests)."""

from __future__ import annotations

import re
import zoneinfo
from typing import Any, Mapping

from .errors import ValidationFailed

MISSING: Any = object()
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_INTEGER = re.compile(r"^-?[0-9]+$")
_TIMEZONES = frozenset(zoneinfo.available_timezones())


def _label(field: str) -> str:
    return field.replace("_", " ")


def _choices(fields: tuple[str, ...]) -> str:
    return ", ".join(fields[:-1]) + " or " + fields[-1] if len(fields) > 1 else fields[0]


class Validator:
    """Collects every error of a request before failing, as a validating API does."""

    def __init__(self, source: Mapping[str, Any]) -> None:
        self.source = source
        self.errors: dict[str, list[str]] = {}

    def fail(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def raw(self, field: str) -> Any:
        value = self.source.get(field, MISSING)
        # Empty strings count as absent (query strings like ?class_id= are common client slips).
        return MISSING if value == "" else value

    def present(self, field: str) -> bool:
        return self.raw(field) is not MISSING

    def string(
        self, field: str, *, required: bool = False, nullable: bool = True, max_length: int = 255, source_field: str | None = None
    ) -> Any:
        name = source_field or field
        value = self.raw(name)
        if value is MISSING or value is None:
            if required:
                self.fail(field, f"The {_label(field)} field is required.")
            elif value is None and not nullable:
                self.fail(field, f"The {_label(field)} must be a string.")
            return value
        if not isinstance(value, str):
            self.fail(field, f"The {_label(field)} must be a string.")
            return MISSING
        if len(value) > max_length:
            self.fail(field, f"The {_label(field)} may not be greater than {max_length} characters.")
        return value

    def email(self, field: str, *, required: bool = False, nullable: bool = True) -> Any:
        value = self.string(field, required=required, nullable=nullable)
        if isinstance(value, str) and not _EMAIL.match(value):
            self.fail(field, f"The {_label(field)} format is invalid.")
            return MISSING
        return value

    def integer(
        self, field: str, *, required: bool = False, minimum: int | None = None, maximum: int | None = None, from_query: bool = False
    ) -> Any:
        value = self.raw(field)
        if value is MISSING or value is None:
            if required:
                self.fail(field, f"The {_label(field)} field is required.")
            return MISSING if value is MISSING else None
        if from_query and isinstance(value, str) and _INTEGER.match(value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, f"The {_label(field)} must be an integer.")
            return MISSING
        if minimum is not None and value < minimum:
            self.fail(field, f"The {_label(field)} must be at least {minimum}.")
            return MISSING
        if maximum is not None and value > maximum:
            self.fail(field, f"The {_label(field)} may not be greater than {maximum}.")
            return MISSING
        return value

    def boolean(self, field: str, *, from_query: bool = False) -> Any:
        value = self.raw(field)
        if value is MISSING or value is None:
            return value
        if from_query and isinstance(value, str):
            lowered = value.lower()
            if lowered in ("true", "1"):
                return True
            if lowered in ("false", "0"):
                return False
        if isinstance(value, bool):
            return value
        self.fail(field, f"The {_label(field)} field must be true or false.")
        return MISSING

    def choice(self, field: str, choices: tuple[str, ...], *, required: bool = False) -> Any:
        value = self.string(field, required=required, nullable=not required)
        if isinstance(value, str) and value not in choices:
            self.fail(field, f"The selected {_label(field)} is invalid.")
            return MISSING
        return value

    def timezone(self, field: str, *, required: bool = False) -> Any:
        value = self.string(field, required=required, nullable=not required)
        if isinstance(value, str) and value not in _TIMEZONES:
            self.fail(field, f"The {_label(field)} must be a valid zone.")
            return MISSING
        return value

    def one_identifier(self, fields: tuple[str, ...], *, required: bool = True) -> tuple[str, Any] | None:
        """Exactly one of `fields` (the reference: "select one and only one identifier")."""
        given = [f for f in fields if self.present(f)]
        if len(given) > 1:
            for f in given:
                self.fail(f, f"Only one of {_choices(fields)} may be provided.")
            return None
        if not given:
            if required:
                self.fail(fields[0], f"One of {_choices(fields)} is required.")
            return None
        field = given[0]
        value = self.raw(field)
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            self.fail(field, f"The {_label(field)} must be a string.")
            return None
        return field, value

    def check(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)
