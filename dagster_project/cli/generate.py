"""`estore generate`: the generator with a progress bar."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from dagster_project.lib.ingest.bucket import is_data_object
from dagster_project.lib.settings import Settings


def landing_has_data(settings: Settings) -> bool:
    landing = Path(settings.bucket) / settings.landing_prefix
    return landing.exists() and any(is_data_object(p.name) for p in landing.rglob("*"))


def run_generate(args: argparse.Namespace, settings: Settings, console: Console) -> None:
    from dagster_project.generator import GeneratorConfig, generate

    bucket = args.bucket or settings.bucket
    if bucket.startswith("gs://"):
        raise SystemExit(
            "estore generate writes to a local folder; upload it with gcloud storage cp"
        )
    truth = Path(bucket) / "ground_truth" / "users.parquet"
    append = getattr(args, "append_truth", False)
    replace = getattr(args, "regenerate", False)
    if truth.exists() and not (append or replace):
        raise SystemExit(
            f"{truth} already holds the ground truth of an earlier data set: not replacing it. "
            "Use --append-truth to add this data set's users to it, or delete it (or `make "
            "clean`) to start over."
        )
    kept = _set_aside(truth) if append and truth.exists() else None
    config = GeneratorConfig(
        output_dir=Path(bucket),
        prefix=args.prefix or settings.landing_prefix,
        start_date=args.start,
        days=args.days,
        events=args.events,
        target_bytes=args.size,
        seed=args.seed,
        file_per=args.per,
        compression="gzip" if args.gzip else "none",
    )
    with Progress(
        TextColumn("[bold]generating events"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} rows"),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("generate", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            report = generate(config, progress=on_progress)
        finally:
            if kept is not None:
                added = _append_truth(kept, truth)
                console.print(f"Ground truth: {added:,} new users appended to {truth}")
    console.print(
        f"Generated {report.rows:,} events for {report.users:,} users in {len(report.files)} "
        f"files ({report.bytes / 1e6:,.1f} MB) in {report.seconds:.1f}s "
        f"({report.rows_per_second / 1e6:.2f}M rows/s) -> {config.output_dir / config.prefix}"
    )


def _set_aside(truth: Path) -> Path:
    kept = truth.with_name(truth.name + ".previous")
    truth.replace(kept)
    return kept


def _append_truth(kept: Path, truth: Path) -> int:
    """Old rows stay as they were; users the new data set adds are appended (a user id already
    known keeps its first traits). Written atomically; returns the number of users added."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    old = pq.read_table(kept)
    if not truth.exists():  # generation failed: put the old file back
        kept.replace(truth)
        return 0
    new = pq.read_table(truth)
    fresh = new.filter(pc.invert(pc.is_in(new["user_id"], value_set=old["user_id"])))
    merged = pa.concat_tables([old, fresh.select(old.schema.names).cast(old.schema)])
    temporary = truth.with_name(truth.name + ".tmp")
    pq.write_table(merged, temporary, compression="zstd")
    temporary.replace(truth)
    kept.unlink()
    return fresh.num_rows
