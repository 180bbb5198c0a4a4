"""Model-build benchmark (not a test): the SQL models over a 1,000-class school.

    uv run python benchmarks/models_at_scale.py [--classes 1000] [--seed 7] [--destination duckdb|postgres] [--keep]
        [--weeks 4] [--models-dir DIR ...] [--repeat 1]

Loads an emulator school (in process: the connector talks to the emulator through its ASGI
transport, no sockets) into a fresh DuckDB file in a temporary directory, or into a fresh dataset
on the local Postgres (dropped afterwards), then times `build_models(pipeline)`: every model is
built and grain-checked, and any ModelError fails the run. Prints the raw rows loaded, rows and
seconds per model, the total build wall and CPU seconds (with the load average) and the load seconds.

`--weeks W` moves the emulator's clock to week W of the term (default 4: the emulator's default
clock, ~9 sessions per class; 45 gives ~90), for the per-event cost as terms grow. `--models-dir`
(repeatable) builds other model folders on the same load too, e.g. an older commit's `sql/`
(`git archive <commit> sql | tar -x -C /tmp/old`), alternating with `--repeat` rounds so that
both see the same machine load; the summary gives each folder's median. Each model's line gives
its wall and CPU seconds (create, grain check, comments; CPU of the whole process, DuckDB's
threads included), and a last line the CPU of the YAML checks, setup queries and commit.

The emulator's activity is generated once before the clock starts (the cache holds the whole
school), so the load time is the connector, dlt and the destination, not the synthetic generator.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

POSTGRES_URL = "postgresql://postgres:unused@127.0.0.1:5432/test"  # trust auth; dlt wants a password


def drop_datasets(pipeline) -> None:  # type: ignore[no-untyped-def]
    """Drop the Postgres dataset and dlt's staging dataset (models, views and raw tables with them)."""
    with pipeline.sql_client() as client:
        for schema in (pipeline.dataset_name, f"{pipeline.dataset_name}_staging"):
            client.execute_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def process_cpu_seconds() -> float:
    """User + system CPU of this process, DuckDB's worker threads included (the emulator is idle
    while models build): on a shared machine a steadier measure than wall seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_average() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--destination", choices=("duckdb", "postgres"), default="duckdb")
    parser.add_argument("--concurrency", type=int, default=16, help="connector max_concurrency")
    parser.add_argument("--keep", action="store_true", help="keep the DuckDB file / Postgres dataset and print where it is")
    parser.add_argument("--weeks", type=int, default=4, help="weeks of the term already past (the clock's week)")
    parser.add_argument("--models-dir", action="append", default=[], help="another model folder to time (repeatable)")
    parser.add_argument("--repeat", type=int, default=1, help="build rounds (each folder once per round)")
    args = parser.parse_args()

    os.environ["DESTINATION__REPLACE_STRATEGY"] = "insert-from-staging"  # as the CLI does
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")

    import dlt

    from class_source import embedded_source
    from class_source.emulator import Emulator
    from class_source.emulator import default_now
    from class_source.models import SQL_DIR, build_models

    workdir = Path(tempfile.mkdtemp(prefix="models_at_scale_"))
    name = f"models_at_scale_{uuid.uuid4().hex[:10]}"
    if args.destination == "duckdb":
        destination = dlt.destinations.duckdb(str(workdir / "warehouse.duckdb"))
        dataset = "class_data"
    else:
        import psycopg2  # noqa: F401 - fail early (and import outside the clock) if the driver is missing

        destination = dlt.destinations.postgres(POSTGRES_URL)
        dataset = name  # unique: never touches anybody else's schema
    pipeline = dlt.pipeline(
        pipeline_name=name, destination=destination, dataset_name=dataset, pipelines_dir=str(workdir / "pipelines")
    )

    started = time.perf_counter()
    term_start = 1725235200  # Mon 2024-09-02 UTC, the emulator's default term start
    now = default_now(term_start) + (args.weeks - 4) * 7 * 86_400
    emulator = Emulator(
        seed=args.seed, classes=args.classes, cache_classes=args.classes + 64, now=now,
        term_start=term_start, term_weeks=max(15, args.weeks + 2),
    )
    school = emulator.school
    events = sum(len(school.activity(c).visible_indices(emulator.clock.now)) for c in school.class_ids())
    generate_s = time.perf_counter() - started
    print(f"school: {args.classes:,} classes (seed {args.seed}), {events:,} visible events, generated in {generate_s:.1f}s")
    print(f"destination: {args.destination}, dataset {dataset}" + (f", file {workdir / 'warehouse.duckdb'}" if args.destination == "duckdb" else ""))

    source = embedded_source(
        base_url="http://127.0.0.1:1", api_key=emulator.mint_key(), max_concurrency=args.concurrency,
        transport=emulator.transport(),
    )
    try:
        started = time.perf_counter()
        pipeline.run(source)
        load_s = time.perf_counter() - started
        counts = pipeline.last_trace.last_normalize_info.row_counts
        print(f"\nload: {load_s:.1f}s")
        for table, rows in sorted(counts.items()):
            if not table.startswith("_dlt"):
                print(f"  {table:<28} {rows:>12,}")

        sessions = counts.get("attendance", 0) and len(
            {(c, s["session_id"]) for c in school.class_ids() for s in school.attendance(school.find_class(class_id=c))["sessions"]}
        )
        print(f"sessions: {sessions:,} ({sessions / max(args.classes, 1):.1f} per class)")
        folders = [str(SQL_DIR)] + args.models_dir
        totals: dict[str, list[float]] = {folder: [] for folder in folders}
        cpu_totals: dict[str, list[float]] = {folder: [] for folder in folders}
        for _ in range(args.repeat):
            for folder in folders:
                started, cpu_started = time.perf_counter(), process_cpu_seconds()
                built = build_models(pipeline, models_dir=Path(folder))  # raises ModelError if any check fails
                build_s = time.perf_counter() - started
                cpu_s = process_cpu_seconds() - cpu_started
                totals[folder].append(build_s)
                cpu_totals[folder].append(cpu_s)
                print(f"\nmodels of {folder}: {len(built)} built, every check passed")
                print(f"  {'model':<32} {'kind':<6} {'rows':>12} {'seconds':>8} {'CPU s':>8}")
                for model in built:
                    print(f"  {model.name:<32} {model.kind:<6} {model.rows:>12,} {model.seconds:>8.2f} {model.cpu_seconds:>8.2f}")
                # the YAML checks run once all models are built; with the setup queries and the commit
                # they are the build's CPU outside every model's own
                print(f"  {'YAML checks, setup, commit':<32} {'':<6} {'':>12} {'':>8} {cpu_s - sum(m.cpu_seconds for m in built):>8.2f}")
                per_event = {m.name: m.seconds for m in built}.get("int_class__events", 0.0) / max(events, 1) * 1e6
                print(f"total build seconds: {build_s:.1f} ({build_s / max(events, 1) * 1e6:.2f} µs/event; "
                      f"int_class__events {per_event:.2f} µs/event); CPU seconds {cpu_s:.1f} "
                      f"({cpu_s / max(events, 1) * 1e6:.2f} µs/event); load average {load_average()}")
        print()
        for folder, seconds in totals.items():
            print(f"median build seconds of {folder}: {statistics.median(seconds):.1f} over {len(seconds)} round(s) "
                  f"({', '.join(f'{s:.1f}' for s in seconds)}); CPU seconds {statistics.median(cpu_totals[folder]):.1f} "
                  f"({', '.join(f'{s:.1f}' for s in cpu_totals[folder])})")
        print(f"load seconds: {load_s:.1f}")
    finally:
        if args.keep:
            print(f"kept: {workdir}" + (f", dataset {dataset}" if args.destination == "postgres" else ""))
        else:
            if args.destination == "postgres":
                drop_datasets(pipeline)
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
