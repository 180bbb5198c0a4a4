"""One run at a time per pipeline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from class_source.lock import RunLockedError, run_lock

ROOT = Path(__file__).resolve().parent.parent


def test_a_second_run_of_the_same_pipeline_is_refused_while_the_first_holds_the_lock(tmp_path):
    with run_lock(tmp_path, "class_elt"):
        with pytest.raises(RunLockedError, match=rf"another class-elt run of pipeline 'class_elt' is active \(pid {os.getpid()}\)"):
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


def test_a_killed_holder_leaves_no_stale_lock_and_was_named_while_it_held_it(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from class_source.lock import run_lock\nwith run_lock({str(tmp_path)!r}, 'p'):\n    print('held', flush=True)\n    input()"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(RunLockedError, match=rf"\(pid {holder.pid}\)"):
            with run_lock(tmp_path, "p"):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with run_lock(tmp_path, "p"):  # the kernel released it with the process
        assert (tmp_path / "class-elt.lock").read_text() == str(os.getpid())
