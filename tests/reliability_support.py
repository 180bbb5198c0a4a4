"""Crash-point runner and warehouse/state inspectors for tests/test_reliability.py.

As a script it runs `class-elt` with one function of the connector or of dlt armed to SIGKILL the
process on its n-th call (a crash nothing can intercept: no finally, no atexit, no flush):

    python tests/reliability_support.py <point> <n> -- run --no-models     # die at the n-th call
    python tests/reliability_support.py none 0 -- run --no-models          # a plain run
    CRASH_COUNTS_FILE=counts.json python tests/reliability_support.py count 0 -- run --no-models
                                          # how often a run reaches each point (to set `calls`)
    python tests/reliability_support.py --serve                            # fork server, see below

Importing dlt takes seconds, and the crash test needs dozens of runs, so `ForkServer` starts one
`--serve` process that imports everything once and then forks one child per run. Each child is a
separate process (own pid, own file descriptors, killed by a real SIGKILL) that sets the run's
environment and working directory and calls `class_source.cli.main`, exactly as the script does.
"""

from __future__ import annotations

import base64
import functools
import gzip
import importlib
import inspect
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve()
PIPELINE = "class_elt"
DATASET = "class_data"
SIGKILLED = -signal.SIGKILL


# --- crash points ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrashPoint:
    """A function whose n-th call kills the run, `before` it runs or right `after` it returned, or
    (`first_statement`, for an SQL call of several statements) once its first statement has run.

    `calls` is the range of n that one run reaches (first run or incremental run alike), so an armed
    run really dies; `phase` is the pipeline step that is running when it does.
    """

    name: str
    phase: str  # extract | normalize | load
    target: str  # "module:Class.attribute"
    when: str = "before"  # before | after | first_statement
    calls: tuple[int, int] = (1, 1)
    # what the pipeline directory holds after the kill: extracted / normalized packages
    leaves: frozenset[str] = frozenset()
    # count only calls about this (a job file name, an SQL statement): to aim at one table
    match: Optional[str] = None
    # `first_statement`: how many of the call's statements run before the kill
    statements_run: int = 1


def _points(*points: CrashPoint) -> dict[str, CrashPoint]:
    return {p.name: p for p in points}


