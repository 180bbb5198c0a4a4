"""pii = "hash": names and emails become stable salted hashes that still join across tables."""

from __future__ import annotations

import pyarrow as pa
import pytest

from class_source.client import ConfigError
from class_source.pii import PiiPolicy


def test_hashes_are_stable_case_insensitive_and_salted():
    policy = PiiPolicy("hash", "salt-a")
    assert policy.hash("Ann@School.org") == policy.hash(" ann@school.org")
    assert policy.hash("ann@school.org") != PiiPolicy("hash", "salt-b").hash("ann@school.org")
    assert policy.hash(None) is None
    assert "ann" not in policy.hash("ann@school.org")


def test_only_personal_columns_change_and_the_same_email_hashes_alike_in_every_table():
    policy = PiiPolicy("hash", "s")
    enrollments = pa.table({"class_id": ["c"], "student_id": ["s1"], "email": ["ann@x.org"], "first_name": ["Ann"], "role": ["student"]})
    metrics = pa.table({"class_id": ["c"], "student_id": ["s1"], "email": ["ann@x.org"]})
    hashed_enrollments, hashed_metrics = policy.apply("enrollments", enrollments), policy.apply("metrics", metrics)
    assert hashed_enrollments.column("email") == hashed_metrics.column("email")
    assert hashed_enrollments.column("first_name").to_pylist() != ["Ann"]
    assert hashed_enrollments.select(["class_id", "student_id", "role"]) == enrollments.select(["class_id", "student_id", "role"])


def test_keep_is_the_default_and_changes_nothing():
    table = pa.table({"email": ["ann@x.org"]})
    assert PiiPolicy().apply("metrics", table) == table


@pytest.mark.parametrize(("mode", "salt", "message"), [("hash", None, "needs a secret salt"), ("mask", "s", "pii must be one of")])
def test_bad_settings_are_config_errors(mode, salt, message):
    with pytest.raises(ConfigError, match=message):
        PiiPolicy(mode, salt)
