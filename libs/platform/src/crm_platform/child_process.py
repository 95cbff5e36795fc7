"""A background worker run in a process of its own: CPU-bound work (an import's parsing,
validation and row building) gets a core instead of sharing the service's one interpreter
lock with its RPCs, outbox relay and consumers.

`ChildProcess` is one of the service's background workers: `run()` starts the child and
starts it again when it dies, `stop()` asks it to end (SIGTERM, then SIGKILL after a grace
period), by its PID. The child ends itself when its parent is gone, so a service killed
outright leaves no worker behind. Whatever the child does must survive it being stopped
anywhere, as work in the service process must."""

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess

log = logging.getLogger(__name__)

# A fresh interpreter: a fork would copy the parent's event loop, threads and connections.
_SPAWN = multiprocessing.get_context("spawn")
_PARENT_CHECK_SECONDS = 0.5


class ChildProcess:
    def __init__(
        self,
        target: Callable[..., None],
        *args: object,
        name: str,
        restart_pause: float = 1.0,
        stop_grace: float = 8.0,
    ) -> None:
        """`target(*args)` runs in the child: a module-level function (it is imported
        there by name) with picklable arguments, that returns once SIGTERM asks it to."""
        self._target = target
        self._args = args
        self._name = name
        self._restart_pause = restart_pause
        self._stop_grace = stop_grace
        self._stopping = asyncio.Event()
        self._process: BaseProcess | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        self._stopping.clear()
        while not self._stopping.is_set():
            process = _SPAWN.Process(
                target=_child, args=(self._target, self._args, os.getpid()), name=self._name
            )
            await asyncio.to_thread(process.start)
            self._process = process
            log.info("%s started", self._name, extra={"pid": process.pid})
            await self._until_ended(process)
            if not self._stopping.is_set():
                log.error("%s ended with exit code %s", self._name, process.exitcode)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self._restart_pause)

    async def _until_ended(self, process: BaseProcess) -> None:
        ended = asyncio.ensure_future(_ended(process))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({ended, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not ended.done():
                process.terminate()
                try:
                    await asyncio.wait_for(asyncio.shield(ended), self._stop_grace)
                except TimeoutError:
                    log.warning("%s ignored SIGTERM; killing it", self._name)
                    process.kill()
                    await ended
        finally:
            stopping.cancel()
            if not ended.done():  # we are cancelled ourselves: do not leave it running
                process.kill()
                ended.cancel()
            process.join(timeout=1)


async def _ended(process: BaseProcess) -> None:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    sentinel = process.sentinel

    def readable() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(sentinel, readable)
    try:
        await done
    finally:
        loop.remove_reader(sentinel)


def _child(target: Callable[..., None], args: tuple[object, ...], parent: int) -> None:
    threading.Thread(target=_end_with, args=(parent,), daemon=True).start()
    target(*args)


def _end_with(parent: int) -> None:
    """SIGTERM ourselves once the parent is gone (we are handed to another process)."""
    while os.getppid() == parent:
        time.sleep(_PARENT_CHECK_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)
