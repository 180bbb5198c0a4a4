"""The PEER: the same Class load wired up with dlt's generic `rest_api` source, as a competent user
would from the Class API reference and dlt's documentation, with dlt's defaults.

Every choice below cites the guidance it follows: "[basic]" is dlt's REST API source page
(https://dlthub.com/docs/dlt-ecosystem/verified-sources/rest_api/basic), "[advanced]" its advanced
page (.../rest_api/advanced), "[ref]" the Class API reference (/work/shared/class-api-reference.txt).
Nothing is tuned beyond what those pages suggest: no custom paginator, no custom code.

What this configuration cannot express, and therefore loses (the benchmark measures it against the
emulator's ground truth and prints it, rather than hiding it):

- metrics are paged by `starting_after`, but the API offers no next link, cursor field or total;
  dlt's built-in paginators cannot derive "the last event's start second" from a list response
  (`cursor` reads a field of the response body [basic, Paginators]), so each class gets one page of
  at most `limit=1000` events per run;
- the incremental cursor of a dependent resource is one value for all parent items
  (dlt-hub/dlt#2429): after the first run every class is asked `starting_after=<newest event of
  ANY class>`, and dlt's incremental filter drops anything older, so most classes' new events
  are lost;
- no lookback: a long event that started before the cursor but ended (became visible) after the
  previous run is never requested again;
- enrollments and schedules of deferred classes: their parent `classes` lists regular classes only
  ([ref] "GET /classes?deferred=true" is a separate listing), so they are not fetched.
"""

from __future__ import annotations

from typing import Any

import pendulum

# The API pages users with page/limit and reports `pagination.total_pages`; every per-class
# endpoint answers one JSON document without paging metadata.
USERS_PAGINATOR: dict[str, Any] = {
    # [basic, Paginators table] `page_number`: "base_page - the starting page number. Defaults to 0",
    # "total_path - a JSONPath expression for the total number of pages"; [ref, Pagination] pages
    # start at 1 and the envelope carries pagination.total_pages.
    "type": "page_number",
    "base_page": 1,
    "page_param": "page",
    "total_path": "pagination.total_pages",
}


def iso_to_unix_seconds(value: str) -> int:
    """The cursor (event_start, ISO-8601 with ms) as the whole unix seconds `starting_after` takes.

    [basic, "Convert the incremental value before calling the API"]: `convert` is a callable that
    turns the cursor value into the format the query parameter requires.
    """
    return int(pendulum.parse(value).timestamp())  # type: ignore[union-attr]


