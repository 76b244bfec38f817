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

        report = generate(config, progress=on_progress)
    console.print(
        f"Generated {report.rows:,} events for {report.users:,} users in {len(report.files)} "
        f"files ({report.bytes / 1e6:,.1f} MB) in {report.seconds:.1f}s "
        f"({report.rows_per_second / 1e6:.2f}M rows/s) -> {config.output_dir / config.prefix}"
    )
