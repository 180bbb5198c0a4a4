"""API keys: bearer secrets stored only as hashes, each with scopes and an optional expiry."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from typing import Iterable

from .errors import ApiError

# The 12 scopes of the reference's "Summary of Available Endpoints" table.
ALL_SCOPES: tuple[str, ...] = (
    "class:read",
    "class:write",
    "enrollment:read",
    "enrollment:write",
    "attendance:read",
    "metrics:read",
    "schedule:read",
    "schedule:write",
    "template:read",
    "template:write",
    "user:read",
    "user:write",
)

# One message for every 401 so a caller cannot probe which secrets exist.
UNAUTHENTICATED_BODY = {"error": "Unauthenticated"}


@dataclass(frozen=True)
class ApiKey:
    """What the emulator remembers about a key: never the secret itself."""

    key_id: int
    secret_hash: str
    scopes: frozenset[str]
    expires_at: int | None  # unix seconds, compared with the emulator clock


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class KeyStore:
    """Mints keys and resolves `Authorization` headers to keys."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_hash: dict[str, ApiKey] = {}

    def mint(self, scopes: Iterable[str] = ALL_SCOPES, expires_at: int | None = None, secret: str | None = None) -> str:
        """Register a key and return its bearer secret (the only time it is ever visible)."""
        scope_set = frozenset(scopes)
        unknown = sorted(scope_set - set(ALL_SCOPES))
        if unknown:
            raise ValueError(f"unknown scopes {unknown}; valid scopes are {list(ALL_SCOPES)}")
        if expires_at is not None and (isinstance(expires_at, bool) or not isinstance(expires_at, int)):
            raise TypeError(f"expires_at must be integer unix seconds or None, got {expires_at!r}")
        # Real secrets are random even in a deterministic emulator: no response ever contains them,
        # so determinism of responses does not depend on them.
        if secret is None:
            secret = "cls_" + secrets.token_hex(24)
        elif not secret or any(ch.isspace() for ch in secret):
            raise ValueError("a secret must be a non-empty string without whitespace")
        digest = _hash(secret)
        with self._lock:
            if digest in self._by_hash:
                raise ValueError("that secret is already registered")
            self._by_hash[digest] = ApiKey(len(self._by_hash) + 1, digest, scope_set, expires_at)
        return secret

    def revoke(self, secret: str) -> bool:
        with self._lock:
            return self._by_hash.pop(_hash(secret), None) is not None

    def authenticate(self, authorization: str | None, now: int) -> ApiKey:
        """Resolve an Authorization header value; raise the 401 ApiError when it does not name a live key."""
        if not authorization:
            raise _unauthenticated()
        scheme, _, secret = authorization.partition(" ")
        # RFC 6750: the scheme is case-insensitive; exactly one space and a non-empty token.
        if scheme.lower() != "bearer" or not secret or " " in secret.strip(" ") or secret != secret.strip():
            raise _unauthenticated()
        digest = _hash(secret)
        key = self._by_hash.get(digest)
        if key is None or not hmac.compare_digest(key.secret_hash, digest):
            raise _unauthenticated()
        if key.expires_at is not None and now >= key.expires_at:
            raise _unauthenticated()
        return key


def require_scope(key: ApiKey, scope: str) -> None:
    """Raise the documented 403 when the key lacks `scope`."""
    if scope not in key.scopes:
        raise ApiError(403, {"error": f"Api key scope {scope} required"})


def _unauthenticated() -> ApiError:
    return ApiError(401, dict(UNAUTHENTICATED_BODY), {"WWW-Authenticate": "Bearer"})
