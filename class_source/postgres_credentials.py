"""Postgres credentials the libpq way: a connection string without a password is a valid one."""

from __future__ import annotations

import os
from typing import Any


def libpq_credentials() -> Any:
    """The configured Postgres connection string, accepted without a password as libpq accepts it
    (trust authentication, ~/.pgpass, PGPASSWORD), where dlt would insist on one; None when the
    credentials are not a connection string (dlt resolves and checks them as usual)."""
    import dlt

    from .dlt_compat import PostgresCredentials

    configured: Any = dlt.secrets.get("destination.postgres.credentials")
    if not isinstance(configured, str) or "://" not in configured:
        return None
    credentials = PostgresCredentials()
    try:
        credentials.parse_native_representation(configured)
    except Exception:  # noqa: BLE001 - let dlt's own resolution name what is wrong
        return None
    if credentials.password is None:
        # an empty password makes libpq look in ~/.pgpass; PGPASSWORD must be passed on explicitly
        credentials.password = os.environ.get("PGPASSWORD", "")
    return credentials
