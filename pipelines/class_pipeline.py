"""Load a Class account into DuckDB (or any destination class-elt supports) and build the SQL models.

Run it as a plain script (`python pipelines/class_pipeline.py`) or deploy it on a schedule with
`dlt deploy pipelines/class_pipeline.py github-action --schedule "0 * * * *"`. Configuration comes
from .dlt/config.toml, .dlt/secrets.toml or environment variables (see the README); the destination
from CLASS_ELT_DESTINATION (duckdb, postgres, filesystem, motherduck, bigquery, snowflake; default
duckdb), as `class-elt run --destination` takes it. It runs through the same entry point as
`class-elt run` (class_source.runner.load): one run at a time per dataset, interrupted runs
completed first, models built after the load.
"""

import os
import sys

from class_source import class_source, project
from class_source.destination_fit import adapt_source
from class_source.destinations import make_destination
from class_source.lake import models_target
from class_source.cli import expected_failure
from class_source.runner import load


def main() -> int:
    destination, run_kwargs = make_destination(os.environ.get("CLASS_ELT_DESTINATION", "duckdb"))
    pipeline = project.pipeline("class_elt", destination, "class_data")  # state in ./.class-elt, as class-elt's
    source = adapt_source(class_source(), pipeline.destination, run_kwargs)
    load(pipeline, source, run_kwargs=run_kwargs, models=models_target(pipeline))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as exc:  # expected failures (bad key, run already active, ...) are one line
        reason = expected_failure(exc)
        if reason is None:
            raise
        print(f"class_pipeline: error: {reason}", file=sys.stderr)
        sys.exit(1)
