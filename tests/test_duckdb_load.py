"""DuckDB loads (class_source/duckdb_load.py): where metrics files are copied, first load and after.

A first load copies each metrics file straight into the empty table; once it holds rows, files go
through the staging dataset and the merge, which replaces the re-read lookback. Either way the
table holds exactly the ground truth's events, and the merge skips dlt's staging dedupe (every
file was copied through the ledger, copy_once.py).
"""

from __future__ import annotations

from pathlib import Path

import dlt
import duckdb

from class_source import embedded_source
from class_source.destination_fit import adapt_source
from class_source.destinations import make_destination
from class_source.emulator import Emulator
from class_source.runner import load
from tests.support import assert_matches_truth

HOUR = 3600


def _counts(database: Path) -> tuple[int, int]:
    """Rows in the metrics table and in its staging table."""
    with duckdb.connect(str(database), read_only=True) as con:
        return (
            con.execute('select count(*) from "class_data"."metrics"').fetchone()[0],
            con.execute('select count(*) from "class_data_staging"."metrics"').fetchone()[0],
        )


def _metrics_merges(pipelines_dir: Path) -> list[str]:
    """The SQL of every metrics merge dlt ran (its completed follow-up jobs, kept with each package)."""
    return [path.read_text() for path in sorted(pipelines_dir.glob("*/load/loaded/*/completed_jobs/metrics.*.sql"))]


def test_a_first_load_copies_metrics_straight_into_the_table_and_later_loads_merge_through_staging(tmp_path):
    emulator = Emulator(seed=42, classes=3)
    database = tmp_path / "warehouse.duckdb"
    destination, run_kwargs = make_destination("duckdb", credentials=str(database))
    pipeline = dlt.pipeline(pipeline_name="direct", destination=destination, dataset_name="class_data",
                            pipelines_dir=str(tmp_path / "pipelines"))

    def run() -> None:
        source = embedded_source(base_url="http://127.0.0.1:1", api_key=emulator.mint_key(), transport=emulator.transport(),
                                 recheck_days=0)
        load(pipeline, adapt_source(source.with_resources("classes", "metrics"), pipeline.destination, run_kwargs),
             build_models=False, say=lambda line: None)

    run()
    stored, staged = _counts(database)
    visible = len(emulator.school.ground_truth()["metrics"])
    assert visible > 0
    assert (stored, staged) == (visible, 0)  # nothing went through staging
    assert_matches_truth(database, emulator.school.ground_truth(), tables=["metrics"])

    emulator.clock.advance(24 * HOUR)  # new events, and the lookback re-reads events already stored
    run()
    stored, staged = _counts(database)
    assert staged > 0  # the second load merged through staging
    assert_matches_truth(database, emulator.school.ground_truth(), tables=["metrics"])
    merges = _metrics_merges(tmp_path / "pipelines")
    assert len(merges) == 2 and all("ROW_NUMBER" not in merge.upper() for merge in merges), merges  # no staging dedupe