EXTRACTED, NORMALIZED = "extracted", "normalized"
_DUCKDB_SQL = "dlt.destinations.impl.duckdb.sql_client:DuckDbSqlClient.execute_sql"
_POSTGRES_SQL = "dlt.destinations.impl.postgres.sql_client:Psycopg2SqlClient.execute_sql"
CRASH_POINTS: dict[str, CrashPoint] = _points(
    # extract: an API request in flight, an item being written, the package about to be / just committed
    CrashPoint("api_get", "extract", "class_source.client:ClassApiClient.get", "before", (1, 22)),
    CrashPoint("extract_write", "extract", "dlt.extract.storage:ExtractorItemStorage.write_data_item", "before", (1, 9)),
    CrashPoint("extract_commit", "extract", "dlt.extract.extract:Extract.commit_packages", "before"),
    CrashPoint("extract_committed", "extract", "dlt.extract.extract:Extract.commit_packages", "after",
               leaves=frozenset({EXTRACTED})),
    # normalize: an Arrow or JSON item file being normalized, the normalized package (about to be) committed
    CrashPoint("normalize_arrow", "normalize", "dlt.normalize.items_normalizers.arrow:ArrowItemsNormalizer.__call__",
               "before", (1, 6), frozenset({EXTRACTED})),
    CrashPoint("normalize_jsonl", "normalize", "dlt.normalize.items_normalizers.jsonl:JsonLItemsNormalizer.__call__",
               "before", (1, 3), frozenset({EXTRACTED})),
    CrashPoint("normalize_commit", "normalize", "dlt.common.storages.load_storage:LoadStorage.commit_new_load_package",
               "before", leaves=frozenset({EXTRACTED})),
    # dlt renames the normalized package into place, then deletes the extracted one ("do not kill this process")
    CrashPoint("normalize_committed", "normalize", "dlt.common.storages.load_storage:LoadStorage.commit_new_load_package",
               "after", leaves=frozenset({EXTRACTED, NORMALIZED})),
    # load: package initialisation, a job starting, a job done in the database but not yet recorded by
    # dlt, follow-up (merge/replace SQL) jobs created, the _dlt_loads commit, the package archive
    CrashPoint("load_init", "load", "dlt.load.load:Load.initialize_package", "before", leaves=frozenset({NORMALIZED})),
    CrashPoint("load_job", "load", "dlt.common.destination.client:RunnableLoadJob.run_managed", "before", (1, 14),
               frozenset({NORMALIZED})),
    CrashPoint("load_job_executed", "load", "dlt.common.destination.client:RunnableLoadJob._release", "before", (1, 14),
               frozenset({NORMALIZED})),
    CrashPoint("load_followups", "load", "dlt.load.load:Load.create_followup_jobs", "after", (1, 14),
               frozenset({NORMALIZED})),
    CrashPoint("load_complete", "load", "dlt.destinations.job_client_impl:SqlJobClientBase.complete_load", "before",
               leaves=frozenset({NORMALIZED})),
    CrashPoint("load_completed", "load", "dlt.destinations.job_client_impl:SqlJobClientBase.complete_load", "after",
               leaves=frozenset({NORMALIZED})),
    CrashPoint("load_archived", "load", "dlt.common.storages.load_storage:LoadStorage.complete_load_package", "after"),
)
# Aimed at one table: the copy of `classes` into the staging dataset has run in DuckDB but dlt has not
# recorded it yet; the replace of `classes` / the merge of `metrics` (one SQL call: DELETE, then INSERT)
# has run its DELETE, not its INSERT.
AIMED_POINTS: dict[str, CrashPoint] = _points(
    CrashPoint("classes_copied", "load", "dlt.common.destination.client:RunnableLoadJob._release", "before",
               leaves=frozenset({NORMALIZED}), match="started_jobs/classes."),
    CrashPoint("classes_replace_half_done", "load", _DUCKDB_SQL, "first_statement", leaves=frozenset({NORMALIZED}),
               match='INSERT INTO "class_data"."classes"('),
    CrashPoint("metrics_merge_half_done", "load", _DUCKDB_SQL, "first_statement", leaves=frozenset({NORMALIZED}),
               match='INSERT INTO "class_data"."metrics"('),
    # a metrics job has run in DuckDB, dlt has not recorded it: n=1 the copy into the staging dataset,
    # n=2 the merge into class_data.metrics (committed)
    CrashPoint("metrics_job_done", "load", "dlt.common.destination.client:RunnableLoadJob._release", "before",
               (1, 2), leaves=frozenset({NORMALIZED}), match="started_jobs/metrics."),
    # the copy of the rosters into the staging dataset (scd2 merges from there) has run, dlt has not
    # recorded it
    CrashPoint("enrollments_copied", "load", "dlt.common.destination.client:RunnableLoadJob._release", "before",
               leaves=frozenset({NORMALIZED}), match="started_jobs/enrollments."),
    # Postgres, any dataset: the merge of metrics (one SQL call: the adoption of the staged table, which
    # swaps it in on a first load, then DELETE, then INSERT) killed after its DELETE
    CrashPoint("postgres_metrics_merge_half_done", "load", _POSTGRES_SQL, "first_statement",
               leaves=frozenset({NORMALIZED}), match='."metrics"("class_id"', statements_run=2),
    # Postgres, any dataset: inside the replace of `classes` (DELETE, then INSERT from staging)
    CrashPoint("postgres_classes_replace_half_done", "load", _POSTGRES_SQL, "first_statement",
               leaves=frozenset({NORMALIZED}), match='."classes"("class_id"'),
)
ALL_POINTS = {**CRASH_POINTS, **AIMED_POINTS}


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def arm(point: CrashPoint, n: int, counts: Optional[dict[str, int]] = None) -> None:
    """Patch `point.target` so that its n-th call SIGKILLs this process (n=0: only count calls)."""
    module_name, qualname = point.target.split(":")
    owner: Any = importlib.import_module(module_name)
    *path, attribute = qualname.split(".")
    for name in path:
        owner = getattr(owner, name)
    original = getattr(owner, attribute)
    lock = threading.Lock()
    seen = [0]

    def nth_call(args: tuple[Any, ...]) -> bool:
        if point.match is not None and point.match not in _describe_call(args):
            return False
        with lock:
            seen[0] += 1
            if counts is not None:
                counts[point.name] = seen[0]
            return seen[0] == n

    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def armed_async(*args: Any, **kwargs: Any) -> Any:
            fatal = nth_call(args)
            if fatal and point.when == "before":
                _die()
            result = await original(*args, **kwargs)
            if fatal:
                _die()
            return result

        setattr(owner, attribute, armed_async)
    else:

        @functools.wraps(original)
        def armed(*args: Any, **kwargs: Any) -> Any:
            fatal = nth_call(args)
            if fatal and point.when == "before":
                _die()
            if fatal and point.when == "first_statement":
                # dlt sends a job's statements to DuckDB or Postgres in one call, which runs them one by one:
                # die where that call would be after its first statement(s) (in the caller's transaction, if any)
                statements = [part for part in str(args[1]).split(";\n") if part.strip()]
                assert len(statements) > point.statements_run, f"{point.name}: too few statements: {args[1]!r:.300}"
                original(args[0], ";\n".join(statements[: point.statements_run]) + ";")
                _die()
            result = original(*args, **kwargs)
            if fatal:
                _die()
            return result

        setattr(owner, attribute, armed)


