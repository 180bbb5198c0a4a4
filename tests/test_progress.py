"""The live progress line keeps what matters on a narrow terminal."""

from __future__ import annotations

from class_source.progress import Progress


def a_run_in_progress() -> Progress:
    progress = Progress()
    progress.start("classes")
    progress.advance("classes", rows=475)
    progress.start("enrollments", 500)
    progress.advance("enrollments", rows=15_000, classes=500)
    progress.start("metrics", 500)
    progress.advance("metrics", rows=1_045_703, classes=321)
    return progress


def test_metrics_come_first_with_their_class_count():
    assert a_run_in_progress().render() == (
        "metrics 1,045,703 (321/500 classes) | classes 475 | enrollments 15,000 (500/500 classes)"
    )


def test_on_a_narrow_terminal_whole_resources_are_left_out_never_the_metrics_count():
    assert a_run_in_progress().render(width=55) == "metrics 1,045,703 (321/500 classes) | classes 475 | …"  # 53 characters
    assert a_run_in_progress().render(width=40) == "metrics 1,045,703 (321/500 classes) | …"
    assert a_run_in_progress().render(width=20) == "metrics 1,045,703 (3"
