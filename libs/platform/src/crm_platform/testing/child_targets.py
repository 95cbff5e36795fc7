"""Targets for ChildProcess tests: they leave marks in a directory for the test to read."""

import os
import signal
import time
from pathlib import Path


def mark_until_terminated(directory: str) -> None:
    """`<pid>.started`, then on SIGTERM `<pid>.stopped` and return."""
    marks = Path(directory)
    terminated = False

    def on_term(_signum: int, _frame: object) -> None:
        nonlocal terminated
        terminated = True

    signal.signal(signal.SIGTERM, on_term)
    (marks / f"{os.getpid()}.started").touch()
    while not terminated:
        time.sleep(0.02)
    (marks / f"{os.getpid()}.stopped").touch()


def fail_first_time(directory: str) -> None:
    """Exit with code 3 the first time; `mark_until_terminated` after that."""
    first = Path(directory) / "failed-once"
    if not first.exists():
        first.touch()
        raise SystemExit(3)
    mark_until_terminated(directory)
