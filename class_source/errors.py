"""Every failure class-elt expects, under one root: `ClassEltError`.

The CLI prints a `ClassEltError` as one line and exits 1, without a traceback; anything else is a
bug and keeps its traceback. So each class below is raised with a message that names what is wrong
and what to do about it. Messages are redacted (see redact.py): they may quote what a server
answered, and dlt keeps step exceptions' messages in the pipeline's trace.

    ClassEltError
    ├── ConfigError                the connector's configuration is unusable
    │   ├── DestinationError       a destination it cannot load into as configured
    │   ├── ReportError            the report cannot be built as asked
    │   └── PublishError           the published copy cannot be made as asked
    ├── UsageError                 a command line it cannot act on
    ├── RunLockedError             another run holds the pipeline or the dataset
    ├── ClassApiError              what the Class API did
    │   ├── AuthError, ScopeError, NotFoundError, NotClassApiError
    │   ├── ApiUnavailableError ── ApiUnreachableError
    │   ├── BadResponseError ───── ResponseTooLargeError
    │   ├── RequestRejectedError ─ RedirectError
    │   └── PageCannotAdvanceError, UnexpectedPagingError
    ├── RecordError                a record cannot be typed as its table requires
    └── ModelError                 a SQL model cannot be loaded, built or checked
        └── DocsError              a model's YAML file is malformed
"""

from __future__ import annotations

from .redact import redact


class ClassEltError(Exception):
    """Base class of every failure class-elt expects; its message is one redacted line."""

    def __init__(self, message: str, *args: object) -> None:
        super().__init__(redact(message), *args)


# --- configuration and usage ---------------------------------------------------------------------


class ConfigError(ClassEltError):
    """The connector's configuration is unusable (base URL, key, options)."""


class DestinationError(ConfigError):
    """A destination class-elt cannot load into as configured."""


class ReportError(ConfigError):
    """The report cannot be built as asked (no models yet, an unwritable path)."""


class PublishError(ConfigError):
    """The published copy of the marts cannot be made as asked."""


class UsageError(ClassEltError):
    """A command line the CLI cannot act on (an unknown scope or resource, a busy port)."""


class RunLockedError(ClassEltError):
    """Another run holds the pipeline or the destination dataset."""


# --- the Class API -------------------------------------------------------------------------------


class ClassApiError(ClassEltError):
    """Something the Class API answered (or failed to answer) that stops the run."""


class AuthError(ClassApiError):
    """The API rejected the key (401)."""


class ScopeError(ClassApiError):
    """The key lacks one or more scopes that the selected resources need (403)."""

    def __init__(self, message: str, missing_scopes: tuple[str, ...]) -> None:
        super().__init__(message)
        self.missing_scopes = missing_scopes


class NotFoundError(ClassApiError):
    """The API answered 404 for an entity (e.g. a class deleted during the run)."""


class ApiUnavailableError(ClassApiError):
    """The API kept failing after every retry (5xx, 429, timeouts, dropped connections)."""


class ApiUnreachableError(ApiUnavailableError):
    """No connection could be opened to the base URL's host (name does not resolve, port closed)."""


class BadResponseError(ClassApiError):
    """The API answered something that is not the documented JSON (after retries)."""


class ResponseTooLargeError(BadResponseError):
    """A response body exceeded the most the connector reads from one response."""


class NotClassApiError(ClassApiError):
    """The base URL answers, but not as the Class API does."""


class RequestRejectedError(ClassApiError):
    """The API refused the request as malformed (400) or answered an unexpected status."""


class RedirectError(RequestRejectedError):
    """The API answered a redirect, which is never followed (the key must not go elsewhere)."""


class PageCannotAdvanceError(ClassApiError):
    """More events share one second than fit in a page, so `starting_after` cannot move past them."""


class UnexpectedPagingError(ClassApiError):
    """The metrics endpoint pages in a way the connector cannot read exactly (README: "What we assume
    of the Class API"); the run stops before any cursor moves rather than lose an event."""


# --- data and models -----------------------------------------------------------------------------


class RecordError(ClassEltError):
    """A record from the API cannot be typed as its table requires."""


class ModelError(ClassEltError):
    """A model cannot be loaded, rendered, built or fails its grain check."""


class DocsError(ModelError):
    """A model's YAML file is malformed (models.py adds the model's name)."""
