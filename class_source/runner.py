"""One run of the connector, whoever starts it: `class-elt run`, `class-elt demo`,
`pipelines/class_pipeline.py` or your own code.

`load(pipeline, source)` holds the pipeline's working directory and its destination dataset for
the whole run (lock.py), completes what an interrupted run left behind, migrates what an older
class-elt wrote, extracts, normalizes and loads, then builds the SQL models and prints a summary.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from . import RESOURCES, interrupts
from .lock import dataset_lock, dataset_lock_path, run_lock
from .recovery import recover_interrupted_run

__all__ = ["Loaded", "build", "extract_and_load", "load"]


def load(
    pipeline: Any,
    source: Any,
    progress: Any = None,
    *,
    full_refresh: bool = False,
    build_models: bool = True,
    run_kwargs: dict[str, Any] | None = None,
    models: Any = None,
    say: Callable[[str], None] = print,
    publish: str | Path | None = None,
    report: str | Path | None = None,
) -> Any:
    """Extract, normalize and load `source` into `pipeline` (with live `progress`), then build the
    models and `say` a summary; returns dlt's LoadInfo. `run_kwargs` are make_destination's (e.g.
    table_format); `models` is where the models are built (lake.models_target: the pipeline
    itself, or a lake's DuckDB file). Then, if given, the marts are copied to the DuckDB file
    `publish` (publish.py) and the HTML report is written to `report` (report.py)."""
    started = time.monotonic()
    where = dataset_lock_path(pipeline)[1]
    with run_lock(pipeline.working_dir, pipeline.pipeline_name), dataset_lock(pipeline):
        recover_interrupted_run(pipeline)
        if full_refresh:
            from .models import drop_models

            drop_models(pipeline)  # Postgres won't drop raw tables while the staging views read them
        else:
            _migrate_metrics_key(pipeline, say)
        events_before = 0 if full_refresh else _stored_events(pipeline)
        try:
            loaded = extract_and_load(pipeline, source, refresh="drop_sources" if full_refresh else None, run_kwargs=run_kwargs)
        finally:
            if progress is not None:
                progress.finish()
        info = loaded.info
        load_seconds = time.monotonic() - started
        packages = f" ({loaded.packages} load packages)" if loaded.packages > 1 else ""
        say(f"loaded {info.dataset_name} on {pipeline.destination.destination_name} in {load_seconds:.1f}s{packages}: {where}")
        _say_table_counts(pipeline, loaded.row_counts, events_before, say)
        for line in progress.activity_summary() if progress is not None else []:
            say(f"  {line}")
        retried = progress.retry_summary() if progress is not None else None
        if retried:
            say(f"  {retried}")
        target = models if models is not None else pipeline
        if build_models:
            build(target, say)
        if publish is not None:
            _publish(target, publish, say)
        if report is not None:
            _report(target, report, say)
    return info


@dataclass
class Loaded:
    """What `extract_and_load` did: dlt's LoadInfo of its last package, and over all its packages the
    rows normalized per table and dlt's traces (one per package)."""

    info: Any
    packages: int = 1
    row_counts: Counter[str] = field(default_factory=Counter)
    traces: list[Any] = field(default_factory=list)


def extract_and_load(
    pipeline: Any,
    source: Any,
    *,
    refresh: Optional[str] = None,
    run_kwargs: dict[str, Any] | None = None,
) -> Loaded:
    """Extract, normalize and load `source` (under the load's DuckDB memory limit): in one load
    package, or, on a first load (no event stored yet) into a destination that allows it, in several,
    each loaded while the next part of the metrics is fetched (parts.py)."""
    from .duckdb_load import load_memory_limit
    from .loaded_tables import metrics_table_is_empty
    from .parts import load_in_parts, loads_in_parts

    def first_load() -> bool:
        return refresh is not None or metrics_table_is_empty(pipeline)

    with load_memory_limit(), load_in_parts(pipeline, first_load if loads_in_parts(pipeline.destination) else None) as parts:
        loaded = Loaded(pipeline.run(source, refresh=refresh, **(run_kwargs or {})))
        _add_package(loaded, pipeline)
        while parts.continues():
            loaded.info = pipeline.run(parts.next_part(source), **(run_kwargs or {}))
            loaded.packages += 1
            _add_package(loaded, pipeline)
    return loaded


def _add_package(loaded: Loaded, pipeline: Any) -> None:
    trace = pipeline.last_trace
    loaded.traces.append(trace)
    normalized = trace.last_normalize_info if trace else None
    loaded.row_counts.update(normalized.row_counts if normalized else {})


def build(target: Any, say: Callable[[str], None] = print) -> list[Any]:
    """Build the SQL models on `target` (a pipeline, or lake.LakeModels) and say so."""
    from .models import build_models

    interrupts.step("models")
    started = time.monotonic()
    built = build_models(target, progress=lambda line: print(f"  {line}", file=sys.stderr))
    say(f"built {len(built)} models in {time.monotonic() - started:.1f}s, every grain check passed")
    return built


def _publish(target: Any, path: str | Path, say: Callable[[str], None]) -> None:
    from .publish import configured_storage_version, publish

    started = time.monotonic()
    version = configured_storage_version()
    written = publish(target, path, storage_version=version)
    say(f"published the marts to {written} in {time.monotonic() - started:.1f}s (DuckDB storage {version})")


def _report(target: Any, path: str | Path, say: Callable[[str], None]) -> None:
    from .report import write_report

    started = time.monotonic()
    written = write_report(target, path)
    say(f"wrote the report {written} in {time.monotonic() - started:.1f}s")


def _migrate_metrics_key(pipeline: Any, say: Callable[[str], None]) -> None:
    """Warehouses loaded before `event_value` joined the event's natural key may hold events without
    a value as NULL; the key needs them as '' (what the source now loads), or a re-read would land
    them again. Runs once: afterwards the pipeline's schema has the new key."""
    if not pipeline.default_schema_name:
        return
    table = pipeline.default_schema.tables.get("metrics")
    columns = (table or {}).get("columns", {})
    if "event_value" not in columns or columns["event_value"].get("primary_key"):
        return
    from .loaded_tables import fill_null_event_values

    filled = fill_null_event_values(pipeline)
    say(
        "metrics: event_value is now part of an event's key (two values at one instant are two events); "
        f"{filled} stored event(s) without a value now have event_value ''. Nothing else changes."
    )


def _stored_events(pipeline: Any) -> int:
    from .loaded_tables import row_counts

    return row_counts(pipeline, ["metrics"]).get("metrics", 0)


def _say_table_counts(pipeline: Any, loaded: Counter[str], events_before: int, say: Callable[[str], None]) -> None:
    from .loaded_tables import row_counts

    say(f"  {'table':<20} {'loaded now':>12} {'rows in table':>14}")
    totals = row_counts(pipeline, RESOURCES)
    for table, total in totals.items():
        say(f"  {table:<20} {loaded.get(table, 0):>12,} {total:>14,}")
    if loaded.get("metrics") and "metrics" in totals:
        new = max(totals["metrics"] - events_before, 0)  # merged: an event is stored once, never removed
        say(f"  metrics: {new:,} new events, {loaded['metrics'] - new:,} re-read (lookback and page overlaps)")
