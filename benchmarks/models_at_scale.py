"""Model-build benchmark (not a test): the SQL models over a 1,000-class school.

    uv run python benchmarks/models_at_scale.py [--classes 1000] [--seed 7] [--destination duckdb|postgres] [--keep]

Loads an emulator school (in process: the connector talks to the emulator through its ASGI
transport, no sockets) into a fresh DuckDB file in a temporary directory, or into a fresh dataset
on the local Postgres (dropped afterwards), then times `build_models(pipeline)`: every model is
built and grain-checked, and any ModelError fails the run. Prints the raw rows loaded, rows and
seconds per model, the total build seconds and the load seconds.

The emulator's activity is generated once before the clock starts (the cache holds the whole
school), so the load time is the connector, dlt and the destination, not the synthetic generator.
"""

from __future__ import annotations

import argparse
import os
import shutil
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--destination", choices=("duckdb", "postgres"), default="duckdb")
    parser.add_argument("--concurrency", type=int, default=16, help="connector max_concurrency")
    parser.add_argument("--keep", action="store_true", help="keep the DuckDB file / Postgres dataset and print where it is")
    args = parser.parse_args()

    os.environ["DESTINATION__REPLACE_STRATEGY"] = "insert-from-staging"  # as the CLI does
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")

    import dlt

    from class_source import embedded_source
    from class_source.emulator import Emulator
    from class_source.models import build_models

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
    emulator = Emulator(seed=args.seed, classes=args.classes, cache_classes=args.classes + 64)
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

        started = time.perf_counter()
        built = build_models(pipeline)  # raises ModelError if any grain check fails
        build_s = time.perf_counter() - started
        print(f"\nmodels: {len(built)} built, every grain check passed")
        print(f"  {'model':<28} {'kind':<6} {'rows':>12} {'seconds':>8}")
        for model in built:
            print(f"  {model.name:<28} {model.kind:<6} {model.rows:>12,} {model.seconds:>8.2f}")
        print(f"\ntotal build seconds: {build_s:.1f}")
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
