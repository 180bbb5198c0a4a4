"""Report and BI-copy benchmark (not a test): the HTML report and the published DuckDB copy of a
1,000-class school.

    uv run python benchmarks/report_at_scale.py [--classes 1000] [--seed 7] [--repeat 3]

Loads an emulator school in process (ASGI transport, no sockets) into a fresh DuckDB file in a
temporary directory and builds the models, untimed; then times `write_report` and `publish` on
it `--repeat` times each and prints every time, the median, the report's size (and how much of it
is Plotly's inlined JavaScript), the rows behind it and the published copy's size.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16, help="connector max_concurrency")
    args = parser.parse_args()

    os.environ["DESTINATION__REPLACE_STRATEGY"] = "insert-from-staging"  # as the CLI does
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")

    import dlt
    import plotly.offline

    from class_source import class_source
    from class_source.emulator import Emulator
    from class_source.models import build_models
    from class_source.publish import publish
    from class_source.report import query_report_data, write_report

    workdir = Path(tempfile.mkdtemp(prefix="report_at_scale_"))
    try:
        pipeline = dlt.pipeline(
            pipeline_name="report_at_scale", destination=dlt.destinations.duckdb(str(workdir / "warehouse.duckdb")),
            dataset_name="class_data", pipelines_dir=str(workdir / "pipelines"),
        )
        emulator = Emulator(seed=args.seed, classes=args.classes, cache_classes=args.classes + 64)
        source = class_source(
            base_url="http://127.0.0.1:1", api_key=emulator.mint_key(), max_concurrency=args.concurrency,
            transport=emulator.transport(),
        )
        started = time.perf_counter()
        pipeline.run(source)
        build_models(pipeline)
        print(f"school: {args.classes:,} classes (seed {args.seed}), loaded and modelled in {time.perf_counter() - started:.1f}s (untimed)")

        rows = {part: len(table) for part, table in query_report_data(pipeline).tables.items()}
        print("rows behind the report: " + ", ".join(f"{part} {count:,}" for part, count in rows.items()))

        report_s = _times(lambda: write_report(pipeline, workdir / "report.html"), args.repeat)
        size = (workdir / "report.html").stat().st_size
        plotly_size = len(plotly.offline.get_plotlyjs().encode("utf-8"))
        print(f"report: {_summary(report_s)}; {size / 1e6:.2f} MB ({plotly_size / 1e6:.2f} MB of it Plotly, "
              f"{(size - plotly_size) / 1e6:.2f} MB data and page)")

        publish_s = _times(lambda: publish(pipeline, workdir / "bi.duckdb"), args.repeat)
        print(f"publish: {_summary(publish_s)}; copy {(workdir / 'bi.duckdb').stat().st_size / 1e6:.1f} MB, "
              f"warehouse {(workdir / 'warehouse.duckdb').stat().st_size / 1e6:.1f} MB")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _times(action, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    return seconds


def _summary(seconds: list[float]) -> str:
    return f"median {statistics.median(seconds):.2f}s of {', '.join(f'{s:.2f}' for s in seconds)}"


if __name__ == "__main__":
    sys.exit(main())