def _describe_call(args: tuple[Any, ...]) -> str:
    """What a call is about: the job file of a load job, the statement of an SQL call."""
    job_file = str(getattr(args[0], "_file_path", "")) if args else ""
    return " ".join([job_file, *(a for a in args[1:] if isinstance(a, str))])


def run_cli(argv: Sequence[str], point: Optional[str], n: int, counts_file: Optional[str] = None) -> int:
    """`class-elt <argv>` in this process, with `point` armed (None: a plain run)."""
    from class_source.cli import main

    counts: dict[str, int] = {}
    if point == "count":  # every point armed with n=0: report how often each was reached
        for crash_point in CRASH_POINTS.values():
            if crash_point.when == "before":
                arm(crash_point, 0, counts)
    elif point is not None:
        arm(ALL_POINTS[point], n)
    try:
        return main(list(argv))
    finally:
        if counts_file:
            Path(counts_file).write_text(json.dumps(counts))


# --- the fork server -------------------------------------------------------------------------------

RUN_TIMEOUT_S = 300.0


def serve() -> None:
    """Read one JSON request per line on stdin, fork a child per request, answer its exit code."""
    import class_source  # noqa: F401 - the point: import everything once, before forking
    import class_source.cli  # noqa: F401
    import dlt  # noqa: F401
    import dlt.destinations.impl.duckdb.duck  # noqa: F401
    import dlt.destinations.impl.duckdb.sql_client  # noqa: F401
    import dlt.load.load  # noqa: F401
    import dlt.normalize.items_normalizers.arrow  # noqa: F401
    import dlt.normalize.items_normalizers.jsonl  # noqa: F401
    import duckdb  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    assert threading.active_count() == 1, "forking is only safe from a single-threaded process"
    protocol = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:  # the child: becomes the class-elt run
            code = 70
            try:
                code = _child(request)
            finally:
                os._exit(code)
        protocol.write(json.dumps({"pid": pid, "returncode": _wait(pid, request.get("timeout", RUN_TIMEOUT_S))}) + "\n")
        protocol.flush()


