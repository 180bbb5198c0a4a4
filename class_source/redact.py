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
    """Masks secrets in a log record's final message (arguments included). With `first_line_only`,
    also drops what follows the message's first line and the attached traceback: dlt logs each retry
    of a failing load job with two chained tracebacks (38 KB for one rejected file), which the
    pipeline's trace and the failed job's folder keep anyway."""

    def __init__(self, first_line_only: bool = False) -> None:
        super().__init__()
        self._first_line_only = first_line_only

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if self._first_line_only:
            cleaned = cleaned.split("\n", 1)[0]
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
