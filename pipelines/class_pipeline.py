"""Load a Class account into DuckDB (or any dlt destination) and build the SQL models.

Run it as a plain script (`python pipelines/class_pipeline.py`) or deploy it on a schedule with
`dlt deploy pipelines/class_pipeline.py github-action --schedule "0 * * * *"`. Configuration comes
from .dlt/config.toml, .dlt/secrets.toml or environment variables (see the README).
"""

import dlt

from class_source import class_source
from class_source.models import build_models

if __name__ == "__main__":
    pipeline = dlt.pipeline(pipeline_name="class_elt", destination="duckdb", dataset_name="class_data")
    load_info = pipeline.run(class_source())
    print(load_info)
    for model in build_models(pipeline):
        print(f"{model.name}: {model.rows} rows")
