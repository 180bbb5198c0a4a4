"""Metrics pages rendered column by column are byte for byte the JSON of the per-event dicts."""

from __future__ import annotations

import json

import pytest

from class_source.emulator import Emulator


@pytest.fixture(scope="module")
def school():
    emu = Emulator(seed=11, classes=4, event_scale=1.5)
    school = emu.school
    class_id = school.class_ids()[0]
    students = school.enrollments(school.classes[class_id])
    second = emu.clock.now - 2 * 86400
    # injected events: one with its own event_duration, one instant, one that has not ended yet
    school.add_events(class_id, [
        {"student_id": students[0]["student_id"], "event_start": second * 1000 + 7, "event_end": second * 1000 + 90_007,
         "event_type": "FEEDBACK", "event_value": "coffee", "event_duration": 12345},
        {"student_id": students[1]["student_id"], "event_start": second * 1000 + 8, "event_end": second * 1000 + 8,
         "event_type": "RAISED_HAND", "event_value": "1"},
        # still running: not listed, so pages around it skip a position
        {"student_id": students[2]["student_id"], "event_start": second * 1000 + 9, "event_end": (emu.clock.now + 3600) * 1000,
         "event_type": "PRESENTING", "event_value": "true"},
    ])
    return school


@pytest.mark.parametrize("starting_after_days, limit", [(None, 1000), (None, 1), (3, 17), (2, 1000), (0, 1000)])
def test_rendered_page_equals_the_dict_page(school, starting_after_days, limit):
    for class_id in school.class_ids():
        cls = school.classes[class_id]
        after = None if starting_after_days is None else school.clock.now - starting_after_days * 86400 - 1
        expected = school.metrics_page(cls, starting_after=after, ending_before=None, limit=limit)
        rendered = school.metrics_page_json(cls, starting_after=after, ending_before=None, limit=limit)
        assert rendered == json.dumps(expected, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def test_an_event_still_running_is_skipped(school):
    class_id = school.class_ids()[0]
    page = json.loads(school.metrics_page_json(school.classes[class_id], starting_after=school.clock.now - 2 * 86400 - 1,
                                               ending_before=None, limit=1000))
    assert not [e for e in page if e["event_type"] == "PRESENTING" and
                e["event_start"].endswith(".009Z")]


def test_the_injected_duration_is_rendered(school):
    class_id = school.class_ids()[0]
    page = json.loads(school.metrics_page_json(school.classes[class_id], starting_after=school.clock.now - 2 * 86400 - 1,
                                               ending_before=None, limit=1000))
    assert [e["event_duration"] for e in page if e["event_type"] == "FEEDBACK" and e["event_value"] == "coffee"][:1] == [12345]


def test_a_rendered_page_shows_a_persons_new_email_after_an_update():
    """Pages reuse each person's rendered fields between pages: an edit must show on the next page."""
    emu = Emulator(seed=11, classes=2, event_scale=1.5)
    school = emu.school
    cls = school.classes[school.class_ids()[0]]
    page = lambda: json.loads(school.metrics_page_json(cls, starting_after=None, ending_before=None, limit=1000))  # noqa: E731
    student = page()[0]["student_id"]
    enrollment = next(e for e in school.enrollments(cls) if e["student_id"] == student)
    school.update_enrollment(
        cls, identified_by="student_id", identifier=student, first_name=enrollment["first_name"], last_name=enrollment["last_name"],
        role=enrollment["role"], display_name=None, email="renamed.person@example.org", ext_person_id=None,
    )
    emails = {event["email"] for event in page() if event["student_id"] == student}
    assert emails == {"renamed.person@example.org"}
    assert school.metrics_page_json(cls, starting_after=None, ending_before=None, limit=1000) == json.dumps(
        school.metrics_page(cls, starting_after=None, ending_before=None, limit=1000), ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")
