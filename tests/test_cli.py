"""The `estore` console script as a user calls it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from conftest import EstoreEnv

ESTORE = str(Path(sys.executable).with_name("estore"))


def test_generate_writes_files_into_the_landing_prefix(estore_env: EstoreEnv):
    result = subprocess.run(
        [ESTORE, "generate", "--events", "20000", "--days", "3", "--start", "2019-11-15"],
        capture_output=True,
        text=True,
        check=True,
    )
    files = sorted(p.name for p in estore_env.landing.iterdir())
    assert files == ["2019-11-15.csv", "2019-11-16.csv", "2019-11-17.csv"]
    assert "rows/s" in result.stdout
    ground_truth = Path(estore_env.settings.bucket) / "ground_truth" / "users.parquet"
    assert ground_truth.exists()


def test_summary_on_an_empty_warehouse(estore_env: EstoreEnv):
    result = subprocess.run([ESTORE, "summary"], capture_output=True, text=True, check=True)
    assert "files loaded" in result.stdout


def test_parse_size():
    from dagster_project.cli.main import parse_size

    assert parse_size("2GB") == 2 * 10**9
    assert parse_size("500mb") == 500 * 10**6
    assert parse_size("1234") == 1234


def test_run_refuses_while_another_process_drives_the_warehouse(estore_env: EstoreEnv):
    from dagster_project.cli.instance import exclusive_lock

    with exclusive_lock(estore_env.settings, "the Dagster UI (make dev)"):
        strict = subprocess.run([ESTORE, "run", "--strict"], capture_output=True, text=True)
        plain = subprocess.run([ESTORE, "run"], capture_output=True, text=True)
    # Refused is never a success, --strict or not (issue 13.10), and says how to proceed.
    assert strict.returncode == plain.returncode == 2
    out = " ".join(plain.stdout.split())
    assert "the Dagster UI (make dev) (pid" in out
    assert "To proceed: let the UI do it" in out and "stop `make dev`" in out


def test_help_shows_every_option_with_its_default_uncut():
    """Issue 13.10: --start/--days/--seed/--host/--port/--workdir explained, defaults shown."""
    generate = subprocess.run(
        [ESTORE, "generate", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "80", "PATH": "/usr/bin:/bin"},
    ).stdout
    text = " ".join(generate.split())
    assert "first day (ISO) (default: 2019-10-01)" in text
    assert "number of days to generate (default: 60)" in text
    assert "(default: 42)" in text and "(default: None)" not in text
    assert all(len(line) <= 100 for line in generate.splitlines())
    dev = " ".join(
        subprocess.run([ESTORE, "dev", "--help"], capture_output=True, text=True).stdout.split()
    )
    assert "(default: 127.0.0.1)" in dev and "(default: 3000)" in dev
    bench = " ".join(
        subprocess.run([ESTORE, "bench", "--help"], capture_output=True, text=True).stdout.split()
    )
    assert "--workdir WORKDIR where to work (default: a temporary folder)" in bench


def test_generate_never_silently_replaces_ground_truth(estore_env: EstoreEnv):
    """Issue 13.4: a second data set refuses, or appends with --append-truth."""
    import pyarrow.parquet as pq

    first = [ESTORE, "generate", "--events", "5000", "--days", "2", "--start", "2019-10-01"]
    subprocess.run(first, capture_output=True, check=True)
    truth = Path(estore_env.settings.bucket) / "ground_truth" / "users.parquet"
    before = pq.read_table(truth)

    again = [ESTORE, "generate", "--events", "3000", "--days", "1", "--start", "2019-10-03"]
    refused = subprocess.run([*again, "--seed", "9"], capture_output=True, text=True)
    assert refused.returncode != 0
    assert "not replacing it" in refused.stderr and "--append-truth" in refused.stderr
    assert pq.read_table(truth).equals(before)
    assert not (estore_env.landing / "2019-10-03.csv").exists()

    appended = subprocess.run(
        [*again, "--seed", "9", "--append-truth"], capture_output=True, text=True, check=True
    )
    after = pq.read_table(truth)
    assert after.slice(0, before.num_rows).equals(before)  # old rows kept as they were
    assert after.num_rows > before.num_rows
    assert len(set(after["user_id"].to_pylist())) == after.num_rows
    assert "new users appended" in appended.stdout


def test_stopping_children_keeps_their_exit_status_for_their_owner():
    """Ctrl-C/SIGTERM stops child processes through `_stop_children` (dbt was one before it ran
    in-process); their owner then reads the exit status from its Popen. Reaping the child there
    made Popen report 0, so a stopped dbt build counted as a success (found by
    tests/test_crash_recovery.py)."""
    from dagster_project.cli.run import _stop_children

    # The child takes SIGTERM's default action whatever it inherited from this test process
    # (CI saw it die of the grace period's SIGKILL instead), and says when it is ready.
    program = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_DFL); "
        "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM}); "
        "print('ready', flush=True); time.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE)
    assert child.stdout.readline() == b"ready\n"
    _stop_children()
    # Killed by a signal, as the owner must see it (a reaped child reports 0).
    assert child.wait(timeout=10) in (-signal.SIGTERM, -signal.SIGKILL)
    child.stdout.close()


def test_a_finished_command_ends_at_once_yet_does_what_a_normal_exit_does(tmp_path: Path):
    """`estore` skips the interpreter's teardown once a command is done (cli/process_exit.py):
    its exit status, buffered output, exit handlers and running threads must not be lost."""
    marker = tmp_path / "marker"
    program = (
        "import atexit, sys, threading, time\n"
        "from dagster_project.cli.process_exit import finish\n"
        f"marker = open({str(marker)!r}, 'a', buffering=1)\n"
        "atexit.register(lambda: marker.write('exit handler\\n'))\n"
        "def late():\n"
        "    time.sleep(0.5)\n"
        "    marker.write('thread\\n')\n"
        "threading.Thread(target=late).start()\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "pool = ThreadPoolExecutor(1)  # kept, never shut down\n"
        "pool.submit(time.sleep, 0.1)\n"
        "sys.stdout.write('buffered, no newline')\n"
        "finish(3)\n"
        "marker.write('after finish\\n')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3
    assert done.stdout == "buffered, no newline"  # a pipe is block-buffered: flushed by finish
    assert marker.read_text() == "thread\nexit handler\n"  # the thread first, as Python does


def test_exit_codes_are_the_ones_sys_exit_gives(capsys):
    from dagster_project.cli.process_exit import exit_code

    assert exit_code(None) == 0
    assert exit_code(2) == 2
    assert exit_code("warehouse busy") == 1
    assert capsys.readouterr().err == "warehouse busy\n"
