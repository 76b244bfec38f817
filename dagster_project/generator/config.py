"""Public configuration and report types of the generator."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from dagster_project.lib.settings import DEFAULTS

# Default volume when neither `events` nor `target_bytes` is given.
DEFAULT_EVENTS_PER_DAY = 50_000
# Average size of one CSV row (with its newline) in the generated files, measured on a 2M-row
# output; the published October file has 5.67 GB / 42.4M rows = 134 bytes/row.
BYTES_PER_ROW = 134

HEADER = (
    "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"
)


@dataclass(frozen=True)
class GeneratorConfig:
    output_dir: Path  # the bucket root (a local folder)
    prefix: str = DEFAULTS["ESTORE_LANDING_PREFIX"]  # files go to output_dir/prefix
    start_date: date = date(2019, 10, 1)
    days: int = 60
    events: int | None = None  # approximate total number of events
    target_bytes: int | None = (
        None  # alternative to events: approximate total CSV (uncompressed) size
    )
    seed: int = 42
    file_per: Literal["day", "month"] = "day"
    compression: Literal["none", "gzip"] = "none"
    ground_truth_prefix: str = "ground_truth/"

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError("days must be >= 1")
        if self.events is not None and self.target_bytes is not None:
            raise ValueError("give either events or target_bytes, not both")
        if self.events is not None and self.events < 1:
            raise ValueError("events must be >= 1")
        if self.target_bytes is not None and self.target_bytes < BYTES_PER_ROW:
            raise ValueError(f"target_bytes must be >= {BYTES_PER_ROW}")
        if self.file_per not in ("day", "month"):
            raise ValueError("file_per must be 'day' or 'month'")
        if self.compression not in ("none", "gzip"):
            raise ValueError("compression must be 'none' or 'gzip'")
        if not 0 <= self.seed < 2**63:
            raise ValueError("seed must be a non-negative 63-bit integer")

    @property
    def target_events(self) -> int:
        if self.events is not None:
            return self.events
        if self.target_bytes is not None:
            return max(1, self.target_bytes // BYTES_PER_ROW)
        return DEFAULT_EVENTS_PER_DAY * self.days

    @property
    def landing_dir(self) -> Path:
        return Path(self.output_dir) / self.prefix

    @property
    def ground_truth_dir(self) -> Path:
        return Path(self.output_dir) / self.ground_truth_prefix


@dataclass(frozen=True)
class GenerateReport:
    files: list[Path]
    rows: int
    bytes: int  # size on disk of the data files (compressed size when gzip)
    seconds: float
    users: int
    ground_truth: Path
    spike_day: date | None = field(default=None)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")
