"""Optional pseudonymization of personal data: names and emails become stable salted hashes.

HMAC-SHA256 keyed by a secret salt, so the same email hashes to the same value in every table and
every run (dashboards still join and count distinct people), while nobody without the salt can
test a guessed email against the warehouse.
"""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa

from .errors import ConfigError

PII_COLUMNS: dict[str, tuple[str, ...]] = {
    "classes": ("host",),
    "deferred_classes": ("email",),
    "users": ("email", "user_name"),
    "enrollments": ("user_name", "first_name", "last_name", "email"),
    "attendance": ("email",),
    "metrics": ("email",),
}
MODES = ("keep", "hash")


class PiiPolicy:
    def __init__(self, mode: str = "keep", salt: str | None = None) -> None:
        if mode not in MODES:
            raise ConfigError(f"pii must be one of {', '.join(MODES)}, got {mode!r}")
        if mode == "hash" and not salt:
            raise ConfigError(
                'pii = "hash" needs a secret salt: set sources.class_api.pii_salt in .dlt/secrets.toml '
                "(env SOURCES__CLASS_API__PII_SALT); keep it stable, or hashes change between runs"
            )
        self.mode = mode
        self._key = (salt or "").encode()

    def apply(self, table: str, data: pa.Table) -> pa.Table:
        if self.mode == "keep":
            return data
        for column in PII_COLUMNS.get(table, ()):
            if column in data.column_names:
                index = data.column_names.index(column)
                hashed = pa.array([self.hash(v) for v in data.column(column).to_pylist()], type=pa.string())
                data = data.set_column(index, column, hashed)
        return data

    def hash(self, value: str | None) -> str | None:
        if value is None:
            return None
        normalized = value.strip().lower()  # the same person, however the API capitalized the email
        return hmac.new(self._key, normalized.encode(), hashlib.sha256).hexdigest()[:32]
