"""Pytest fixtures that start real PostgreSQL and NATS servers on demand.

Registered for every run by `-p crm_platform.testing.plugin`, so importing this module must
stay cheap and start nothing: servers start when a test first asks for them, once per session.
"""

import atexit
import shutil
import signal
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import FrameType

import pytest
import pytest_asyncio

from crm_platform.testing.nats import NatsServer
from crm_platform.testing.ports import free_port
from crm_platform.testing.postgres import PostgresServer

_cleanups: list[Callable[[], None]] = []
_guard_installed = False


def make_state_dir(prefix: str) -> Path:
    """A fresh temporary directory the unprivileged PostgreSQL user can traverse.

    mkdtemp creates it 0700; as root, PostgreSQL runs as nobody and must reach inside it.
    """
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def _run_cleanups() -> None:
    while _cleanups:
        cleanup = _cleanups.pop()
        try:
            cleanup()
        except Exception as exc:  # one failed cleanup must not leave the other server running
            print(f"crm_platform.testing: cleanup failed: {exc!r}")


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Pytest turns KeyboardInterrupt into an orderly end of session with fixture teardown;
    # the default SIGTERM action would exit at once and leave the servers running.
    raise KeyboardInterrupt


def register_cleanup(cleanup: Callable[[], None]) -> None:
    """Run `cleanup` at exit, and turn SIGTERM into an orderly pytest shutdown."""
    global _guard_installed
    _cleanups.append(cleanup)
    if _guard_installed:
        return
    _guard_installed = True
    atexit.register(_run_cleanups)
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    ):
        signal.signal(signal.SIGTERM, _on_sigterm)


def once(action: Callable[[], None]) -> Callable[[], None]:
    """`action` guarded to run at most once (teardown and atexit both call it)."""
    done = False

    def run() -> None:
        nonlocal done
        if not done:
            done = True
            action()

    return run


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    root = make_state_dir("crm-test-pg-")
    server = PostgresServer(root / "data", free_port())

    def cleanup() -> None:
        try:
            server.stop("immediate")
        finally:
            if server.is_running():
                server.kill()
            shutil.rmtree(root, ignore_errors=True)

    cleanup = once(cleanup)
    register_cleanup(cleanup)
    try:
        server.start()
        yield server
    finally:
        cleanup()


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    root = make_state_dir("crm-test-nats-")
    server = NatsServer(root / "store", free_port(), free_port())

    def cleanup() -> None:
        try:
            server.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)

    cleanup = once(cleanup)
    register_cleanup(cleanup)
    try:
        server.start()
        yield server
    finally:
        cleanup()


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    # Fault tests stop or kill the shared server; the next test gets it back, same store.
    nats_server.start()
    return nats_server.url


@pytest_asyncio.fixture(loop_scope="session")
async def database_url(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """A fresh database per test, owned by its own non-superuser role, as a service's is."""
    if not postgres_server.is_running():
        postgres_server.start()  # a fault test stopped or killed it
    name = f"test_{uuid.uuid4().hex[:16]}"
    password = uuid.uuid4().hex
    await postgres_server.create_database(name, owner=name, password=password)
    try:
        yield postgres_server.url(name, user=name, password=password)
    finally:
        if postgres_server.is_running():
            await postgres_server.drop_database(name, drop_role=name)


__all__ = [
    "database_url",
    "make_state_dir",
    "nats_server",
    "nats_url",
    "once",
    "postgres_server",
    "register_cleanup",
]
