"""The one entry point: everything under defs/ (ingest, dbt, ml, dashboards, automation)."""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    # The defs folder itself, not the project root: `load_from_defs_folder` also imports every
    # installed Dagster library's component catalog for the UI (dagster-gcp, BigQuery, pandas),
    # ~1 s of CPU in every process that loads the definitions (each run, `estore run`).
    tree = dg.ComponentTree.for_project(path_within_project=Path(__file__).parent)
    return tree.build_defs(tree.defs_module_path)
