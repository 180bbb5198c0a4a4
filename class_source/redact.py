"""Keep the API key out of every text the connector writes: error messages, logs, dlt's trace.

A server may echo the request's `Authorization` header in an error body, and that body is quoted in
the error message, which dlt also stores in the pipeline's trace. So every secret the process holds
is registered here once, and every message is passed through `redact` before it is raised or logged.
"""

from __future__ import annotations

import logging
import threading

MASK = "***"
# shorter values would mask innocent text (and are not keys anyone issues)
_MIN_SECRET_LENGTH = 6

_secrets: set[str] = set()
_lock = threading.Lock()


def register(secret: str) -> None:
    """Mask `secret` in every later `redact` call of this process."""
    secret = secret.strip()
    if len(secret) >= _MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(secret)


def redact(text: str) -> str:
    """`text` with every registered secret replaced by ***; longest first, so a secret that contains
    another is masked whole."""
    if not _secrets:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_bytes(body: bytes) -> bytes:
    """`body` (a response as received) with every registered secret masked: applied before the body
    is cut to an excerpt, so that no prefix of a secret survives the cut."""
    for secret in sorted(_secrets, key=len, reverse=True):
        needle = secret.encode("utf-8", "ignore")
        if needle and needle in body:
            body = body.replace(needle, MASK.encode())
    return body


class RedactingFilter(logging.Filter):
    """Masks secrets in a log record's final message (arguments included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