def _wait(pid: int, timeout_s: float) -> int:
    """The child's exit code (negative: the signal that killed it); SIGKILL it after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return TIMED_OUT
        time.sleep(0.02)


def _child(request: dict[str, Any]) -> int:
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    code = 1
    try:
        code = run_cli(request["argv"], request.get("point"), int(request.get("n") or 0), request.get("counts"))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - like the interpreter: print the traceback, exit 1
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return code


TIMED_OUT = -1000


@dataclass
class RunResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def killed(self) -> bool:
        return self.returncode == SIGKILLED

    def describe(self) -> str:
        return f"exit code {self.returncode}; stderr:\n{self.stderr[-3000:]}"


class ForkServer:
    """Runs `class-elt` in forked children of one pre-imported interpreter (see the module doc).

    Each run gets its own environment and working directory, so one server serves many tests."""

    def __init__(self, outputs: Path) -> None:
        self.outputs = outputs
        outputs.mkdir(parents=True, exist_ok=True)
        self._runs = 0
        self._log = open(outputs / "fork-server.log", "w")
        self._process = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--serve"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True, cwd=str(ROOT),
        )

    def run(self, argv: Sequence[str], *, env: dict[str, str], cwd: Path, point: Optional[str] = None, n: int = 0,
            counts: Optional[Path] = None, timeout_s: float = RUN_TIMEOUT_S) -> RunResult:
        """`class-elt <argv>` in a fresh child process; with `point`, SIGKILLed at its n-th call."""
        self._runs += 1
        stdout, stderr = self.outputs / f"run{self._runs}.out", self.outputs / f"run{self._runs}.err"
        request = {"argv": list(argv), "point": point, "n": n, "env": env, "cwd": str(cwd), "timeout": timeout_s,
                   "stdout": str(stdout), "stderr": str(stderr), "counts": str(counts) if counts else None}
        assert self._process.stdin and self._process.stdout
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        answer = self._process.stdout.readline()
        if not answer:
            raise RuntimeError(f"the fork server died: {(self.outputs / 'fork-server.log').read_text()[-3000:]}")
        return RunResult(json.loads(answer)["returncode"], stdout.read_text(), stderr.read_text())

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()

    def __enter__(self) -> "ForkServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def script_command(point: str, n: int, *argv: str) -> list[str]:
    """The command line of one run through this script (a fresh interpreter)."""
    return [sys.executable, str(SCRIPT), point, str(n), "--", *argv]


# --- the pipeline's working directory --------------------------------------------------------------


def pipeline_dir(data_dir: Path, pipeline: str = PIPELINE) -> Path:
    return data_dir / "pipelines" / pipeline


def pending_packages(data_dir: Path) -> dict[str, list[str]]:
    """Load ids of the packages waiting to be normalized (extracted) or loaded (normalized)."""
    root = pipeline_dir(data_dir)
    found: dict[str, list[str]] = {}
    for kind, folder in ((EXTRACTED, root / "normalize" / "extracted"), (NORMALIZED, root / "load" / "normalized")):
        found[kind] = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    return found


def local_cursors(data_dir: Path) -> dict[str, int]:
    """The per-class metrics cursors (epoch ms) in the pipeline's local state file."""
    state_file = pipeline_dir(data_dir) / "state.json"
    if not state_file.exists():
        return {}
    return _cursors_of(json.loads(state_file.read_text()))


def _cursors_of(state: dict[str, Any]) -> dict[str, int]:
    metrics = state.get("sources", {}).get("class_api", {}).get("resources", {}).get("metrics", {})
    return dict(metrics.get("last_event_start_ms", {}))


def newest_events_in_packages(data_dir: Path, kinds: Iterable[str] = (EXTRACTED, NORMALIZED)) -> dict[str, int]:
    """Newest metrics event_start (epoch ms) per class in the pending packages' metrics files."""
    import pyarrow.parquet as pq

    root = pipeline_dir(data_dir)
    folders = {EXTRACTED: root / "normalize" / "extracted", NORMALIZED: root / "load" / "normalized"}
    newest: dict[str, int] = {}
    for kind in kinds:
        for path in (p for jobs in ("new_jobs", "started_jobs", "completed_jobs")
                     for p in folders[kind].glob(f"*/{jobs}/metrics.*.parquet")):
            table = pq.read_table(path, columns=["class_id", "event_start"])
            grouped = table.group_by("class_id").aggregate([("event_start", "max")])
            for class_id, start in zip(grouped["class_id"].to_pylist(), grouped["event_start_max"].to_pylist()):
                ms = _epoch_ms(start)
                newest[class_id] = max(newest.get(class_id, ms), ms)
    return newest


def _epoch_ms(value: Any) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return int(value.timestamp() * 1000 + 0.5)


# --- the destination -------------------------------------------------------------------------------


def _connect(database: Path):  # type: ignore[no-untyped-def]
    import duckdb

    return duckdb.connect(str(database), read_only=True)


def _has_table(con: Any, table: str, dataset: str = DATASET) -> bool:
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [dataset, table]
    ).fetchone()[0])


def dataset_exists(database: Path, dataset: str = DATASET) -> bool:
    """Whether the destination dataset was created (dlt resets a pipeline whose dataset is missing:
    its pending packages and local state go, and the next extract starts from scratch)."""
    if not database.exists():
        return False
    with _connect(database) as con:
        return bool(con.execute("select count(*) from information_schema.schemata where schema_name = ?",
                                [dataset]).fetchone()[0])


