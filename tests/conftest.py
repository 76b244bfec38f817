"""Shared fixtures: an isolated estore environment (bucket folder, DuckDB file, DAGSTER_HOME)
per test, and small helpers to write REES46-format files."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dagster_project.lib.ingest.schema import EXPECTED_HEADER
from dagster_project.lib.settings import Settings

SHARED_DATA = Path(__file__).resolve().parent / "fixtures" / "rees46"
REAL_SAMPLES = sorted(SHARED_DATA.glob("*.csv"))


@dataclass
class EstoreEnv:
    settings: Settings

    @property
    def landing(self) -> Path:
        return Path(self.settings.bucket) / self.settings.landing_prefix

    def drop(self, name: str, lines: Iterable[str] | bytes, *, age_seconds: float = 60) -> Path:
        """Write a file into the landing folder, aged past the settle time."""
        path = self.landing / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = lines if isinstance(lines, bytes) else ("\n".join(lines) + "\n").encode()
        if name.endswith(".gz") and not data.startswith(b"\x1f\x8b"):
            data = gzip.compress(data)
        path.write_bytes(data)
        age(path, age_seconds)
        return path


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def python_stdout(script: str) -> str:
    """What `script` prints in a new Python process (a disk cache's second process, say)."""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def csv_lines(*rows: str, header: str = EXPECTED_HEADER) -> list[str]:
    return [header, *rows]


def event_row(
    when: str = "2019-10-01 10:00:00",
    event_type: str = "view",
    product_id: int | str = 1003461,
    price: str = "489.07",
    user_id: int | str = 520088904,
    session: str = "4d3b30da-a5e4-49df-b1a8-ba5943f1dd33",
    category_code: str = "electronics.smartphone",
    brand: str = "xiaomi",
) -> str:
    return (
        f"{when} UTC,{event_type},{product_id},2053013555631882655,{category_code},{brand},"
        f"{price},{user_id},{session}"
    )


@pytest.fixture
def estore_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> EstoreEnv:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("ESTORE_DATA_DIR", str(data_dir))
    for name in ("ESTORE_BUCKET", "ESTORE_DUCKDB_PATH", "ESTORE_LANDING_PREFIX", "ESTORE_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(data_dir / "dagster_home"))
    monkeypatch.setenv("ESTORE_SETTLE_SECONDS", "2")
    settings = Settings.from_env()
    for key, value in settings.dbt_env().items():
        monkeypatch.setenv(key, value)
    (Path(settings.bucket) / settings.landing_prefix).mkdir(parents=True)
    settings.dagster_home.mkdir(parents=True)
    return EstoreEnv(settings)


# Throwaway Dagster homes live in memory when the machine has a roomy tmpfs: their run and
# event databases then need no fsync (the GCS sensor test writes 3,000 runs: 48 -> 36 s; the
# thousand-file sensor test's home grows to ~125 MB, more than a container's default 64 MB
# /dev/shm). Durability itself is tested on disk, in the event-log tests.
def _scratch_dir(path: Path = Path("/dev/shm"), needed_bytes: int = 1 << 30) -> str | None:
    return str(path) if path.is_dir() and shutil.disk_usage(path).free >= needed_bytes else None


SCRATCH_DIR = _scratch_dir()


@pytest.fixture
def scratch_home() -> Iterator[Path]:
    """An empty DAGSTER_HOME folder, removed afterwards."""
    with tempfile.TemporaryDirectory(dir=SCRATCH_DIR, prefix="estore-test-") as home:
        yield Path(home)


@pytest.fixture
def instance(scratch_home: Path):
    """A throwaway Dagster instance (test files that need estore's event log define their own)."""
    import dagster as dg

    with dg.instance_for_test(temp_dir=str(scratch_home)) as instance:
        yield instance


# Browsers the page tests can drive: Debian's chromium, else the Chrome GitHub's runners ship.
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path() -> Path:
    """A headless-capable Chromium: installed with apt-get when missing and we are root. Without
    one the test skips, saying why, except on GitHub's runners (which ship Chrome), where a skip
    would hide a check."""
    found = next(filter(None, map(shutil.which, BROWSERS)), None)
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        install = ["apt-get", "install", "-y", "-q", "chromium"]
        if subprocess.run(install, capture_output=True).returncode != 0:  # stale package lists
            subprocess.run(["apt-get", "update", "-q"], capture_output=True)
            subprocess.run(install, capture_output=True)
        found = shutil.which("chromium")
    if found is None:
        message = "no Chromium or Chrome found (apt-get install chromium)"
        if os.environ.get("GITHUB_ACTIONS") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return Path(found)


# Headless Chromium as the browser tests run it: no network of its own (this machine has none),
# a fresh profile per test passed separately.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
