"""The streaming driver: sessions -> event blocks -> time-ordered chunks -> files.

Sessions are processed in start-time order, a day (or a slice of a busy day) at a time. Events of
a block that happen after the next block's first session start (sessions last minutes, and may
cross midnight) are carried into the next block, so every emitted chunk is final and in time order
and memory stays bounded by the block size. Rendering and writing run in one background thread,
overlapping with the generation of the next block (numpy and pyarrow release the GIL).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from .behaviour import expand_sessions
from .catalog import Catalog, build_catalog
from .config import HEADER, GenerateReport, GeneratorConfig
from .events import Events
from .formatting import Formatter
from .params import ModelParams
from .population import Population, build_population, expected_events_per_session
from .quirks import add_duplicates, blank_sessions
from .rand import rng_for
from .sink import AtomicFile, data_file_name, temporary_path
from .timeline import DAY, Timeline, build_timeline

DEFAULT_PARAMS = ModelParams()
MAX_BLOCK_SESSIONS = 250_000  # ~1.2M rows per block: bounds memory, keeps numpy efficient
MAX_PENDING_CHUNKS = 2  # chunks queued for the writer thread (backpressure)
GROUND_TRUTH_FILE = "users.parquet"

Progress = Callable[[int, int], None]


class _FileWriter:
    """Owns the output files; all its methods run in the single writer thread, in order."""

    def __init__(self, config: GeneratorConfig, formatter: Formatter):
        self.config = config
        self.formatter = formatter
        self.current: AtomicFile | None = None
        self.files: list[Path] = []
        self.bytes = 0

    def write(self, day: date, columns: dict[str, Any] | None) -> None:
        if self.current is None:
            name = data_file_name(day, self.config.file_per, self.config.compression)
            compress = self.config.compression == "gzip"
            self.current = AtomicFile(self.config.landing_dir / name, compress)
            self.current.write(HEADER.encode() + b"\n")
        if columns is not None:
            self.formatter.write_csv(columns, self.current.stream)

    def commit(self) -> None:
        if self.current is not None:
            self.bytes += self.current.commit()
            self.files.append(self.current.path)
            self.current = None

    def abort(self) -> None:
        if self.current is not None:
            self.current.abort()
            self.current = None


def _file_ends_after(day: date, next_day: date | None, file_per: str) -> bool:
    if next_day is None or file_per == "day":
        return True
    return (day.year, day.month) != (next_day.year, next_day.month)


def _stream_events(
    config: GeneratorConfig,
    params: ModelParams,
    timeline: Timeline,
    catalog: Catalog,
    population: Population,
    writer: _FileWriter,
    progress: Progress | None,
) -> int:
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rees46-writer")
    pending: deque[Future[None]] = deque()

    def submit(fn: Callable[..., None], *args: object) -> None:
        pending.append(pool.submit(fn, *args))
        while len(pending) > MAX_PENDING_CHUNKS:
            pending.popleft().result()  # re-raises writer errors here

    starts, users = population.session_start, population.session_user
    expected = max(1, int(population_expected_rows(population, catalog, params)))
    rows = 0
    carry = Events.empty()
    try:
        for d in range(timeline.days):
            day, day_start = timeline.date_of(d), timeline.day_start(d)
            day_end = day_start + DAY
            lo, hi = (int(i) for i in np.searchsorted(starts, [day_start, day_end]))
            prices = catalog.prices_on_day(d)
            n_blocks = max(1, -(-(hi - lo) // MAX_BLOCK_SESSIONS))
            edges = np.linspace(lo, hi, n_blocks + 1).astype(np.int64)
            for b in range(n_blocks):
                a, z = int(edges[b]), int(edges[b + 1])
                block = carry
                if z > a:
                    rng = rng_for(config.seed, "events", d, b)
                    fresh = expand_sessions(
                        a, starts[a:z], users[a:z], float(timeline.purchase_boost[d]),
                        prices, population, catalog, params, rng,
                    )  # fmt: skip
                    fresh = add_duplicates(blank_sessions(fresh, params, rng), params, rng)
                    block = Events.concat([carry, fresh]).sorted_by_time()
                # Later sessions start at or after `boundary`, so earlier events are final.
                boundary = int(starts[z]) if b < n_blocks - 1 else day_end
                ready, carry = block.split_at(boundary)
                # Columns are built here, rendering + I/O in the writer thread: balances the cores.
                columns = writer.formatter.columns(ready, day_start) if len(ready) else None
                submit(writer.write, day, columns)
                rows += len(ready)
                if progress is not None:
                    progress(rows, max(expected, rows))
            next_day = timeline.date_of(d + 1) if d + 1 < timeline.days else None
            if _file_ends_after(day, next_day, config.file_per):
                submit(writer.commit)
        # Whatever is still carried happens after the window: not part of the data set.
        while pending:
            pending.popleft().result()
    except BaseException:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)
        writer.abort()
        raise
    pool.shutdown(wait=True)
    if progress is not None:
        progress(rows, rows)
    return rows


def population_expected_rows(
    population: Population, catalog: Catalog, params: ModelParams
) -> float:
    per_session = expected_events_per_session(
        population.traits, population.fav_category, catalog, params
    )
    return float(np.sum(population.n_sessions * per_session))


def _write_ground_truth(config: GeneratorConfig, population: Population, catalog: Catalog) -> Path:
    path = config.ground_truth_dir / GROUND_TRUTH_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    table = population.ground_truth(catalog)
    # Dictionary-encode only the text columns: trying it on float traits is slow and useless.
    text = [f.name for f in table.schema if f.type == "string"]
    pq.write_table(table, tmp, compression="zstd", use_dictionary=text)
    tmp.replace(path)
    return path


def n_products_for(target_events: int, params: ModelParams) -> int:
    return int(
        np.clip(
            target_events // params.events_per_product, params.min_products, params.max_products
        )
    )


def generate(
    config: GeneratorConfig,
    progress: Progress | None = None,
    params: ModelParams = DEFAULT_PARAMS,
) -> GenerateReport:
    """Write a REES46-like data set as described by `config`; deterministic for a seed."""
    began = time.perf_counter()
    target = config.target_events
    catalog = build_catalog(config.seed, n_products_for(target, params), params)
    timeline = build_timeline(config.start_date, config.days, params)
    population = build_population(config.seed, target, timeline, params, catalog)
    writer = _FileWriter(config, Formatter(config.seed, catalog, population.user_id))
    rows = _stream_events(config, params, timeline, catalog, population, writer, progress)
    ground_truth = _write_ground_truth(config, population, catalog)
    return GenerateReport(
        files=writer.files,
        rows=rows,
        bytes=writer.bytes,
        seconds=time.perf_counter() - began,
        users=population.n_users,
        ground_truth=ground_truth,
        spike_day=timeline.spike_day,
    )
