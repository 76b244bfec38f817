"""Where a pass spent its time, read back from the run log `estore run` writes (data/logs):
the load step, and for each dbt call the Dagster step, dbt start-up and parse, every model
(with its microbatch batches) and the tests."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

_STAMP = "%Y-%m-%d %H:%M:%S"
_RUN_START = re.compile(r"dagster - \w+ - (\S+) - \S+ - .*RUN_START")
_STEP_DONE = re.compile(r'STEP_SUCCESS - Finished execution of step "(\S+)" in (\S+?)\.?$')
_DURATION = re.compile(r"(?:(\d+)m)?(?:([\d.]+)s)?(?:([\d.]+)ms)?$")
_DBT_COMMAND = re.compile(r"Running dbt command: `\S+ (\w+)")
_DBT_TOTAL = re.compile(r"Finished running .* in .*\(([\d.]+)s\)")
_MODEL_DONE = re.compile(r"OK (?:created (?:sql )?\S+ model|snapshotted) (\S+) .*in ([\d.]+)s")
_BATCH_DONE = re.compile(r"Batch \d+ of \d+ OK created batch \S+ of (\S+) .*in ([\d.]+)s")
_TEST_DONE = re.compile(r"\d+ of \d+ (?:PASS|WARN|FAIL) \S+ .*in ([\d.]+)s")


@dataclass
class DbtCall:
    job: str
    command: str
    step_seconds: float = 0.0  # the Dagster step: dbt start-up, parse, SQL, event handling
    dbt_seconds: float = 0.0  # dbt's own "Finished running ... (Xs)": models and tests only
    tests_seconds: float = 0.0
    tests: int = 0
    models: dict[str, float] = field(default_factory=dict)
    batches: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    @property
    def overhead_seconds(self) -> float:
        """Start-up, parse and Dagster's event handling: what a call costs beyond its SQL."""
        return max(self.step_seconds - self.dbt_seconds, 0.0)


@dataclass
class PassLog:
    load_seconds: float = 0.0
    runs: int = 0
    calls: list[DbtCall] = field(default_factory=list)
    first: datetime | None = None
    last: datetime | None = None

    @property
    def dagster_span_seconds(self) -> float:
        return (self.last - self.first).total_seconds() if self.first and self.last else 0.0


def _seconds(text: str) -> float:
    """Dagster's durations: 850ms, 34.5s, 1m13s."""
    match = _DURATION.match(text)
    if not match:
        return 0.0
    minutes, seconds, millis = match.groups()
    return int(minutes or 0) * 60 + float(seconds or 0) + float(millis or 0) / 1000


def parse_pass_log(path: Path, since: int = 0) -> PassLog:
    """The pass written after byte offset `since` of the log (the log is appended to)."""
    result = PassLog()
    call: DbtCall | None = None
    with path.open("r", errors="replace") as log:
        log.seek(since)
        for line in log:
            line = line.rstrip()
            if line[:4].isdigit() and " - dagster - " in line:
                stamp = datetime.strptime(line[:19], _STAMP)
                result.first = result.first or stamp
                result.last = stamp
            if _RUN_START.search(line):
                result.runs += 1
            if match := _DBT_COMMAND.search(line):
                job = line.split(" - ")[3] if line.count(" - ") > 3 else "?"
                call = DbtCall(job=job, command=match.group(1))
                result.calls.append(call)
            elif match := _STEP_DONE.search(line):
                seconds = _seconds(match.group(2))
                if match.group(1) == "ingest_file":
                    result.load_seconds += seconds
                elif call is not None and not call.step_seconds:
                    call.step_seconds = seconds
            elif call is None:
                continue
            elif match := _BATCH_DONE.search(line):
                call.batches[match.group(1)].append(float(match.group(2)))
            elif match := _MODEL_DONE.search(line):
                call.models[match.group(1)] = float(match.group(2))
            elif match := _TEST_DONE.search(line):
                call.tests_seconds += float(match.group(1))
                call.tests += 1
            elif match := _DBT_TOTAL.search(line):
                call.dbt_seconds = float(match.group(1))
    return result


def breakdown_rows(log: PassLog) -> list[tuple[str, float, str]]:
    """(what, seconds, detail) rows for a table."""
    rows: list[tuple[str, float, str]] = [("raw load (ingest steps)", log.load_seconds, "")]
    for call in log.calls:
        models = sum(call.models.values())
        rows.append(
            (
                f"{call.job}: dbt {call.command}",
                call.step_seconds,
                f"SQL {models:.1f}s + tests {call.tests_seconds:.1f}s ({call.tests}) "
                f"+ start-up/parse/Dagster {call.overhead_seconds:.1f}s",
            )
        )
        for name, seconds in sorted(call.models.items(), key=lambda kv: -kv[1])[:6]:
            batches = call.batches.get(name)
            detail = (
                f"{len(batches)} batches, {sum(batches) / len(batches):.2f}s each"
                if batches
                else ""
            )
            rows.append((f"    {name.split('.')[-1]}", seconds, detail))
    return rows
