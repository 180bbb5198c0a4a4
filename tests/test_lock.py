"""One run at a time per pipeline."""

from __future__ import annotations

import pytest

from class_source.lock import RunLockedError, run_lock


def test_a_second_run_of_the_same_pipeline_is_refused_while_the_first_holds_the_lock(tmp_path):
    with run_lock(tmp_path, "class_elt"):
        with pytest.raises(RunLockedError, match=r"another class-elt run of pipeline 'class_elt' is active \(pid \d+\)"):
            with run_lock(tmp_path, "class_elt"):
                pass


def test_the_lock_is_released_when_the_run_ends(tmp_path):
    with run_lock(tmp_path, "class_elt"):
        pass
    with run_lock(tmp_path, "class_elt"):
        pass


def test_different_pipelines_do_not_block_each_other(tmp_path):
    with run_lock(tmp_path / "a", "a"), run_lock(tmp_path / "b", "b"):
        pass
