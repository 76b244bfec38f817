"""Runs launched by the daemon execute their steps in the run's own process.

The default (multiprocess) executor starts one more Python process per step, each loading the
definitions again (~10-20 s): latency from a dropped file to updated marts (issue 13.11). Steps
cannot run in parallel anyway (DuckDB has one writer; the `warehouse` pool holds one slot)."""

import dagster as dg

defs = dg.Definitions(executor=dg.in_process_executor)