def peer_config(base_url: str, api_key: str, *, parallelized: bool = False) -> dict[str, Any]:
    """The `RESTAPIConfig` of the peer. `parallelized=True` is the one documented speed switch
    ([advanced, "Per-resource parallelization for dependent resources"]); the benchmark's PEER
    row uses dlt's default (False) and reports the parallelized variant separately."""
    per_class: dict[str, Any] = {"parallelized": True} if parallelized else {}
    return {
        "client": {
            # [basic, Client] base_url is the common prefix of every endpoint path.
            "base_url": f"{base_url.rstrip('/')}/api/v1/",
            # [basic, Authentication] "token-based authentication ... use the following shortcut";
            # [ref] "Authorization: Bearer [api_key_secret]".
            "auth": {"type": "bearer", "token": api_key},
        },
        "resource_defaults": {
            "endpoint": {
                # [basic, Paginators] `single_page`: "The response will be interpreted as a single-page
                # response". Setting it explicitly follows the RESTClient's own advice: auto-detection
                # falls back to it on list responses with the warning "Please provide paginator manually".
                "paginator": "single_page",
            },
            # [basic, Resource configuration] write_disposition per resource; snapshots are replaced.
            "write_disposition": "replace",
        },
        "resources": [
            {
                "name": "classes",
                "primary_key": "class_id",
                "endpoint": {"path": "classes"},  # [ref] Get All Classes Info: a JSON array, no paging
            },
            {
                "name": "deferred_classes",
                "primary_key": "class_deferred_id",
                # [ref] "GET /classes?deferred=true" lists the deferred class records
                "endpoint": {"path": "classes", "params": {"deferred": "true"}},
            },
            {
                "name": "users",
                "primary_key": "id",
                "endpoint": {
                    "path": "users",
                    # [ref, Pagination] "limit ... Maximum: 1,000": fewest requests
                    "params": {"limit": 1000},
                    # [basic, Data selection] the records sit under "data" in the envelope
                    "data_selector": "data",
                    "paginator": USERS_PAGINATOR,
                },
            },
            {
                "name": "templates",
                "primary_key": "template_id",
                "endpoint": {"path": "templates"},
            },
            {
                "name": "enrollments",
                "primary_key": ["_classes_class_id", "student_id"],
                # [basic, "Include fields from the parent resource"]: the roster rows don't carry
                # their class; the parent's field lands as `_classes_class_id`.
                "include_from_parent": ["class_id"],
                **per_class,
                "endpoint": {
                    "path": "class/enrollments",
                    # [basic, "Define resource relationships" / "Via query string parameters"]
                    "params": {"class_id": "{resources.classes.class_id}"},
                },
            },
            {
                "name": "schedules",
                "primary_key": "schedule_id",
                **per_class,
                "endpoint": {"path": "schedules", "params": {"class_id": "{resources.classes.class_id}"}},
            },
            {
                "name": "attendance",
                "primary_key": ["_classes_class_id", "session_id"],
                "include_from_parent": ["class_id"],
                **per_class,
                "endpoint": {
                    "path": "reporting/attendance",
                    "params": {"class_id": "{resources.classes.class_id}"},
                    # [basic, Data selection] one row per session; dlt nests each session's students
                    # into the child table attendance__students (dlt's default normalization).
                    "data_selector": "sessions",
                },
            },
            {
                "name": "metrics",
                "primary_key": ["_classes_class_id", "student_id", "event_type", "event_start"],
                # [basic, Incremental loading] + dlt's incremental-loading guide: append-only event
                # data loaded incrementally is merged on its primary key so overlaps are not duplicated.
                "write_disposition": "merge",
                "include_from_parent": ["class_id"],
                **per_class,
                "endpoint": {
                    "path": "reporting/metrics",
                    "params": {
                        "class_id": "{resources.classes.class_id}",
                        "limit": 1000,  # [ref, Get Metrics] "Number of events to retrieve (max 1000)"
                    },
                    # [basic, "Incremental loading using the `incremental` field"] start_param +
                    # cursor_path + initial_value, with `convert` because the API takes unix seconds
                    # while the records carry ISO timestamps.
                    "incremental": {
                        "start_param": "starting_after",
                        "cursor_path": "event_start",
                        "initial_value": "1970-01-01T00:00:00.000Z",
                        "convert": iso_to_unix_seconds,
                    },
                },
            },
        ],
    }


def peer_source(base_url: str, api_key: str, *, parallelized: bool = False) -> Any:
    """The peer as a dlt source, named like ours so both land in comparable pipelines."""
    from dlt.sources.rest_api import rest_api_source

    return rest_api_source(peer_config(base_url, api_key, parallelized=parallelized), name="class_api_peer")


# How the peer's tables map onto the warehouse tables' natural keys (see /tmp contract table), as
# DuckDB SQL over the peer's dataset `{ds}`: the benchmark compares these keys to the ground truth.
PEER_KEY_SQL: dict[str, str] = {
    "classes": "select class_id from {ds}.classes",
    "deferred_classes": "select cast(class_deferred_id as bigint) from {ds}.deferred_classes",
    "users": "select cast(id as bigint) from {ds}.users",
    "templates": "select template_id from {ds}.templates",
    "enrollments": "select _classes_class_id, student_id from {ds}.enrollments",
    "schedules": "select schedule_id from {ds}.schedules",
    "attendance": (
        "select a._classes_class_id, a.session_id, s.student_id from {ds}.attendance a "
        "join {ds}.attendance__students s on s._dlt_parent_id = a._dlt_id"
    ),
    "metrics": (
        "select _classes_class_id, student_id, event_type, cast(event_start as timestamptz) from {ds}.metrics"
    ),
}