def destination_cursors(database: Path, dataset: str = DATASET) -> dict[str, int]:
    """The cursors of the newest *committed* state in the destination, read the way dlt restores it:
    the newest `_dlt_pipeline_state` row whose load is in `_dlt_loads` with status 0."""
    from dlt.common.versioned_state import decompress_state

    if not database.exists():
        return {}
    with _connect(database) as con:
        if not (_has_table(con, "_dlt_pipeline_state", dataset) and _has_table(con, "_dlt_loads", dataset)):
            return {}
        row = con.execute(
            f'select s.state from "{dataset}"._dlt_pipeline_state s join "{dataset}"._dlt_loads l '
            "on l.load_id = s._dlt_load_id where s.pipeline_name = ? and l.status = 0 order by l.load_id desc limit 1",
            [PIPELINE],
        ).fetchone()
    return _cursors_of(decompress_state(row[0])) if row else {}


def newest_events_in_destination(database: Path, dataset: str = DATASET) -> dict[str, int]:
    """Newest event_start (epoch ms) per class in the destination's metrics table."""
    if not database.exists():
        return {}
    with _connect(database) as con:
        if not _has_table(con, "metrics", dataset):
            return {}
        rows = con.execute(
            f'select class_id, epoch_ms(max(event_start)) from "{dataset}".metrics group by class_id'
        ).fetchall()
    return {class_id: int(ms) for class_id, ms in rows}


def completed_loads(database: Path, dataset: str = DATASET) -> dict[str, datetime]:
    """load_id -> inserted_at of every load the destination committed (status 0)."""
    if not database.exists():
        return {}
    with _connect(database) as con:
        if not _has_table(con, "_dlt_loads", dataset):
            return {}
        rows = con.execute(f'select load_id, min(inserted_at) from "{dataset}"._dlt_loads where status = 0 group by load_id').fetchall()
    return dict(rows)


def snapshot(database: Path, dataset: str = DATASET) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the dataset (dlt's own tables included), sorted: to prove a
    failed run changed nothing."""
    if not database.exists():
        return {}
    with _connect(database) as con:
        tables = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ? order by 1", [dataset]
        ).fetchall()]
        return {t: sorted(con.execute(f'select * from "{dataset}"."{t}"').fetchall(), key=repr) for t in tables}


# --- secrets ---------------------------------------------------------------------------------------

_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/=]{40,}")


def _decoded_variants(blob: bytes) -> Iterator[bytes]:
    """`blob` plus what gzip, zlib (+base64, dlt's compressed state) and parquet hide inside it."""
    yield blob
    if blob[:2] == b"\x1f\x8b":
        try:
            yield from _decoded_variants(gzip.decompress(blob))
        except (OSError, EOFError):
            pass
    if blob[:4] == b"PAR1":
        import io

        import pyarrow.parquet as pq

        try:
            yield json.dumps(pq.read_table(io.BytesIO(blob)).to_pylist(), default=str).encode()
        except Exception:  # noqa: BLE001 - a truncated file left by a kill
            pass
    for run in _BASE64_RUN.findall(blob):
        try:
            yield zlib.decompress(base64.b64decode(run + b"=" * (-len(run) % 4)))
        except (ValueError, zlib.error):
            pass


def _duckdb_text(database: Path) -> Iterator[bytes]:
    """Every value of every table of a DuckDB file, as text (its storage compresses strings)."""
    from dlt.common.versioned_state import decompress_state

    with _connect(database) as con:
        tables = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        for schema, table in tables:
            rows = con.execute(f'select * from "{schema}"."{table}"').fetchall()
            yield repr(rows).encode()
            if table == "_dlt_pipeline_state":
                for (state,) in con.execute(f'select state from "{schema}"."{table}"').fetchall():
                    yield json.dumps(decompress_state(state)).encode()


def files_containing(secret: str, root: Path) -> list[str]:
    """Files under `root` in which `secret` appears, plain or inside compressed/encoded content."""
    needle = secret.encode()
    leaks = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        variants = list(_decoded_variants(path.read_bytes()))
        if path.suffix == ".duckdb":
            variants.extend(_duckdb_text(path))
        if any(needle in variant for variant in variants):
            leaks.append(str(path.relative_to(root)))
    return leaks


# --- entry point -----------------------------------------------------------------------------------


def main(argv: Sequence[str]) -> int:
    if list(argv[:1]) == ["--serve"]:
        serve()
        return 0
    if len(argv) < 3 or argv[2] != "--":
        print("usage: reliability_support.py <point|none|count> <n> -- <class-elt arguments>", file=sys.stderr)
        return 2
    point = None if argv[0] == "none" else argv[0]
    return run_cli(argv[3:], point, int(argv[1]), os.environ.get("CRASH_COUNTS_FILE"))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
