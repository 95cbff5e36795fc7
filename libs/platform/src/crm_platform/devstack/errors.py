"""The error the launcher raises when a part of the stack will not start or stop."""

import sys
from pathlib import Path

from crm_platform.testing.postgres import tail


class StackError(RuntimeError):
    def __init__(self, message: str, log_file: Path | None = None) -> None:
        self.message = message
        self.log_file = log_file
        detail = f"\n--- end of {log_file} ---\n{tail(log_file)}" if log_file else ""
        super().__init__(message + detail)


def reported_failure(message: str, log_file: Path) -> StackError:
    error = StackError(message, log_file)
    # Printed here too: callers such as pytest may show only the first line of an error.
    print(error, file=sys.stderr, flush=True)
    return error
