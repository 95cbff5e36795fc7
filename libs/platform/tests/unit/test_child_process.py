"""ChildProcess: started, restarted when it dies, stopped with SIGTERM, and gone with its
parent. Real processes; the targets leave marks in a directory."""

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from crm_platform.child_process import ChildProcess
from crm_platform.testing.child_targets import fail_first_time, mark_until_terminated


async def _marks(directory: Path, suffix: str, count: int) -> list[int]:
    for _ in range(500):
        found = sorted(int(p.stem) for p in await asyncio.to_thread(directory.glob, f"*.{suffix}"))
        if len(found) >= count:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"{count} {suffix} marks expected, found {found}")


async def test_the_child_runs_until_stopped_then_ends_on_sigterm(tmp_path: Path) -> None:
    worker = ChildProcess(mark_until_terminated, str(tmp_path), name="test-child")
    running = asyncio.create_task(worker.run())
    [pid] = await _marks(tmp_path, "started", 1)
    assert pid == worker.pid != os.getpid()
    worker.stop()
    await asyncio.wait_for(running, 10)
    assert await _marks(tmp_path, "stopped", 1) == [pid]


async def test_a_child_that_dies_is_started_again(tmp_path: Path) -> None:
    worker = ChildProcess(fail_first_time, str(tmp_path), name="test-child", restart_pause=0.05)
    running = asyncio.create_task(worker.run())
    [pid] = await _marks(tmp_path, "started", 1)
    assert (tmp_path / "failed-once").exists()  # the first child exited before marking
    worker.stop()
    await asyncio.wait_for(running, 10)
    assert await _marks(tmp_path, "stopped", 1) == [pid]


_PARENT = """
import asyncio, sys
from crm_platform.child_process import ChildProcess
from crm_platform.testing.child_targets import mark_until_terminated

if __name__ == "__main__":
    asyncio.run(ChildProcess(mark_until_terminated, sys.argv[1], name="orphan").run())
"""


async def test_a_child_ends_itself_when_its_parent_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(_PARENT)
    marks = tmp_path / "marks"
    marks.mkdir()
    parent = await asyncio.create_subprocess_exec(sys.executable, str(script), str(marks))
    try:
        [child] = await _marks(marks, "started", 1)
        parent.send_signal(signal.SIGKILL)
        await asyncio.wait_for(parent.wait(), 10)
        assert await _marks(marks, "stopped", 1) == [child]
        assert await asyncio.to_thread(_gone, child)
    finally:
        if parent.returncode is None:
            parent.kill()
            await asyncio.wait_for(parent.wait(), 10)


def _gone(pid: int) -> bool:
    """Ended: no such process, or a zombie its new parent has not reaped yet."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False
