"""One exception root: every failure the connector expects is a ClassEltError, which the CLI prints
as one line wherever dlt wrapped it."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import SimpleNamespace

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

import class_source
from class_source import errors, redact
from class_source.cli import expected_failure
from class_source.errors import ClassEltError, ModelError, RecordError, ScopeError
from class_source.records import to_table

# Exception classes the connector defines that are not failures reported to its caller:
# the transport's own signal to the client, which maps it to ResponseTooLargeError.
INTERNAL = {"class_source.transport.BodyTooLargeError"}


def _connector_modules() -> list[str]:
    names = [info.name for info in pkgutil.walk_packages(class_source.__path__, "class_source.")]
    return [name for name in names if not name.startswith("class_source.emulator")]  # a test server, not the connector


def test_every_exception_class_of_the_connector_is_under_the_one_root():
    defined: dict[str, type] = {}
    for name in _connector_modules():
        for _, value in inspect.getmembers(importlib.import_module(name), inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith("class_source"):
                defined[f"{value.__module__}.{value.__qualname__}"] = value
    outside = sorted(name for name, kind in defined.items() if not issubclass(kind, ClassEltError) and name not in INTERNAL)
    assert outside == []
    # all of them live in errors.py (modules import what they raise)
    assert {kind.__module__ for name, kind in defined.items() if name not in INTERNAL} == {"class_source.errors"}


def test_a_bad_record_is_a_class_elt_error():
    with pytest.raises(ClassEltError, match=r"^classes record without its key class_id"):
        to_table("classes", [{"name": "no id"}])
    assert issubclass(RecordError, ClassEltError)


def test_every_message_is_redacted_not_only_the_api_errors():
    redact.register("a-secret-of-this-test")
    raised = ModelError("model fct_x failed on postgresql://u:a-secret-of-this-test@h/db")
    assert str(raised) == "model fct_x failed on postgresql://u:***@h/db"


def test_the_cli_finds_the_expected_failure_inside_what_dlt_wraps_it_in():
    inner = ScopeError("the key lacks scope metrics:read: add it on the API Keys page", ("metrics:read",))
    try:
        try:
            raise inner
        except ScopeError as exc:
            raise RuntimeError("dlt's extract step failed") from exc
    except RuntimeError as wrapped:
        pipeline = SimpleNamespace(has_pending_data=False, pipeline_name="p", first_run=False, state={})
        outer = PipelineStepFailed(pipeline, "extract", "load-1", wrapped)  # type: ignore[arg-type]
    assert expected_failure(outer) == "the key lacks scope metrics:read: add it on the API Keys page"


def test_a_failure_no_one_expected_keeps_its_traceback():
    assert expected_failure(ValueError("a bug")) is None
    assert expected_failure(KeyError("x")) is None


def test_the_hierarchy_in_the_docstring_names_every_class():
    documented = errors.__doc__ or ""
    classes = [name for name, value in vars(errors).items() if inspect.isclass(value) and issubclass(value, ClassEltError)]
    assert [name for name in classes if name not in documented] == []
