"""Load a Class account into DuckDB (or any destination class-elt supports) and build the SQL models.

Run it as a plain script (`python pipelines/class_pipeline.py`) or deploy it on a schedule with
`dlt deploy pipelines/class_pipeline.py github-action --schedule "0 * * * *"`. Configuration comes
from .dlt/config.toml, .dlt/secrets.toml or environment variables (see the README); the destination
from CLASS_ELT_DESTINATION (duckdb, postgres, filesystem, motherduck, bigquery, snowflake; default
duckdb), as `class-elt run --destination` takes it.
"""

import os

import dlt

from class_source import class_source
from class_source.destinations import adapt_source, make_destination, models_target
from class_source.models import build_models

if __name__ == "__main__":
    destination, run_kwargs = make_destination(os.environ.get("CLASS_ELT_DESTINATION", "duckdb"))
    pipeline = dlt.pipeline(pipeline_name="class_elt", destination=destination, dataset_name="class_data")
    load_info = pipeline.run(adapt_source(class_source(), pipeline.destination, run_kwargs), **run_kwargs)
    print(load_info)
    for model in build_models(models_target(pipeline)):
        print(f"{model.name}: {model.rows} rows")
