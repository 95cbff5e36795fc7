"""Signalling processes we started, by pid, without trusting that the pid is still ours."""

import contextlib
import os
import signal
import time
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """True when the process exists and is not a zombie.

    Servers we spawn are reparented when their parent exits, and the init of this machine may
    not reap them, so `kill(pid, 0)` alone would report dead servers as alive.
    """
    _reap(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # The state letter follows the command name, which is in parentheses and may hold spaces.
    state = stat.rpartition(")")[2].split()[0]
    return state not in ("Z", "X")


def cmdline(pid: int) -> str:
    """The command line of a process, arguments separated by spaces ('' when it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait until the processes have exited; return those still alive after `timeout`."""
    deadline = time.monotonic() + timeout
    alive = [pid for pid in pids if pid_alive(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [pid for pid in alive if pid_alive(pid)]
    return alive


def terminate(pids: list[int], timeout: float = 10.0) -> None:
    """SIGTERM the processes, give them `timeout` seconds to finish, then SIGKILL them."""
    for pid in pids:
        send(pid, signal.SIGTERM)
    leftovers = wait_gone(pids, timeout)
    for pid in leftovers:
        send(pid, signal.SIGKILL)
    wait_gone(leftovers, 5.0)


def send(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _reap(pid: int) -> None:
    # Our own children stay zombies until waited for; reap them so they read as dead.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
