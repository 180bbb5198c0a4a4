"""Where a class-elt project keeps its pipelines: in the project folder, beside its warehouse.

dlt's default is one folder per user (`~/.dlt/pipelines`), shared by every project of that user,
so a second project folder would load into the first one's warehouse. class-elt keeps a project's
pipeline state under `./.class-elt/pipelines` instead, unless `DLT_DATA_DIR` says otherwise.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

PROJECT_STATE = ".class-elt"
DEMO_PIPELINE = "class_demo"


def pipelines_dir() -> Path:
    """The pipelines folder of the project in the current directory (or under DLT_DATA_DIR)."""
    data_dir = os.environ.get("DLT_DATA_DIR")
    root = Path(data_dir) if data_dir else Path.cwd() / PROJECT_STATE
    return (root / "pipelines").resolve()


def pipeline(pipeline_name: str, destination: Any, dataset_name: str) -> Any:
    """dlt's pipeline `pipeline_name` of this project."""
    import dlt

    return dlt.pipeline(pipeline_name=pipeline_name, destination=destination, dataset_name=dataset_name, pipelines_dir=str(pipelines_dir()))


def has_run(pipeline_name: str) -> bool:
    """Whether `pipeline_name` has loaded anything from this project (it has a schema)."""
    from .dlt_compat import schemas_dir

    schemas = schemas_dir(pipelines_dir(), pipeline_name)
    return schemas.is_dir() and any(schemas.iterdir())
