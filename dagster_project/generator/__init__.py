"""Realistic, fast, deterministic generator of REES46 "multi-category store" event files.

    from dagster_project.generator import GeneratorConfig, generate
    report = generate(GeneratorConfig(output_dir=Path("data/bucket"), days=31, events=1_000_000),
                      progress=lambda done, total: ...)

Files land in `output_dir/prefix` as `2019-10-01.csv` (per day) or `2019-Oct.csv` (per month),
`.csv.gz` when gzipped, written atomically (`.<name>.tmp` then rename). The users' latent traits
go to `output_dir/ground_truth/users.parquet`. Same config -> byte-identical output.

Modules: config (public types), params (model constants), timeline (calendar intensity),
catalog + sampling (products), population (users, traits, sessions), behaviour (events of a
session), quirks (data-quality oddities), formatting (CSV rendering), sink (files), engine (driver).
"""

from __future__ import annotations

from .config import BYTES_PER_ROW, DEFAULT_EVENTS_PER_DAY, HEADER, GenerateReport, GeneratorConfig
from .engine import GROUND_TRUTH_FILE, generate
from .params import ModelParams
from .sink import data_file_name

__all__ = [
    "BYTES_PER_ROW",
    "DEFAULT_EVENTS_PER_DAY",
    "GROUND_TRUTH_FILE",
    "HEADER",
    "GenerateReport",
    "GeneratorConfig",
    "ModelParams",
    "data_file_name",
    "generate",
]
